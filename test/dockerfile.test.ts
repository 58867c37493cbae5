// The Dockerfile generator on a prepared source tree (src/preview/dockerfile.ts): the
// real @flydotio/dockerfile where its output matters, and small stand-in scripts where
// the test is about what the process was given (its environment, the network, a limit).
import { createServer, type Server } from "node:net";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DockerfileGenerationFailed,
  generateDockerfile,
  generatorEnv,
  networkIsolation,
  packageJsonProblem,
  type GenerateOptions,
} from "../src/preview/dockerfile.js";

const PACKAGE_JSON = JSON.stringify({ name: "demo", version: "1.0.0", scripts: { start: "node index.js" } }, null, 2);

let dir: string;
let root: string;
let outside: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dockerfile-test-"));
  root = join(dir, "repo");
  outside = join(dir, "outside");
  await mkdir(root);
  await mkdir(outside);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(tree: Record<string, string>, at = root): Promise<void> {
  for (const [path, text] of Object.entries(tree)) {
    await mkdir(join(at, path, ".."), { recursive: true });
    await writeFile(join(at, path), text);
  }
}

const generate = (over: Partial<GenerateOptions> = {}) => generateDockerfile({ root, config: { dockerfile: "Dockerfile", context: "." }, ...over });

async function failure(over: Partial<GenerateOptions> = {}): Promise<DockerfileGenerationFailed> {
  const error = await generate(over).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DockerfileGenerationFailed);
  return error as DockerfileGenerationFailed;
}

/** A stand-in for the generator's CLI. */
async function script(body: string): Promise<string> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(file, body);
  return file;
}

describe("a Dockerfile for a Node.js project without one", () => {
  it("is written by Fly's generator where flyctl looks for it, leaving package.json as it was", async () => {
    await files({ "package.json": PACKAGE_JSON, "index.js": "require('http').createServer().listen(3000)\n" });
    const made = await generate();
    expect(made.path).toBe("Dockerfile");
    expect(made.text).toMatch(/^# syntax = docker\/dockerfile:1\n/);
    expect(made.text).toContain("FROM node:${NODE_VERSION}-slim AS base");
    expect(made.text).toContain('CMD [ "npm", "run", "start" ]');
    expect(await readFile(join(root, "Dockerfile"), "utf8")).toBe(made.text);
    expect(made.created).toEqual([".dockerignore"]);
    expect(await readFile(join(root, "package.json"), "utf8")).toBe(PACKAGE_JSON);
    expect((await readdir(root)).sort()).toEqual([".dockerignore", "Dockerfile", "index.js", "package.json"]);
  });

  it("keeps the files the project has (no overwrite, and never a prompt)", async () => {
    await files({ "package.json": PACKAGE_JSON, ".dockerignore": "node_modules\n" });
    const made = await generate();
    expect(made.created).toEqual([]);
    expect(await readFile(join(root, ".dockerignore"), "utf8")).toBe("node_modules\n");
  });

  it("is generated in the build context and put at the default dockerfile path, which the fly.toml names", async () => {
    await files({ "web/package.json": PACKAGE_JSON });
    const made = await generate({ config: { dockerfile: "Dockerfile", context: "web" } });
    expect(made.path).toBe("Dockerfile");
    expect(await readFile(join(root, "Dockerfile"), "utf8")).toBe(made.text);
    expect(existsSync(join(root, "web", "Dockerfile"))).toBe(false);
    expect(made.created).toEqual([".dockerignore"]);
    expect(existsSync(join(root, "web", ".dockerignore"))).toBe(true);
  });

  it("is not generated when the build context has a Dockerfile .preview.yml does not name: the message names it", async () => {
    await files({ "web/package.json": PACKAGE_JSON, "web/Dockerfile": "FROM scratch\n" });
    const error = await failure({ config: { dockerfile: "Dockerfile", context: "web" } });
    expect(error.message).toBe(
      'dockerfile: "Dockerfile" does not exist in the repository at this commit, but "web/Dockerfile" does: name it with dockerfile: web/Dockerfile in .preview.yml',
    );
    expect(await readFile(join(root, "web", "Dockerfile"), "utf8")).toBe("FROM scratch\n");
  });
});

describe("a project the generator is not run on", () => {
  it("without a package.json: the message names the path looked for, the stacks generated for, and what to do", async () => {
    await files({ "requirements.txt": "flask\n", "app.py": "print('hi')\n" });
    const error = await failure();
    expect(error.message).toBe(
      'dockerfile: "Dockerfile" does not exist in the repository at this commit, and fly-preview generates a Dockerfile only for a Node.js project ' +
        "(a package.json in the build context, the repository's root). Commit a Dockerfile at \"Dockerfile\", or name yours with dockerfile: in .preview.yml",
    );
    // No generator to suggest for a Python project.
    expect(error.suggest).toBeUndefined();
    expect(existsSync(join(root, "Dockerfile"))).toBe(false);
  });

  it("with a package.json that is not JSON: refused before the generator runs, which would print a stack trace", async () => {
    await files({ "package.json": '{"name": "demo",' });
    const error = await failure();
    expect(error.message).toMatch(/^dockerfile: "Dockerfile" does not exist in the repository at this commit, and fly-preview did not generate one: "package.json" is not valid JSON \(/);
    expect(error.suggest).toEqual({ context: ".", output: [] });
    expect(existsSync(join(root, "Dockerfile"))).toBe(false);
  });

  it("with a package.json over 1 MiB", async () => {
    await files({ "package.json": JSON.stringify({ name: "demo", description: "x".repeat(1024 * 1024) }) });
    expect((await failure()).message).toContain('"package.json" is larger than 1 MiB');
  });

  it("with instructions (options a local run saved) that name a file outside the build context: its text would land in the check run", async () => {
    await writeFile(join(outside, "secret.txt"), "RUN echo the server's secret\n");
    await files({ "package.json": JSON.stringify({ name: "demo", dockerfile: { instructions: { base: "../outside/secret.txt" } } }) });
    const error = await failure();
    expect(error.message).toContain('"package.json" names a file outside the build context in dockerfile.instructions.base');
    expect(existsSync(join(root, "Dockerfile"))).toBe(false);
  });

  it("but instructions inside the build context are used, as a local run would", async () => {
    await files({ "package.json": JSON.stringify({ name: "demo", dockerfile: { instructions: { deploy: "docker/extra" } } }), "docker/extra": "RUN echo extra step\n" });
    expect((await generate()).text).toContain("RUN echo extra step");
  });
});

describe("symlinks the generator would write through", () => {
  // source.ts refuses symlinks that leave the repository; these trees skip it, to show
  // that the generator step does not lean on that alone.
  it.each([
    ["Dockerfile", "a file that does not exist yet"],
    [".dockerignore", "a file that does not exist yet"],
    ["docker-entrypoint.js", "a file that does not exist yet"],
    ["package.json", "an existing file"],
    ["svelte.config.js", "an existing file"],
  ])("refuses a %s pointing outside (%s), and writes nothing there", async (name, what) => {
    const target = join(outside, "target");
    if (what === "an existing file") await writeFile(target, name === "package.json" ? PACKAGE_JSON : "export default {}\n");
    if (name !== "package.json") await files({ "package.json": PACKAGE_JSON });
    await symlink(target, join(root, name));
    const error = await failure();
    expect(error.message).toContain(`"${name}" is a symlink, and the generator would write through it`);
    expect(await readdir(outside)).toEqual(what === "an existing file" ? ["target"] : []);
    // existsSync follows the link: nothing was written at its end.
    expect(existsSync(join(root, "Dockerfile"))).toBe(false);
    expect((await lstat(join(root, name))).isSymbolicLink()).toBe(true);
  });

  it("refuses a build context that leads outside the repository", async () => {
    await files({ "package.json": PACKAGE_JSON }, outside);
    await symlink(outside, join(root, "web"));
    const error = await failure({ config: { dockerfile: "Dockerfile", context: "web" } });
    expect(error.message).toContain('the build context "web" is not a folder of the repository');
    expect(await readdir(outside)).toEqual(["package.json"]);
  });

  it("refuses a folder where the Dockerfile goes", async () => {
    await files({ "package.json": PACKAGE_JSON, "Dockerfile/README": "not a Dockerfile\n" });
    expect((await failure()).message).toContain('"Dockerfile" is a folder or a symlink to nothing, not a Dockerfile');
  });
});

describe("the generator's process", () => {
  it("gets none of the server's environment, no tools on PATH, and no network where this machine can take it away", async () => {
    await files({ "package.json": PACKAGE_JSON });
    const server: Server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    process.env.FLY_PREVIEW_TEST_SENTINEL = "sentinel-value";
    try {
      const reporter = await script(`
        import fs from "node:fs";
        import net from "node:net";
        const connected = await new Promise((resolve) => {
          const socket = net.connect(${port}, "127.0.0.1", () => { socket.destroy(); resolve(true); });
          socket.on("error", () => resolve(false));
        });
        const pathEntries = fs.readdirSync(process.env.PATH);
        fs.writeFileSync("Dockerfile", JSON.stringify({ env: process.env, cwd: process.cwd(), argv: process.argv.slice(2), connected, pathEntries }));
      `);
      const made = await generate({ script: reporter });
      const seen = JSON.parse(made.text) as { env: Record<string, string>; cwd: string; argv: string[]; connected: boolean; pathEntries: string[] };
      expect(Object.keys(seen.env).sort()).toEqual(Object.keys(generatorEnv("/home")).sort());
      expect(JSON.stringify(seen.env)).not.toContain("sentinel-value");
      expect(seen.env.PATH).toBe(join(seen.env.HOME!, "bin"));
      expect(seen.pathEntries).toEqual([]);
      expect(seen.env.HOME!.startsWith(root)).toBe(false);
      expect(seen.cwd).toBe(root);
      expect(seen.argv).toEqual(["--skip"]);
      // Connecting to this machine works only where no network namespace could be made.
      expect(made.networkIsolated).toBe((await networkIsolation()) !== undefined);
      expect(seen.connected).toBe(!made.networkIsolated);
    } finally {
      delete process.env.FLY_PREVIEW_TEST_SENTINEL;
      server.close();
    }
  });

  it("is killed, with what it started, at the time limit", async () => {
    await files({ "package.json": PACKAGE_JSON });
    const pidFile = join(dir, "child.pid");
    const hang = await script(`
      import { spawn } from "node:child_process";
      import fs from "node:fs";
      const child = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });
      fs.writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
      console.log("thinking");
      setInterval(() => {}, 1000);
    `);
    const started = Date.now();
    const error = await failure({ script: hang, timeoutMs: 1_000 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.message).toContain("Fly's Dockerfile generator failed to write one: it did not finish within 1 s (last line: thinking)");
    const child = Number(await readFile(pidFile, "utf8"));
    await expect.poll(() => alive(child), { timeout: 5_000 }).toBe(false);
  });

  it("fails with the end of its output, this server's paths replaced", async () => {
    await files({ "package.json": PACKAGE_JSON });
    const crash = await script(`
      for (let i = 1; i <= 60; i++) console.log("line " + i);
      console.error("Error: cannot read " + process.cwd() + "/prisma/schema.prisma");
      process.exit(3);
    `);
    const error = await failure({ script: crash });
    expect(error.message).toContain("it exited with code 3 (last line: Error: cannot read ./prisma/schema.prisma)");
    expect(error.suggest?.context).toBe(".");
    expect(error.suggest?.output).toHaveLength(40);
    expect(error.suggest?.output.at(-1)).toBe("Error: cannot read ./prisma/schema.prisma");
    expect(error.suggest?.output.join("\n")).not.toContain(root);
  });

  it("is stopped when it prints more than 1 MB", async () => {
    await files({ "package.json": PACKAGE_JSON });
    const flood = await script(`
      import fs from "node:fs";
      const line = "x".repeat(1000) + "\\n";
      for (let i = 0; i < 2000; i++) process.stdout.write(line);
      fs.writeFileSync("Dockerfile", "FROM node\\n");
    `);
    const error = await failure({ script: flood });
    expect(error.message).toContain("failed to write one: it printed more than 1 MB");
    // Each line shown is cut; what execa kept ends with the generator's EPIPE once it stopped reading.
    expect(error.suggest?.output.filter((line) => /^x{500}…$/.test(line)).length).toBeGreaterThan(0);
    expect(Math.max(...error.suggest!.output.map((line) => line.length))).toBe(501);
  });

  it("that writes no Dockerfile, or a symlink in its place, fails", async () => {
    await files({ "package.json": PACKAGE_JSON });
    const link = await script(`import fs from "node:fs"; fs.symlinkSync(${JSON.stringify(join(outside, "x"))}, "Dockerfile");`);
    expect((await failure({ script: link })).message).toContain("it wrote no Dockerfile");
    await rm(join(root, "Dockerfile"));
    const nothing = await script("");
    expect((await failure({ script: nothing })).message).toContain("it wrote no Dockerfile");
  });

  it("stops when the run is cancelled", async () => {
    await files({ "package.json": PACKAGE_JSON });
    const hang = await script("setInterval(() => {}, 1000);");
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("superseded")), 300);
    await expect(generate({ script: hang, signal: controller.signal })).rejects.toThrow("superseded");
  });
});

describe("packageJsonProblem", () => {
  it.each([
    ["[1]", "is not a JSON object"],
    ["null", "is not a JSON object"],
    ['"x"', "is not a JSON object"],
    ['{"dockerfile": {"instructions": "base"}}', "has a dockerfile.instructions that is not an object"],
    ['{"dockerfile": {"instructions": {"build": 7}}}', "has a dockerfile.instructions.build that is not a file name"],
    ['{"dockerfile": {"instructions": {"build": "a/../../etc/passwd"}}}', "names a file outside the build context in dockerfile.instructions.build"],
  ])("%s: %s", (text, problem) => {
    expect(packageJsonProblem(text, "/src/web")).toBe(problem);
  });

  it.each(['{"name": "x"}', '{"dockerfile": {"instructions": {"base": "/docker/base"}}}', '{"dockerfile": {"instructions": {"base": null}}}'])(
    "accepts %s",
    (text) => {
      expect(packageJsonProblem(text, "/src/web")).toBeUndefined();
    },
  );
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

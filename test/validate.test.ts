import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { parse as parseToml } from "smol-toml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { parsePreviewConfig } from "../src/config/index.js";
import { previewSchema, resolveRef, type JsonSchema } from "../src/config/schema.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fly-preview-validate-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A repository checkout: each file written relative to its root. */
function checkout(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** `fly-preview validate` with nothing in the environment: no APP_ID, no DATABASE_URL. */
async function validate(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const io = { stdout: (s: string) => (stdout += s), stderr: (s: string) => (stderr += s), stdin: async () => "", env: {} };
  const code = await runCli(["validate", ...argv], io);
  return { code, stdout, stderr };
}

/** The two parts of a valid run's output: the resolved .preview.yml and the fly.toml. */
function sections(stdout: string): { config: string; flyToml: string } {
  const [config, flyToml] = stdout.split("\n\n");
  return { config, flyToml };
}

describe("fly-preview validate, on a valid file", () => {
  it("prints the file with every default filled in and the fly.toml a preview gets, and exits 0", async () => {
    checkout({ ".preview.yml": "port: 3000\nregion: cdg\nenv:\n  DEBUG: \"true\"\nhealth:\n  path: /healthz\n", Dockerfile: "FROM scratch\n" });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);

    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const { config, flyToml } = sections(run.stdout.replace(file, "PATH"));
    expect(config).toMatchInlineSnapshot(`
      "# PATH is valid. With every default filled in, it reads:
      # dockerfile is unset, so Dockerfile; a commit without one gets it generated from package.json, when there is one
      context: .
      port: 3000
      region: cdg
      env:
        DEBUG: "true"
      build_args: {}
      build:
        timeout: 20m
      secrets: []
      health:
        path: /healthz
        timeout: 120s
      resources:
        memory: 256mb
        cpus: 1
        cpu_kind: shared
      ttl: 7d
      notify: edit
      trigger:
        labels: []
        branches: []
        drafts: false
      forks: approve
      hooks:
        timeout: 10m"
    `);
    expect(flyToml).toMatchInlineSnapshot(`
      "# The fly.toml a preview is deployed with (for pull request 1 of owner/repo; the region is cdg):
      app = "pr-1-owner-repo"
      primary_region = "cdg"
      [build]
        dockerfile = "Dockerfile"
      [env]
        PREVIEW = "true"
      [http_service]
        internal_port = 3000
        force_https = true
        auto_stop_machines = "stop"
        auto_start_machines = true
        min_machines_running = 0
      [[vm]]
        memory = "256mb"
        cpu_kind = "shared"
        cpus = 1
      "
    `);
  });

  it("prints a configuration that is itself a valid .preview.yml, read the same way", async () => {
    const text = "dockerfile: ./docker//web.Dockerfile\nresources:\n  memory: 1GB\ntrigger:\n  labels: [preview]\nmax_previews: 3\n";
    checkout({ ".preview.yml": text, "docker/web.Dockerfile": "FROM scratch\n" });
    const run = await validate(join(dir, ".preview.yml"));
    expect(run.code).toBe(0);

    const printed = parsePreviewConfig(sections(run.stdout).config);
    expect(printed).toEqual(parsePreviewConfig(text));
    expect(sections(run.stdout).config).toContain("dockerfile: docker/web.Dockerfile\n");
  });

  it("prints the database block in the schema's order, its default filled in, and it reads back the same", async () => {
    for (const [text, printed] of [
      [
        "database:\n  env: PG_URL\n  neon:\n    api_key_secret: NEON_KEY\n    project: proud-fog-123456\n",
        "forks: approve\ndatabase:\n  neon:\n    project: proud-fog-123456\n    api_key_secret: NEON_KEY\n  env: PG_URL\nhooks:\n  timeout: 10m",
      ],
      ["database:\n  fly_postgres:\n    cluster: acme-preview-db\n", "forks: approve\ndatabase:\n  fly_postgres:\n    cluster: acme-preview-db\n  env: DATABASE_URL\nhooks:\n  timeout: 10m"],
    ]) {
      checkout({ ".preview.yml": text, Dockerfile: "FROM scratch\n" });
      const run = await validate(join(dir, ".preview.yml"));
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const { config } = sections(run.stdout);
      // In the schema's order, so before hooks; `provider` is the parser's, never printed.
      expect(config.endsWith(`\n${printed}`), config).toBe(true);
      expect(parsePreviewConfig(config)).toEqual(parsePreviewConfig(text));
    }
  });

  it("uses the server's default region when the file sets none, and says so", async () => {
    checkout({ ".preview.yml": "", Dockerfile: "FROM scratch\n" });
    const run = await validate(join(dir, ".preview.yml"));
    expect(run.code).toBe(0);
    const { flyToml } = sections(run.stdout);
    expect(flyToml).toContain("the region is the server's default, iad, unless its operator set FLY_REGION");
    expect(parseToml(flyToml)).toMatchObject({ primary_region: "iad", http_service: { internal_port: 8080 } });
  });

  it("starts the fly.toml from the repository's own fly_toml, as the server does", async () => {
    checkout({
      ".preview.yml": "fly_toml: deploy/fly.toml\nport: 3000\n",
      "deploy/fly.toml": 'app = "production"\nkill_signal = "SIGINT"\n[mounts]\n  source = "data"\n  destination = "/data"\n[build]\n  ignorefile = ".dockerignore"\n',
      Dockerfile: "FROM scratch\n",
    });
    const run = await validate(join(dir, ".preview.yml"));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const flyToml = parseToml(sections(run.stdout).flyToml);
    expect(flyToml).toMatchObject({ app: "pr-1-owner-repo", kill_signal: "SIGINT", build: { ignorefile: "deploy/.dockerignore", dockerfile: "Dockerfile" } });
    expect(flyToml).not.toHaveProperty("mounts");
  });
});

describe("fly-preview validate, on a file with apps:", () => {
  const text = `ttl: 3d
forks: off
apps:
  api:
    dockerfile: services/api/Dockerfile
    context: services/api
    paths: [services/api/**, packages/shared/**]
    region: cdg
  web:
    dockerfile: apps/web/Dockerfile
    port: 3000
    env:
      API_URL: \${apps.api.url}/v1
  worker:
    fly_toml: services/worker/fly.toml
`;

  /** The output's part for each app: its configuration and its fly.toml, by app name. */
  function appSections(stdout: string): Map<string, { header: string[]; config: string; flyToml: string }> {
    const [, ...parts] = stdout.split("\n\n# App ");
    return new Map(
      parts.map((part) => {
        const [config, flyToml] = part.split("\n\n");
        const lines = `# App ${config}`.split("\n");
        const header = lines.filter((line) => line.startsWith("#"));
        return [lines[0].slice("# App ".length).split(",")[0], { header, config: lines.filter((line) => !line.startsWith("#")).join("\n"), flyToml }];
      }),
    );
  }

  it("prints each app's configuration, its repository's fields copied in, and the fly.toml of its own Fly app", async () => {
    checkout({
      ".preview.yml": text,
      "services/api/Dockerfile": "FROM scratch\n",
      "apps/web/Dockerfile": "FROM scratch\n",
      Dockerfile: "FROM scratch\n",
      "services/worker/fly.toml": 'kill_signal = "SIGINT"\n',
    });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n")[0]).toBe(`# ${file} is valid. It has 3 apps, api, web, worker, each previewed as a Fly app of its own.`);

    const printed = appSections(run.stdout);
    expect([...printed.keys()]).toEqual(["api", "web", "worker"]);
    const server = parsePreviewConfig(text);
    if (!server.ok || !server.apps) throw new Error("the server would refuse this file, or read one app");
    for (const app of server.apps) {
      const { header, config, flyToml } = printed.get(app.name)!;
      expect(header[0]).toBe(`# App ${app.name}, Fly app pr-1-${app.name}-owner-repo. With every default filled in and the repository's fields copied in, it reads:`);
      // Each app's part is a file of one app that reads as the server reads that app.
      expect(parsePreviewConfig(config)).toEqual({ ok: true, config: app.config });
      expect(parseToml(flyToml)).toMatchObject({ app: `pr-1-${app.name}-owner-repo` });
    }
    expect(printed.get("api")!.header[1]).toBe("# paths (a push changing none of these files does not rebuild it): services/api/**, packages/shared/**");
    expect(printed.get("web")!.header.slice(1, 3)).toEqual([
      "# no paths: every push rebuilds it",
      "# ${apps.api.url} is https://pr-1-api-owner-repo.fly.dev for pull request 1 of owner/repo",
    ]);
    expect(parseToml(printed.get("api")!.flyToml)).toMatchObject({ primary_region: "cdg", build: { dockerfile: "services/api/Dockerfile" } });
    expect(parseToml(printed.get("web")!.flyToml)).toMatchObject({ http_service: { internal_port: 3000 } });
    expect(parseToml(printed.get("worker")!.flyToml)).toMatchObject({ kill_signal: "SIGINT", build: { dockerfile: "Dockerfile" } });
    expect(printed.get("api")!.config).toContain("ttl: 3d\n");
    expect(printed.get("worker")!.config).toContain("forks: off\n");
  });

  it("names the app whose files are missing", async () => {
    checkout({ ".preview.yml": text, "apps/web/Dockerfile": "FROM scratch\n", "requirements.txt": "flask\n" });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    const lines = run.stderr.split("\n");
    expect(lines[0]).toBe(`${file}: apps.api.dockerfile: "services/api/Dockerfile" does not exist (no file at ${join(dir, "services/api/Dockerfile")})`);
    expect(lines[1]).toBe(`${file}: apps.worker.fly_toml: "services/worker/fly.toml" does not exist (no file at ${join(dir, "services/worker/fly.toml")})`);
    expect(lines[2]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: apps\\.worker: dockerfile: "Dockerfile" does not exist in the repository`));
    expect(lines[3]).toBe("fly-preview: 3 problems: a pull request would get a failed check run and no preview");
  });

  it("prints the problems of apps: on their lines, as the server's check run annotates them", async () => {
    checkout({ ".preview.yml": "port: 3000\napps:\n  web:\n    env:\n      API_URL: ${apps.api.url}\n", Dockerfile: "FROM scratch\n" });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);
    expect(run.code).toBe(1);
    expect(run.stderr.split("\n").slice(0, 2)).toEqual([
      `${file}:1:1: port: with apps:, each app has its own port; move it under the apps that need it, like apps.web.port`,
      `${file}:5:16: apps.web.env.API_URL: \${apps.api.url} names no app: there is no "api" under apps:; the apps are web`,
    ]);
  });
});

describe("fly-preview validate, on an invalid file", () => {
  // Each problem as PATH:LINE:COLUMN: MESSAGE, with the message the server's check run shows.
  const cases: Array<[string, string, string[]]> = [
    [
      "a YAML syntax error",
      "port: 3000\nenv: [unclosed\n",
      ["3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]"],
    ],
    ["an unknown key", "port: 3000\ndockerFile: web.Dockerfile\n", ['2:1: unknown field "dockerFile" (did you mean "dockerfile"?)']],
    ["a value of the wrong type", 'port: "eighty"\n', ['1:7: port: must be a whole number between 1 and 65535 (got "eighty")']],
    [
      "a bad duration",
      "health:\n  timeout: 2 minutes\n",
      ['2:12: health.timeout: "2 minutes" is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"'],
    ],
    [
      "a database with two providers",
      "database:\n  neon:\n    project: proud-fog-123456\n  fly_postgres:\n    cluster: acme-preview-db\n",
      ["1:1: database: give exactly one of neon or fly_postgres, not both"],
    ],
    [
      "several problems, in the order of their lines",
      "ttl: 7days\nresources:\n  memory: lots\n  cpus: 0\n",
      [
        '1:6: ttl: "7days" is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"',
        '3:11: resources.memory: "lots" is not a memory size; use a value like "512mb" or "1gb"',
        "4:9: resources.cpus: must be a whole number between 1 and 16 (got 0)",
      ],
    ],
  ];

  it.each(cases)("exits 1 and prints each problem on its line: %s", async (_what, text, lines) => {
    checkout({ ".preview.yml": text, Dockerfile: "FROM scratch\n" });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    const count = lines.length === 1 ? "1 problem" : `${lines.length} problems`;
    expect(run.stderr).toBe(
      `${lines.map((line) => `${file}:${line}\n`).join("")}fly-preview: ${count}: a pull request would get a failed check run and no preview\n`,
    );
    // The very messages and places the server's parser gives the check run.
    const server = parsePreviewConfig(text);
    if (server.ok) throw new Error("the server would accept this file");
    expect(lines).toEqual(server.problems.map((p) => `${p.line}:${p.column}: ${p.message}`));
  });

  it("reports the problems of the repository's fly_toml at their lines in that file", async () => {
    checkout({
      ".preview.yml": "fly_toml: fly.toml\n",
      "fly.toml": '[[files]]\n  guest_path = "/app/key"\n  local_path = "/etc/passwd"\n',
      Dockerfile: "FROM scratch\n",
    });
    const run = await validate(join(dir, ".preview.yml"));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.split("\n")[0]).toBe(
      `${join(dir, "fly.toml")}:3:3: [[files]] local_path = "/etc/passwd" makes flyctl upload that file from the disk of the fly-preview server into the preview; use raw_value or secret_name, or COPY the file in the Dockerfile`,
    );
  });

  it("says when the files it names are missing", async () => {
    checkout({ ".preview.yml": "fly_toml: deploy/fly.toml\ndockerfile: web.Dockerfile\n" });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      [
        `${file}: fly_toml: "deploy/fly.toml" does not exist (no file at ${join(dir, "deploy/fly.toml")})`,
        `${file}: dockerfile: "web.Dockerfile" does not exist (no file at ${join(dir, "web.Dockerfile")})`,
        "fly-preview: 2 problems: a pull request would get a failed check run and no preview",
        "",
      ].join("\n"),
    );
  });

  it("without a Dockerfile, says a preview generates one from the build context's package.json, and prints no dockerfile that would stop it", async () => {
    checkout({ ".preview.yml": "context: web\n", "web/package.json": '{"name": "web"}' });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const { config } = sections(run.stdout);
    expect(config.split("\n")[1]).toMatch(
      /^# dockerfile is unset, and there is no Dockerfile: a preview generates one from web\/package.json with @flydotio\/dockerfile \d+\.\d+\.\d+ \(run npx @flydotio\/dockerfile in web to see it\)$/,
    );
    expect(config).not.toMatch(/^dockerfile:/m);
    expect(parsePreviewConfig(config)).toEqual(parsePreviewConfig("context: web\n"));
  });

  it("without a Dockerfile or a package.json, fails as a preview would", async () => {
    checkout({ ".preview.yml": "port: 5000\n", "requirements.txt": "flask\n" });
    const file = join(dir, ".preview.yml");
    const run = await validate(file);
    expect(run.code).toBe(1);
    expect(run.stderr.split("\n")[0]).toBe(
      `${file}: dockerfile: "Dockerfile" does not exist in the repository at this commit, and fly-preview generates a Dockerfile only for a Node.js project ` +
        "(a package.json in the build context, the repository's root). Commit a Dockerfile at \"Dockerfile\", or name yours with dockerfile: in .preview.yml",
    );
  });

  it("exits 1 with a clear message when there is no file", async () => {
    const file = join(dir, "missing.yml");
    expect(await validate(file)).toEqual({
      code: 1,
      stdout: "",
      stderr: `fly-preview: no file at ${file}; run this at the repository's root, or give the path: fly-preview validate PATH\n`,
    });
  });

  it("exits 2 when given more than one path", async () => {
    expect(await validate("a.yml", "b.yml")).toEqual({
      code: 2,
      stdout: "",
      stderr: 'fly-preview: unexpected argument "b.yml"\nusage: fly-preview validate [PATH]\n',
    });
  });
});

describe("the docs of fly-preview validate", () => {
  it("show what it really prints for the invalid example of configuration.md", async () => {
    const docs = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");
    const [, file] = /For example, this file:\n\n```text\n([\s\S]*?)```/.exec(docs) ?? [];
    const [, output] = /For the file above it prints[\s\S]*?```text\n([\s\S]*?)```/.exec(docs) ?? [];
    checkout({ ".preview.yml": file.replace(/^\d+ {2}/gm, ""), Dockerfile: "FROM scratch\n" });
    const run = await validate(join(dir, ".preview.yml"));
    expect(run.code).toBe(1);
    expect(run.stderr.replaceAll(join(dir, ".preview.yml"), ".preview.yml")).toBe(output);
  });
});

describe("fly-preview validate, as a program", () => {
  const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
  const run = (...argv: string[]) =>
    execa(process.execPath, ["--import", import.meta.resolve("tsx"), main, "validate", ...argv], { cwd: dir, env: {}, extendEnv: false, reject: false });

  it("reads .preview.yml in the working directory, with an empty environment and the application's .env left alone", async () => {
    // A Python virtualenv named .env: reading it as the server's .env would fail.
    mkdirSync(join(dir, ".env"));
    checkout({ ".preview.yml": "port: 3000\n", Dockerfile: "FROM scratch\n" });
    const valid = await run();
    expect(valid.stderr).toBe("");
    expect(valid.exitCode).toBe(0);
    expect(valid.stdout).toMatch(/^# \.preview\.yml is valid\./);
    expect(valid.stdout).toContain("internal_port = 3000");

    checkout({ ".preview.yml": "port: 0\n" });
    const invalid = await run();
    expect(invalid.exitCode).toBe(1);
    expect(invalid.stdout).toBe("");
    expect(invalid.stderr).toBe(
      ".preview.yml:1:7: port: must be a whole number between 1 and 65535 (got 0)\nfly-preview: 1 problem: a pull request would get a failed check run and no preview",
    );
  });

  it("runs from package.json's bin, as `npx fly-preview validate` does in a checkout, with no build", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { bin: Record<string, string> };
    const bin = pkg.bin["fly-preview"];
    // dist/ exists only after `npm run build` (and is not committed): the bin must not need it.
    expect(bin).not.toMatch(/^(\.\/)?dist\//);
    checkout({ ".preview.yml": "port: eighty\n" });
    const result = await execa(process.execPath, [fileURLToPath(new URL(`../${bin}`, import.meta.url)), "validate"], { cwd: dir, env: {}, extendEnv: false, reject: false });
    expect(result.stderr).toBe(
      '.preview.yml:1:7: port: must be a whole number between 1 and 65535 (got "eighty")\nfly-preview: 1 problem: a pull request would get a failed check run and no preview',
    );
    expect(result.exitCode).toBe(1);
  });

  it("stops quietly when its reader goes away, as `fly-preview validate | head -1` does", async () => {
    checkout({ ".preview.yml": "port: 3000\n", Dockerfile: "FROM scratch\n" });
    const child = run();
    // Closed before the program has started, so its first write finds no reader.
    child.stdout?.destroy();
    const result = await child;
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });
});

describe("the JSON Schema, for editors", () => {
  it("has a stable $id to point the yaml-language-server line at", () => {
    expect(previewSchema.$id).toBe("https://raw.githubusercontent.com/fly-preview/fly-preview/main/schemas/preview.schema.json");
  });

  it("describes every property, which editors show on hover", () => {
    const undescribed: string[] = [];
    const visit = (schema: JsonSchema, parent: string) => {
      for (const [name, own] of Object.entries(schema.properties ?? {})) {
        const path = parent ? `${parent}.${name}` : name;
        if (!own.description?.trim()) undescribed.push(path);
        visit(resolveRef(own), path);
      }
    };
    visit(previewSchema, "");
    for (const [name, shared] of Object.entries(previewSchema.$defs ?? {})) {
      if (!shared.description?.trim()) undescribed.push(`$defs.${name}`);
    }
    expect(undescribed).toEqual([]);
    expect(Object.keys(previewSchema.properties ?? {}).length).toBeGreaterThan(10);
  });
});

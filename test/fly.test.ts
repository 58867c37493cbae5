import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { classifyFailure, Flyctl, FlyError, Redactor, renderFlyToml, type FlyctlOptions } from "../src/fly/index.js";
import { createFakeFly, secretDigest, type FakeFly } from "./fake-flyctl/control.js";

const TOKEN = "fo1_fake-token-4f9a1c2e";
const APP = "pr-42-acme-web";

let fly: FakeFly;
let work: string;
let source: string;
let configPath: string;

function flyctl(overrides: Partial<FlyctlOptions> = {}): Flyctl {
  return new Flyctl({
    path: fly.path,
    token: TOKEN,
    org: "personal",
    retry: { attempts: 3, baseDelayMs: 5 },
    killGraceMs: 300,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<FlyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlyError);
  return error as FlyError;
}

function deployCalls() {
  return fly.calls().filter((call) => call.argv[0] === "deploy");
}

/** Whether a process still runs (a zombie waiting to be reaped has stopped running). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, check: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 750; i++) {
    const value = check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  fly = await createFakeFly();
  work = mkdtempSync(join(tmpdir(), "fly-test-"));
  source = join(work, "source");
  mkdirSync(source);
  writeFileSync(join(source, "Dockerfile"), "FROM nginx:alpine\n");
  mkdirSync(join(work, "config"));
  configPath = join(work, "config", "fly.toml");
  writeFileSync(
    configPath,
    renderFlyToml({
      app: APP,
      region: "iad",
      dockerfile: "../source/Dockerfile",
      port: 8080,
      memory: "512mb",
      cpus: 1,
      cpuKind: "shared",
    }),
  );
});

afterEach(async () => {
  await fly.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("creating the preview's Fly app", () => {
  it("creates the app in the configured organization", async () => {
    await expect(flyctl().createApp(APP)).resolves.toBe("created");
    expect(fly.calls().map((c) => c.argv)).toEqual([["apps", "create", APP, "--org", "personal"]]);
    expect(fly.apps()[APP]?.org).toBe("personal");
  });

  it("treats an app we already own as created, so a retried step is harmless", async () => {
    await flyctl().createApp(APP);
    await expect(flyctl().createApp(APP)).resolves.toBe("exists");
    expect(fly.calls().map((c) => c.argv.slice(0, 2))).toEqual([
      ["apps", "create"],
      ["apps", "create"],
      ["status", "-a"],
    ]);
  });

  it("refuses a name held by another Fly account, and says so plainly", async () => {
    fly.seedApp(APP, "someone-else");
    const error = await rejection(flyctl().createApp(APP));
    expect(error.kind).toBe("name_taken");
    expect(error.reason).toBe(
      `The Fly.io app name "${APP}" belongs to another Fly account, so it cannot be used for this preview`,
    );
  });

  it("knows whether an app exists for our account", async () => {
    fly.seedApp("someone-elses-app", "someone-else");
    await flyctl().createApp(APP);
    await expect(flyctl().appExists(APP)).resolves.toBe(true);
    await expect(flyctl().appExists("pr-1-missing")).resolves.toBe(false);
    await expect(flyctl().appExists("someone-elses-app")).resolves.toBe(false);
  });

  it("lists only the apps of our organization", async () => {
    fly.seedApp("someone-elses-app", "someone-else");
    await flyctl().createApp(APP);
    await flyctl().createApp("pr-43-acme-web");
    await expect(flyctl().listApps()).resolves.toEqual([
      { name: APP, org: "personal", status: "pending" },
      { name: "pr-43-acme-web", org: "personal", status: "pending" },
    ]);
    expect(fly.calls().at(-1)?.argv).toEqual(["apps", "list", "--org", "personal", "--json"]);
  });

  it("reports a rejected token as an authentication problem, without retrying", async () => {
    fly.setBehavior({ status: [{ fail: "auth" }] });
    const error = await rejection(flyctl().appExists(APP));
    expect(error.kind).toBe("auth");
    expect(error.reason).toBe("Fly.io rejected the access token (FLY_API_TOKEN)");
    expect(fly.calls()).toHaveLength(1);
  });
});

describe("deploying a preview", () => {
  beforeEach(async () => {
    await flyctl().createApp(APP);
  });

  it("passes exactly the documented flags and returns the preview's URL", async () => {
    const result = await flyctl().deploy({ cwd: source, configPath, app: APP, imageLabel: "pr-42-abc1234" });

    expect(result.url).toBe(`https://${APP}.fly.dev/`);
    expect(result.tail.at(-1)).toBe(`Visit your newly deployed app at https://${APP}.fly.dev/`);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const [call] = deployCalls();
    expect(call?.argv).toEqual([
      "deploy", source, "-c", configPath, "-a", APP, "--remote-only", "--yes", "--ha=false",
      "--strategy", "immediate", "--wait-timeout", "5m", "--image-label", "pr-42-abc1234",
    ]);
    expect(call?.cwd).toBe(source);
    expect(call?.stdin).toBeNull();
    expect(fly.apps()[APP]?.machines).toHaveLength(1);
  });

  it("hands env vars, build args and the VM size to flyctl as flags", async () => {
    await flyctl().deploy({
      cwd: source,
      configPath,
      app: APP,
      env: { NODE_ENV: "production", GREETING: "hello world" },
      buildArgs: { COMMIT_SHA: "abc1234" },
      memoryMb: 1024,
      cpus: 2,
      cpuKind: "performance",
    });

    expect(deployCalls()[0]?.argv.slice(13)).toEqual([
      "--env", "NODE_ENV=production", "--env", "GREETING=hello world",
      "--build-arg", "COMMIT_SHA=abc1234",
      "--vm-memory", "1024", "--vm-cpus", "2", "--vm-cpu-kind", "performance",
    ]);
    expect(fly.apps()[APP]?.deployments[0]).toMatchObject({
      env: { NODE_ENV: "production", GREETING: "hello world" },
      buildArgs: { COMMIT_SHA: "abc1234" },
      vm: { memory: "1024", cpus: 2, cpuKind: "performance" },
      ha: false,
    });
  });

  it("refuses an env var name flyctl would split wrongly, without running flyctl", async () => {
    const error = await rejection(flyctl().deploy({ cwd: source, configPath, app: APP, env: { "A=B": "c" } }));
    expect(error.kind).toBe("config");
    expect(deployCalls()).toHaveLength(0);
  });

  it("redeploys an earlier image by its label without building", async () => {
    await flyctl().deploy({ cwd: source, configPath, app: APP, imageLabel: "pr-42-abc1234" });
    const lines: string[] = [];
    await flyctl().deploy({
      cwd: source,
      configPath,
      app: APP,
      image: `registry.fly.io/${APP}:pr-42-abc1234`,
      onLine: (line) => lines.push(line),
    });
    expect(lines).not.toContain("==> Building image");
    expect(deployCalls()[1]?.argv).toContain("--image");
  });

  it("gives the token to flyctl only through its environment", async () => {
    const stale = process.env.FLY_ACCESS_TOKEN;
    process.env.FLY_ACCESS_TOKEN = "stale-token-from-the-server-env";
    try {
      fly.setBehavior({ echo: true });
      const stderr: string[] = [];
      await flyctl().deploy({
        cwd: source,
        configPath,
        app: APP,
        onLine: (line, stream) => stream === "stderr" && stderr.push(line),
      });
      const [call] = deployCalls();
      expect(call?.tokenSet).toBe(true);
      expect(call?.argv.join(" ")).not.toContain(TOKEN);
      expect(stderr).toContain("fake flyctl echo: env FLY_API_TOKEN=***");
      expect(stderr).toContain("fake flyctl echo: env CI=true");
      expect(stderr).toContain("fake flyctl echo: env FLY_NO_UPDATE_CHECK=1");
      expect(stderr.join("\n")).not.toContain("FLY_ACCESS_TOKEN");
    } finally {
      if (stale === undefined) delete process.env.FLY_ACCESS_TOKEN;
      else process.env.FLY_ACCESS_TOKEN = stale;
    }
  });

  it("gives flyctl none of the server's environment, only PATH, a HOME of its own, the token and the proxy", async () => {
    const planted = {
      PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----",
      WEBHOOK_SECRET: "whsec",
      PREVIEW_SECRETS_KEY: "k".repeat(64),
      DATABASE_URL: "postgres://user:pw@db/fly_preview",
      AWS_SECRET_ACCESS_KEY: "aws",
      FLY_ACCESS_TOKEN: "stale",
      HTTPS_PROXY: "http://proxy.internal:3128",
      no_proxy: "localhost",
    };
    const saved = { ...process.env };
    Object.assign(process.env, planted);
    try {
      await flyctl().listApps();
      await flyctl().deploy({ cwd: source, configPath, app: APP });
    } finally {
      process.env = saved;
    }
    const calls = fly.calls().slice(-2);
    expect(calls.map((call) => call.argv[0])).toEqual(["apps", "deploy"]);
    for (const call of calls) {
      expect(call.envNames).toEqual(["CI", "FLY_API_TOKEN", "FLY_NO_UPDATE_CHECK", "HOME", "HTTPS_PROXY", "PATH", "no_proxy"]);
      expect(call.home).not.toBe(saved.HOME);
    }
  });

  it("gives each flyctl run a fresh HOME and removes it afterwards, even when the run fails", async () => {
    fly.setBehavior({ deploy: [{ fail: "build" }] });
    await rejection(flyctl().deploy({ cwd: source, configPath, app: APP }));
    await flyctl().deploy({ cwd: source, configPath, app: APP });
    await flyctl().listApps();

    const homes = fly.calls().slice(-3).map((call) => call.home!);
    expect(homes).toHaveLength(3);
    expect(new Set(homes).size).toBe(3);
    for (const home of homes) {
      expect(home.startsWith(tmpdir())).toBe(true);
      expect(existsSync(home)).toBe(false);
    }
  });

  it("retries a temporary Fly.io failure and then succeeds", async () => {
    fly.setBehavior({ deploy: [{ fail: "transient" }, { fail: "transient" }] });
    const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn() };
    const result = await flyctl({ log }).deploy({ cwd: source, configPath, app: APP });

    expect(result.url).toBe(`https://${APP}.fly.dev/`);
    expect(deployCalls().map((c) => c.exitCode)).toEqual([1, 1, 0]);
    expect(log.warn).toHaveBeenCalledTimes(2);
  });

  it("gives up after three attempts when Fly.io keeps failing temporarily", async () => {
    fly.setBehavior({ deploy: [{ fail: "transient" }, { fail: "transient" }, { fail: "transient" }, {}] });
    const error = await rejection(flyctl().deploy({ cwd: source, configPath, app: APP }));

    expect(error.kind).toBe("transient");
    expect(error.reason).toContain("3 attempts");
    expect(deployCalls()).toHaveLength(3);
  });

  it("fails a broken Docker build at once, with flyctl's error in the tail", async () => {
    fly.setBehavior({ deploy: [{ fail: "build" }] });
    const error = await rejection(flyctl().deploy({ cwd: source, configPath, app: APP }));

    expect(error.kind).toBe("build");
    expect(error.reason).toBe("The Docker build failed");
    expect(error.exitCode).toBe(1);
    expect(error.tail.at(-1)).toMatch(/^Error: failed to fetch an image or build from source: /);
    expect(error.message).toMatch(/^The Docker build failed: failed to fetch an image or build from source/);
    expect(deployCalls()).toHaveLength(1);
  });

  it("reports failed health checks without retrying", async () => {
    fly.setBehavior({ deploy: [{ fail: "health" }] });
    const error = await rejection(flyctl().deploy({ cwd: source, configPath, app: APP }));
    expect(error.kind).toBe("health");
    expect(deployCalls()).toHaveLength(1);
  });

  it("reports a deploy to an app that is gone as not found", async () => {
    await flyctl().destroyApp(APP);
    const error = await rejection(flyctl().deploy({ cwd: source, configPath, app: APP }));
    expect(error.kind).toBe("not_found");
  });
});

describe("cancelling a deploy", () => {
  beforeEach(async () => {
    await flyctl().createApp(APP);
  });

  function abortOnceBuilding(controller: AbortController) {
    return (line: string) => {
      if (line === "==> Building image with Depot") controller.abort();
    };
  }

  it("stops flyctl with SIGTERM, rejects as cancelled and removes its HOME", async () => {
    fly.setBehavior({ deployDelayMs: 20_000 });
    const controller = new AbortController();
    const started = Date.now();
    const error = await rejection(
      flyctl().deploy({ cwd: source, configPath, app: APP, signal: controller.signal, onLine: abortOnceBuilding(controller) }),
    );

    expect(error.kind).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(10_000);
    const [call] = deployCalls();
    expect(call).toMatchObject({ signal: "SIGTERM", exitCode: 127 });
    expect(existsSync(call!.home!)).toBe(false);
  });

  it("kills a flyctl that ignores SIGTERM once the grace period is over", async () => {
    fly.setBehavior({ deployDelayMs: 20_000, ignoreSigterm: true });
    const controller = new AbortController();
    const started = Date.now();
    const error = await rejection(
      flyctl().deploy({ cwd: source, configPath, app: APP, signal: controller.signal, onLine: abortOnceBuilding(controller) }),
    );

    expect(error.kind).toBe("cancelled");
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(10_000);
    const [call] = deployCalls();
    expect(call?.ignoredSigterm).toBe(true);
    expect(call?.endedAt).toBeUndefined();
    expect(() => process.kill(call!.pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("stops what flyctl started too, even a child that ignores SIGTERM", async () => {
    fly.setBehavior({ deployDelayMs: 20_000, deployChild: true });
    const controller = new AbortController();
    const deploying = rejection(flyctl().deploy({ cwd: source, configPath, app: APP, signal: controller.signal }));
    const child = await waitFor("flyctl's child", () => deployCalls()[0]?.childPid);
    expect(running(child)).toBe(true);
    controller.abort();

    expect((await deploying).kind).toBe("cancelled");
    expect(deployCalls()[0]).toMatchObject({ signal: "SIGTERM", exitCode: 127 });
    await waitFor("the child to be killed", () => !running(child));
  });

  it("leaves nothing of flyctl running when the process that started it exits", async () => {
    fly.setBehavior({ deployDelayMs: 20_000, deployChild: true });
    const script = fileURLToPath(new URL("./flyctl-exit-process.ts", import.meta.url));
    const parent = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script, fly.path, source, configPath, APP], { stdio: "ignore" });
    const exited = new Promise((resolve) => parent.on("exit", resolve));
    const call = await waitFor("flyctl's child", () => deployCalls().find((c) => c.childPid));
    parent.kill("SIGUSR2");
    await exited;

    await waitFor("flyctl and its child to be killed", () => !running(call.pid) && !running(call.childPid!));
  });

  it("does not start flyctl when already cancelled", async () => {
    const error = await rejection(
      flyctl().deploy({ cwd: source, configPath, app: APP, signal: AbortSignal.abort() }),
    );
    expect(error.kind).toBe("cancelled");
    expect(deployCalls()).toHaveLength(0);
  });

  it("does not retry once cancelled while waiting to retry", async () => {
    fly.setBehavior({ deploy: [{ fail: "transient" }] });
    const controller = new AbortController();
    const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn(() => controller.abort()) };
    const error = await rejection(
      flyctl({ log, retry: { attempts: 3, baseDelayMs: 60_000 } }).deploy({
        cwd: source,
        configPath,
        app: APP,
        signal: controller.signal,
      }),
    );
    expect(error.kind).toBe("cancelled");
    expect(deployCalls()).toHaveLength(1);
  });
});

describe("destroying the preview's Fly app", () => {
  it("destroys the app, and an app already gone counts as missing", async () => {
    await flyctl().createApp(APP);
    await expect(flyctl().destroyApp(APP)).resolves.toBe("destroyed");
    await expect(flyctl().destroyApp(APP)).resolves.toBe("missing");
    expect(fly.calls().slice(1).map((c) => c.argv)).toEqual([
      ["apps", "destroy", APP, "--yes"],
      ["apps", "destroy", APP, "--yes"],
    ]);
    expect(fly.apps()[APP]).toBeUndefined();
  });

  it("retries a temporary failure while destroying", async () => {
    await flyctl().createApp(APP);
    fly.setBehavior({ destroy: [{ fail: "transient" }] });
    await expect(flyctl().destroyApp(APP)).resolves.toBe("destroyed");
    expect(fly.calls().filter((c) => c.argv[1] === "destroy")).toHaveLength(2);
  });
});

describe("the fake flyctl's test switches", () => {
  it("announces the URL a test asks for", async () => {
    await flyctl().createApp(APP);
    fly.setBehavior({ url: "http://127.0.0.1:9/" });
    const result = await flyctl().deploy({ cwd: source, configPath, app: APP });
    expect(result.url).toBe("http://127.0.0.1:9/");
  });

  it("can lose an app behind the driver's back", async () => {
    await flyctl().createApp(APP);
    fly.removeApp(APP);
    await expect(flyctl().destroyApp(APP)).resolves.toBe("missing");
  });

  it("can kill a deploy left running, which the driver reports as stopped", async () => {
    await flyctl().createApp(APP);
    fly.setBehavior({ deployDelayMs: 20_000 });
    const deploying = rejection(flyctl().deploy({ cwd: source, configPath, app: APP }));
    while (deployCalls().length === 0) await new Promise((r) => setTimeout(r, 20));
    await fly.killRunning();
    const error = await deploying;
    expect(error.kind).toBe("unknown");
    expect(error.reason).toBe("flyctl was stopped by SIGKILL");
  });
});

describe("secrets", () => {
  it("are staged through stdin, never argv, and hidden from everything flyctl prints later", async () => {
    const redactor = new Redactor();
    const driver = flyctl({ redactor });
    await driver.createApp(APP);
    const key = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----";
    await driver.importSecrets(APP, { DATABASE_URL: "postgres://u:hunter2pw@db/app", SIGNING_KEY: key });

    const [, call] = fly.calls();
    expect(call?.argv).toEqual(["secrets", "import", "-a", APP, "--stage"]);
    expect(call?.stdin).toBe(`DATABASE_URL=postgres://u:hunter2pw@db/app\nSIGNING_KEY="""${key}"""\n`);
    expect(fly.apps()[APP]?.secrets).toMatchObject({
      DATABASE_URL: { status: "Staged" },
      SIGNING_KEY: { status: "Staged" },
    });
    expect(redactor.redact("connecting to postgres://u:hunter2pw@db/app")).toBe("connecting to ***");
    expect(redactor.redact("MIIBOgIBAAJBAKj34GkxFhD9")).toBe("***");
  });
});

describe("every secret value reaches the preview exactly as stored", () => {
  it("values with #, quotes, edge spaces, \\r\\n, several lines and 60 KiB arrive byte for byte", async () => {
    const redactor = new Redactor();
    const driver = flyctl({ redactor });
    await driver.createApp(APP);
    const values = {
      PASSWORD: "p@ss#word",
      QUOTED: '"quoted"',
      SINGLE: "'single'",
      SPACES: "   both ends   ",
      CRLF_KEY: "-----BEGIN KEY-----\r\nMIIBOgIBAAJBAKj34GkxFhD9\r\n-----END KEY-----\r\n",
      TRIPLE: 'a """ b\nc """ d',
      BIG: `k#"'`.repeat(15 * 1024),
      AFTER_BIG: "still-here",
      // Only `secrets set NAME=-` carries these: a first line the "#" rule would cut,
      // and a line too long for import's 64 KiB scanner.
      HASH_FIRST_LINE: 'a"#b\nc',
      LONG_LINE: "z".repeat(64 * 1024),
    };
    await driver.importSecrets(APP, values);

    const stored = fly.apps()[APP]?.secrets ?? {};
    for (const [name, value] of Object.entries(values)) {
      expect(stored[name], name).toEqual({ digest: secretDigest(value), status: "Staged" });
    }
    const calls = fly.calls().filter((call) => call.argv[0] === "secrets");
    expect(calls.map((call) => [call.argv, call.exitCode])).toEqual([
      [["secrets", "import", "-a", APP, "--stage"], 0],
      [["secrets", "set", "HASH_FIRST_LINE=-", "-a", APP, "--stage"], 0],
      [["secrets", "set", "LONG_LINE=-", "-a", APP, "--stage"], 0],
    ]);
    for (const line of ["p@ss#word", "-----BEGIN KEY-----", "MIIBOgIBAAJBAKj34GkxFhD9"]) expect(redactor.redact(line)).toBe("***");
  });

  it("a value no form carries fails with the secret's name, not its value, and nothing is staged", async () => {
    const driver = flyctl();
    await driver.createApp(APP);
    const error = await rejection(driver.importSecrets(APP, { FINE: "fine-value", BROKEN: 'x"#hidden-part\nmore\n' }));
    expect(error.kind).toBe("config");
    expect(error.message).toContain("The secret BROKEN cannot reach Fly.io unchanged, so no secret was staged");
    expect(error.message).toContain("it begins or ends with whitespace");
    expect(error.message).not.toContain("hidden-part");
    expect(fly.calls().filter((call) => call.argv[0] === "secrets")).toEqual([]);
  });

  it("the fake's secrets set NAME=- reads stdin once, trimmed, up to 64 KiB, as flyctl does", async () => {
    await flyctl().createApp(APP);
    const set = (args: string[], stdin: { input: string } | { stdin: "ignore" }) =>
      execa(fly.path, ["secrets", "set", ...args, "-a", APP, "--stage"], { ...stdin, reject: false, env: { FLY_API_TOKEN: TOKEN } });

    const staged = await set(["A=-", "B=-", "C=plain"], { input: " \t value \r\n" });
    expect(staged.stdout).toBe("Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.");
    expect(fly.apps()[APP]?.secrets).toEqual({
      A: { digest: secretDigest("value"), status: "Staged" },
      B: { digest: secretDigest(""), status: "Staged" },
      C: { digest: secretDigest("plain"), status: "Staged" },
    });
    expect(await set(["A=-"], { input: "y".repeat(64 * 1024 + 1) })).toMatchObject({
      exitCode: 1,
      stderr: "Error: error reading stdin for 'A': Input exceeded max length of 65536 bytes",
    });
    expect(await set(["A=-"], { stdin: "ignore" })).toMatchObject({ exitCode: 1, stderr: "Error: secret `A` expects standard input but none provided" });
  });

  it("the fake's secrets import crashes on a lone quote as flyctl's Go code does", async () => {
    await flyctl().createApp(APP);
    const run = await execa(fly.path, ["secrets", "import", "-a", APP, "--stage"], { input: 'A="\n', reject: false, env: { FLY_API_TOKEN: TOKEN } });
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toContain("Oops, something went wrong! Could you try that again?");
  });
});

describe("redaction", () => {
  it("hides secrets from streamed lines, the tail, error messages and logs", async () => {
    await flyctl().createApp(APP);
    const secret = "s3cr3t-build-value";
    fly.setBehavior({ echo: true, deploy: [{ fail: "transient" }, { fail: "build" }] });
    const lines: string[] = [];
    const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn() };
    const error = await rejection(
      flyctl({ redactor: new Redactor([secret]), log }).deploy({
        cwd: source,
        configPath,
        app: APP,
        buildArgs: { NPM_TOKEN: secret },
        onLine: (line) => lines.push(line),
      }),
    );

    const everything = JSON.stringify([lines, error.tail, error.message, error.reason, log.warn.mock.calls, log.debug.mock.calls]);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(TOKEN);
    expect(lines).toContain("fake flyctl echo: env FLY_API_TOKEN=***");
    expect(lines.some((line) => line.includes("NPM_TOKEN=***"))).toBe(true);
    expect(error.tail.some((line) => line.includes("NPM_TOKEN=***"))).toBe(true);
  });

  it("hides each line of a multi-line secret and ignores values too short to hide", () => {
    const redactor = new Redactor(["abc", "line-one\nline-two"]);
    expect(redactor.redact("abc line-one")).toBe("abc ***");
    expect(redactor.redact("line-one\nline-two")).toBe("***");
    expect(redactor.redact("  line-two")).toBe("  ***");
  });
});

describe("problems before flyctl runs", () => {
  it("without a token nothing runs and the reason names FLY_API_TOKEN", async () => {
    const noToken = flyctl({ token: undefined });
    const attempts = [
      noToken.createApp(APP),
      noToken.appExists(APP),
      noToken.deploy({ cwd: source, configPath, app: APP }),
      noToken.destroyApp(APP),
      noToken.listApps(),
    ];
    for (const attempt of attempts) {
      const error = await rejection(attempt);
      expect(error.kind).toBe("no_token");
      expect(error.reason).toBe("FLY_API_TOKEN is not set on the fly-preview server");
    }
    expect(fly.calls()).toEqual([]);
  });

  it("a missing flyctl binary is a configuration problem with a clear fix", async () => {
    const error = await rejection(flyctl({ path: "/nonexistent/bin/flyctl" }).createApp(APP));
    expect(error.kind).toBe("config");
    expect(error.reason).toBe('flyctl was not found at "/nonexistent/bin/flyctl"; install it or set FLYCTL_PATH');
  });
});

describe("classifying flyctl failures", () => {
  it.each([
    ["Error: failed to acquire leases: Post \"https://api.machines.dev\": read: connection reset by peer", 1, "transient"],
    ["Error: Post \"https://api.fly.io/graphql\": dial tcp: lookup api.fly.io: temporary failure in name resolution", 1, "transient"],
    ["Error: 503 Service Unavailable", 1, "transient"],
    ["Error: context deadline exceeded", 126, "transient"],
    ["Error: Name has already been taken", 1, "name_taken"],
    ['Error: Could not find App "pr-1"', 1, "not_found"],
    ["Error: app not found", 1, "not_found"],
    ["Error: You must be authenticated to view this.", 1, "auth"],
    ["Error: no access token available. Please login with 'flyctl auth login'", 1, "auth"],
    ["Error: failed to fetch an image or build from source: dial tcp 10.0.0.1:2375: connection refused", 1, "build"],
    ["Error: timeout reached waiting for health checks to pass for machine 148e: i/o timeout", 1, "health"],
    ["Error: unknown flag: --ha-false", 1, "config"],
    ["Error: context canceled", 127, "cancelled"],
    ["Error: something new", 1, "unknown"],
  ])("%s (exit %i) is %s", (output, exitCode, kind) => {
    expect(classifyFailure(exitCode, output)).toBe(kind);
  });

  it("looks at flyctl's error, not at the app's own log lines before it", () => {
    const output = ["app: connect ECONNREFUSED: connection refused", "Error: app not found"].join("\n");
    expect(classifyFailure(1, output)).toBe("not_found");
  });
});

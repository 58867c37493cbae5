// The whole server as a child process (`src/main.ts`, the same entry `npm start`
// runs), killed with SIGKILL in the middle of a deploy and started again.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub } from "./fake-github/server.js";
import { DOCKERFILE, pullRequest, REPO, sha, TEST_PRIVATE_KEY, until } from "./harness.js";
import { deliverSigned, fakeWorldEnv, freePort, listen, startServerProcess } from "./server-process.js";
import { openStore } from "../src/store/store.js";

const SECRET = "webhook-secret-for-tests";
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

function startServer(env: Record<string, string>) {
  const server = startServerProcess(env);
  cleanups.push(() => {
    server.child.kill("SIGKILL");
  });
  return server;
}

describe("a server stopped mid-deploy", () => {
  it.each(["SIGKILL", "SIGTERM", "SIGINT"] as const)("by %s finishes the deploy after a restart, with no duplicate app, check run or comment", async (stop) => {
    const gh = await startFakeGitHub();
    const fly = await createFakeFly();
    const dir = await mkdtemp(join(tmpdir(), "fly-preview-crash-"));
    const preview = createServer((_req, res) => res.end("ok"));
    const previewPort = await listen(preview);
    cleanups.push(() => gh.close(), () => fly.cleanup(), () => rm(dir, { recursive: true, force: true }), () => new Promise<void>((r) => preview.close(() => r())));
    cleanups.push(() => fly.killRunning());

    gh.setCommit(REPO, sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });
    // The fake announces a local URL so the health check has something to reach.
    fly.setBehavior({ deployDelayMs: 60_000, url: `http://127.0.0.1:${previewPort}/` });

    const port = await freePort();
    const env = fakeWorldEnv({ gh, fly, port, dir, secret: SECRET, privateKey: TEST_PRIVATE_KEY });
    const healthz = `http://127.0.0.1:${port}/healthz`;
    const up = () => until("the server to answer /healthz", () => fetch(healthz).then((r) => r.ok).catch(() => false), 30_000);

    let server = startServer(env);
    await up();
    const response = await deliverSigned(port, SECRET, pullRequest("opened", { sha: sha(1) }), "crash-delivery-1");
    expect(response.status).toBe(200);

    await until("the deploy to start", () => fly.calls().some((c) => c.argv[0] === "deploy"), 20_000);
    if (stop !== "SIGKILL") {
      // A graceful stop (SIGINT is how Fly stops a machine by default): flyctl stopped,
      // the lease released, nothing left half-done.
      server.child.kill(stop);
      expect(await server.exited).toBe(0);
      const store = await openStore(env.DATABASE_URL);
      const row = await store.get("Codertocat", "Hello-World", 2);
      await store.close();
      expect(row?.lease_owner).toBeNull();
      expect(row?.observed_generation).toBe(0);
      expect(fly.calls().find((c) => c.argv[0] === "deploy")?.signal).toBe("SIGTERM");
    }
    server.child.kill("SIGKILL");
    await server.exited;
    await fly.killRunning();
    fly.setBehavior({ url: `http://127.0.0.1:${previewPort}/` });

    server = startServer(env);
    const check = await until(
      "the check run to finish",
      () => gh.checkRuns.find((c) => c.status === "completed"),
      30_000,
    );

    expect(check.conclusion).toBe("success");
    expect(gh.checkRuns).toHaveLength(1);
    await until("the comment to say ready", () => gh.comments[0]?.body.includes("✅ Preview ready"), 10_000);
    // The deployment's status is a write of its own, paced a second from the comment's,
    // and may come after it: waited for, not assumed.
    await until("the deployment to succeed", () => gh.deployments[0]?.statuses.at(-1)?.state === "success", 10_000);
    expect(gh.comments).toHaveLength(1);
    expect(gh.deployments).toHaveLength(1);
    expect(gh.deployments[0].statuses.map((s) => s.state)).toEqual(["success"]);
    expect(Object.keys(fly.apps())).toEqual(["pr-2-codertocat-hello-world"]);
    expect(fly.calls().filter((c) => c.argv[0] === "deploy")).toHaveLength(2);
  }, 90_000);

  it("by SIGKILL with GitHub writes queued sends them after the restart, once each", async () => {
    const gh = await startFakeGitHub();
    const fly = await createFakeFly();
    const dir = await mkdtemp(join(tmpdir(), "fly-preview-crash-"));
    const preview = createServer((_req, res) => res.end("ok"));
    const previewPort = await listen(preview);
    cleanups.push(() => gh.close(), () => fly.cleanup(), () => rm(dir, { recursive: true, force: true }), () => new Promise<void>((r) => preview.close(() => r())));
    gh.setCommit(REPO, sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });
    fly.setBehavior({ url: `http://127.0.0.1:${previewPort}/` });
    const port = await freePort();
    // Writes ten seconds apart: the run's outcome is known long before GitHub has all of it.
    const env: Record<string, string> = { ...fakeWorldEnv({ gh, fly, port, dir, secret: SECRET, privateKey: TEST_PRIVATE_KEY }), PREVIEW_WRITE_SPACING: "10s" };
    const up = () => until("the server to answer /healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);

    let server = startServer(env);
    await up();
    await deliverSigned(port, SECRET, pullRequest("opened", { sha: sha(1) }), "crash-delivery-queued");
    const store = await openStore(env.DATABASE_URL);
    cleanups.push(() => store.close());
    // The preview is ready and its check run says so (the first write); the deployment and the comment wait their turn.
    await until("the check run to complete", () => gh.checkRuns.find((c) => c.status === "completed"), 20_000);
    const row = await until("the run to end", async () => {
      const preview = await store.get("Codertocat", "Hello-World", 2);
      return preview?.status === "ready" ? preview : undefined;
    });
    expect(row).toMatchObject({ deployed_sha: sha(1), comment_id: null, deployment_id: null });
    // The check run's answer may still be on its way back to the server: it is marked sent then.
    await until("the check run to be marked sent", async () => (await store.surfaceWrites.pending()) === 2);
    server.child.kill("SIGKILL");
    await server.exited;
    expect(gh.comments).toHaveLength(0);
    expect(gh.deployments).toHaveLength(0);

    server = startServer({ ...env, PREVIEW_WRITE_SPACING: "0" });
    await until("the comment to say ready", () => gh.comments[0]?.body.includes("✅ Preview ready"), 20_000);
    await until("the deployment to say success", () => gh.deployments[0]?.statuses.at(-1)?.state === "success", 20_000);
    await until("every write to be marked sent", async () => (await store.surfaceWrites.pending()) === 0);
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.comments).toHaveLength(1);
    expect(gh.deployments).toHaveLength(1);
    expect(fly.calls().filter((c) => c.argv[0] === "deploy")).toHaveLength(1);
  }, 90_000);
});

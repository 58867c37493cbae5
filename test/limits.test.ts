import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { inline } from "../src/github/markdown.js";
import { DOCKERFILE, pullRequest, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

/** Whether a process still runs (a zombie waiting to be reaped has stopped running). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function failed(number: number) {
  return until(`preview #${number} to fail`, async () => {
    const row = await world.settled(number);
    return row.status === "failed" ? row : undefined;
  });
}

function checkFor(commit: string) {
  return until("a completed check run", () => world.gh.checkRuns.find((c) => c.head_sha === commit && c.status === "completed"));
}

describe("a deploy that never ends", () => {
  it("fails at build.timeout, stops flyctl and what it started, and frees the worker for the next pull request", async () => {
    world = await startWorld({ env: { PREVIEW_CONCURRENCY: "1" } });
    const yml = "build:\n  timeout: 2s\nhealth:\n  path: /healthz\n";
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": yml });
    world.commit(sha(2), { Dockerfile: DOCKERFILE, ".preview.yml": yml });
    // A `RUN sleep infinity` with a helper that shrugs off SIGTERM.
    world.fly.setBehavior({ deployDelayMs: 600_000, deployChild: true, ignoreSigterm: true });
    await world.deliver(pullRequest("opened", { sha: sha(1), number: 2 }));
    await world.deliver(pullRequest("opened", { sha: sha(2), number: 3 }));

    // One worker: the second pull request gets it only once the first has given it up.
    const rows = [await failed(2), await failed(3)];
    const reason = "The build took longer than build.timeout (2s) in .preview.yml";
    expect(rows.map((row) => row.last_error)).toEqual([reason, reason]);
    const check = await checkFor(sha(1));
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain(inline(reason));
    expect(world.comments()[0].body).toContain("❌ Preview failed");
    expect(world.comments()[0].body).toContain(inline(reason));
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("failure");

    const deploys = world.deploys();
    expect(deploys).toHaveLength(2);
    for (const call of deploys) {
      expect(call.ignoredSigterm).toBe(true);
      await until("flyctl and its child to be killed", () => !running(call.pid) && !running(call.childPid!));
    }
  });

  it("fails at PREVIEW_MAX_RUN, and the previous deploy keeps serving", async () => {
    world = await startWorld({ env: { PREVIEW_MAX_RUN: "5s" } });
    world.commit(sha(1));
    world.commit(sha(2));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");

    world.fly.setBehavior({ deployDelayMs: 600_000 });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const row = await failed(2);

    const reason = "The deploy took longer than PREVIEW_MAX_RUN (5s), the server's limit";
    expect(row.last_error).toBe(reason);
    expect(row.deployed_sha).toBe(sha(1));
    expect((await checkFor(sha(2))).output?.summary).toContain(inline(reason));
    const body = world.comments()[0].body;
    expect(body).toContain("❌ Preview failed");
    expect(body).toContain(`previous deploy (\`${sha(1).slice(0, 7)}\`) is still serving`);
    expect(world.deploys().at(-1)).toMatchObject({ signal: "SIGTERM", exitCode: 127 });
  });
});

describe("stopping the server", () => {
  it("stops a running flyctl together with what it started", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.fly.setBehavior({ deployDelayMs: 600_000, deployChild: true });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const child = await until("flyctl's child to start", () => world.deploys()[0]?.childPid);

    await world.pool.stop();
    expect(world.deploys()[0]).toMatchObject({ signal: "SIGTERM", exitCode: 127 });
    await until("flyctl's child to be killed", () => !running(child));
    const row = await world.store.get("Codertocat", "Hello-World", 2);
    expect(row?.lease_owner).toBeNull();
  });
});

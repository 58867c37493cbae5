import { afterEach, describe, expect, it } from "vitest";
import { pullRequest, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

// The harness gives flyctl three quick attempts per command: one run of the pool meets
// three transient failures before it gives the deploy back to the schedule.
const IN_RUN_ATTEMPTS = 3;
const transient = (runs: number) => Array.from({ length: runs * IN_RUN_ATTEMPTS }, () => ({ fail: "transient" as const }));

/** What the check run was told, in order: each create or update's status, conclusion and output. */
function checkRunWrites(w: World) {
  return w.gh.requests
    .filter((r) => r.path.includes("/check-runs") && (r.method === "POST" || r.method === "PATCH"))
    .map((r) => r.body as { status?: string; conclusion?: string; output?: { title: string; summary: string } });
}

/** Every body the sticky comment had, in order. */
function commentBodies(w: World): string[] {
  return w.gh.requests.filter((r) => r.path.includes("/comments") && (r.method === "POST" || r.method === "PATCH")).map((r) => r.body.body);
}

describe("a Fly.io outage", () => {
  it("heals without a push: three runs in a row meet Fly.io failing, the fourth deploys, and nothing said failed meanwhile", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [50, 50, 50, 50, 50] } });
    world.commit(sha(1));
    world.fly.setBehavior({ deploy: transient(3) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row).toMatchObject({ status: "ready", deployed_sha: sha(1), retry_attempts: 3, last_error: null });
    expect(world.deploys()).toHaveLength(3 * IN_RUN_ATTEMPTS + 1);
    expect(world.gh.checkRuns).toHaveLength(1);
    expect(world.gh.checkRuns[0].history.map((h) => h.conclusion).filter(Boolean)).toEqual(["success"]);
    expect(world.gh.deployments[0].statuses.map((s) => s.state)).not.toContain("failure");

    const waiting = checkRunWrites(world).filter((w) => w.output?.title.startsWith("Fly.io is failing"));
    expect(waiting.map((w) => w.status)).toEqual(["in_progress", "in_progress", "in_progress"]);
    expect(waiting[0].output!.title).toMatch(/^Fly\.io is failing; trying again at \d\d:\d\d UTC$/);
    expect(waiting[0].output!.summary).toContain("connection reset by peer");
    expect(waiting.map((w) => w.output!.summary.match(/attempt \d of 6 failed/)?.[0])).toEqual([
      "attempt 1 of 6 failed",
      "attempt 2 of 6 failed",
      "attempt 3 of 6 failed",
    ]);

    const bodies = commentBodies(world);
    expect(bodies.some((b) => b.includes("Preview queued") && /trying again at \d\d:\d\d UTC/.test(b))).toBe(true);
    expect(bodies.some((b) => b.includes("Preview failed"))).toBe(false);
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0].body).toContain("✅ Preview ready");
  });

  it("that outlasts every attempt fails the preview, and the comment says a push or /preview redeploy tries again", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [20, 20] } });
    world.commit(sha(1));
    world.fly.setBehavior({ deploy: transient(3) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("attempt 3 of 3");
    expect(row.last_error).toContain("A push or /preview redeploy tries again");
    expect(world.deploys()).toHaveLength(3 * IN_RUN_ATTEMPTS);
    // Failed once, at the end, not at each attempt.
    expect(world.gh.checkRuns).toHaveLength(1);
    expect(world.gh.checkRuns[0].history.map((h) => h.conclusion).filter(Boolean)).toEqual(["failure"]);
    expect(world.gh.checkRuns[0].output?.summary).toContain("A push or /preview redeploy tries again");
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("failure");
    const sticky = world.comments()[0].body;
    expect(sticky).toContain("❌ Preview failed");
    expect(sticky).toContain("A push or /preview redeploy tries again");
  });

  it("waits in progress, saying when it tries again, and a push meanwhile deploys at once", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [60_000] } });
    world.commit(sha(1));
    world.commit(sha(2));
    world.fly.setBehavior({ deploy: transient(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const waiting = await until("a retry to be scheduled", async () => {
      const r = await world.store.get("Codertocat", "Hello-World", 2);
      return r?.retry_attempts === 1 && r.lease_owner === null ? r : undefined;
    });

    expect(waiting.status).toBe("queued");
    expect(waiting.last_error).toMatch(/^Fly\.io is failing \(.*connection reset by peer\) \(attempt 1 of 2; trying again at \d{4}-/);
    const check = world.gh.checkRuns[0];
    expect(check.status).toBe("in_progress");
    expect(check.output?.title).toMatch(/^Fly\.io is failing; trying again at \d\d:\d\d UTC$/);
    // No status yet: the deployment is pending until its outcome.
    expect(world.gh.deployments[0].statuses).toEqual([]);
    expect(world.comments()[0].body).toContain("⏳ Preview queued");
    expect(world.comments()[0].body).toContain("A push deploys at once.");

    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    expect(await world.settled()).toMatchObject({ status: "ready", deployed_sha: sha(2) });
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["cancelled", "success"]);
  });

  it("never shows the Fly token in what it says while waiting", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [60_000] } });
    world.commit(sha(1));
    const message = `Post "https://api.fly.io/graphql?access_token=${world.settings.flyApiToken!}": read: connection reset by peer`;
    world.fly.setBehavior({ deploy: Array.from({ length: IN_RUN_ATTEMPTS }, () => ({ fail: "transient" as const, message })) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const waiting = await until("a retry to be scheduled", async () => {
      const r = await world.store.get("Codertocat", "Hello-World", 2);
      return r?.retry_attempts === 1 && r.lease_owner === null ? r : undefined;
    });

    const check = world.gh.checkRuns[0];
    expect(check.output?.summary).toContain("connection reset by peer");
    for (const text of [waiting.last_error, check.output?.summary, check.output?.text, world.comments()[0].body]) {
      expect(text).not.toContain(world.settings.flyApiToken!);
    }
  });
});

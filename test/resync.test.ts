import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { resync } from "../src/preview/resync.js";
import { pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";

/** A pass as the server runs it, against the world's store and fake GitHub, with a short quiet time. */
async function pass(quietMs = 5) {
  await sleep(quietMs + 1);
  const report = await resync({ store: world.store, github: (id) => world.probot.auth(id), log: { info() {}, warn() {} }, quietMs });
  world.pool.wake();
  return report;
}

/** PR #number deployed and ready at sha(1), GitHub agreeing. */
async function ready(number = 2) {
  world.commit(sha(1));
  world.gh.setPull(REPO, number, { headSha: sha(1) });
  await world.deliver(pullRequest("opened", { sha: sha(1), number }));
  return world.settled(number);
}

describe("finding what lost webhooks missed", () => {
  it("deploys a push whose webhook never arrived", async () => {
    world = await startWorld();
    await ready();
    world.commit(sha(2));
    world.gh.setPull(REPO, 2, { headSha: sha(2) });

    const report = await pass();
    expect(report).toMatchObject({ repositories: 1, pushed: [{ repo: REPO, number: 2, sha: sha(2) }], closed: [], failed: [] });
    const row = await until("the new head deployed", async () => {
      const r = await world.settled();
      return r.deployed_sha === sha(2) ? r : undefined;
    });
    expect(row.status).toBe("ready");
    // Nothing missed: the next pass changes nothing.
    expect(await pass()).toMatchObject({ pushed: [], closed: [] });
  });

  it("destroys the preview of a pull request whose close was never delivered", async () => {
    world = await startWorld();
    await ready();
    world.gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });

    expect(await pass()).toMatchObject({ closed: [{ repo: REPO, number: 2 }] });
    const row = await until("the preview destroyed", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });
    expect(row.destroy_reason).toBe("closed");
    expect(world.fly.calls().some((c) => c.argv[0] === "apps" && c.argv[1] === "destroy" && c.argv.includes(APP))).toBe(true);
  });

  it("leaves alone the pull requests it never knew, and pages through long lists", async () => {
    world = await startWorld();
    await ready(120);
    for (let n = 1; n <= 130; n++) if (n !== 120) world.gh.setPull(REPO, n, { headSha: sha(500 + n) });
    world.commit(sha(2));
    world.gh.setPull(REPO, 120, { headSha: sha(2) });

    const report = await pass();
    expect(report.pushed).toEqual([{ repo: REPO, number: 120, sha: sha(2) }]);
    expect(world.gh.requests.filter((r) => r.method === "GET" && /\/pulls(\?|$)/.test(r.path))).toHaveLength(2);
    expect((await world.store.list()).map((r) => r.number)).toEqual([120]);
  });

  it("reports a repository GitHub would not list, and tries it again next time", async () => {
    world = await startWorld();
    await ready();
    world.commit(sha(2));
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    world.gh.failNext("GET", "/api/v3/repos/Codertocat/Hello-World/pulls", 500, 1);

    expect(await pass()).toMatchObject({ pushed: [], failed: [{ repo: REPO }] });
    expect(await pass()).toMatchObject({ pushed: [{ number: 2, sha: sha(2) }], failed: [] });
  });

  it("runs by itself in the server, and deploys the missed push", async () => {
    // The first pass comes before the push it should find; the reaper's next pass (each second here) finds it.
    world = await startWorld({ resync: { quietMs: 5, firstAfterMs: 10 }, env: { PREVIEW_REAP_INTERVAL: "1s" } });
    await ready();
    world.commit(sha(2));
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    const row = await until("the missed push deployed", async () => {
      const r = await world.settled();
      return r.deployed_sha === sha(2) ? r : undefined;
    });
    expect(row.status).toBe("ready");
  });

  it("leaves alone a pull request with a recent event, even when GitHub's list lags behind it", async () => {
    world = await startWorld();
    await ready();
    world.commit(sha(3));
    // The webhook for sha(3) is in; GitHub's API still lists sha(1) as the head.
    await world.deliver(pullRequest("synchronize", { sha: sha(3) }));
    const report = await resync({ store: world.store, github: (id) => world.probot.auth(id), log: { info() {}, warn() {} }, quietMs: 60_000 });
    expect(report.pushed).toEqual([]);
    expect((await world.store.get("Codertocat", "Hello-World", 2))?.desired_sha).toBe(sha(3));
  });
});

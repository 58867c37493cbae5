import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProbotOctokit } from "probot";
import { describe, expect, it } from "vitest";
import type { Octokit } from "../src/github/octokit.js";
import { paceWrites } from "../src/github/write-pace.js";
import type { Wanted } from "../src/preview/surfaces.js";
import { WriteQueue } from "../src/preview/write-queue.js";
import { openStore, type Preview, type Store } from "../src/store/store.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/server.js";
import { helloWorldPr, pullRequest, REPO, sha, startWorld, until } from "./harness.js";

const CHECK_RUNS = `/api/v3/repos/${REPO}/check-runs`;
const silent: any = { child: () => silent, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };

interface Queued {
  gh: FakeGitHub;
  store: Store;
  queue(holdMs?: number, paced?: boolean): WriteQueue;
  preview(number: number): Promise<Preview>;
  /** GitHub's content writes so far, as "METHOD path" with ids as :id. */
  writes(): string[];
}

/** A store on a file, a fake GitHub, and write queues on them (none started). */
async function queued(onTestFinished: (fn: () => Promise<void>) => void): Promise<Queued> {
  const gh = await startFakeGitHub();
  const dir = await mkdtemp(join(tmpdir(), "fly-preview-queue-"));
  const url = `file:${join(dir, "store.db")}`;
  let store = await openStore(url);
  const queues: WriteQueue[] = [];
  onTestFinished(async () => {
    for (const q of queues) await q.stop();
    await store.close();
    await gh.close();
    await rm(dir, { recursive: true, force: true });
  });
  const github = async () =>
    new ProbotOctokit({ auth: { token: "t" }, baseUrl: `${gh.url}/api/v3`, throttle: { enabled: false }, retry: { enabled: false } }) as unknown as Octokit;
  return {
    gh,
    get store() {
      return store;
    },
    queue(holdMs = 0, paced = false) {
      const octokit = paced ? async (id: number) => paceWrites(await github(), id, { pace: store, spacingMs: 1000, log: silent }) : github;
      const q = new WriteQueue({ store, github: octokit, appId: 1, log: silent, holdMs, retryDelaysMs: [30], pollMs: 50 });
      queues.push(q);
      return q;
    },
    async preview(number) {
      await store.desireDeploy(helloWorldPr(number));
      return (await store.get("Codertocat", "Hello-World", number))!;
    },
    writes() {
      return gh.requests
        .filter((r) => r.method !== "GET" && !r.path.includes("/access_tokens"))
        .map((r) => `${r.method} ${r.path.replace(`/api/v3/repos/${REPO}`, "").replace(/\/\d+/g, "/:id")}`);
    },
  };
}

const started = (n: number): Wanted => ({ surface: "check", state: { sha: sha(n), output: { title: "Deploying", summary: "…" } } });
const checked = (n: number, conclusion: "success" | "cancelled" = "success", ifOpen = false): Wanted => ({
  surface: "check",
  state: { sha: sha(n), conclusion, output: { title: conclusion, summary: "…" }, ifOpen },
});
const commented = (n: number, status: "building" | "ready" | "superseded"): Wanted => ({ surface: "comment", state: { status, sha: sha(n) } });
const deployed = (n: number, state: "pending" | "success" | "inactive"): Wanted => ({ surface: "deployment", state: { sha: sha(n), state } });

async function drained(store: Store) {
  await until("the write queue to drain", async () => (await store.surfaceWrites.pending()) === 0);
}

describe("the write queue's rules", () => {
  it("a surface keeps only its newest state: a comment that went building → ready while the lane was busy is created once, saying ready", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue();
    q.start();
    w.gh.delayNext("POST", CHECK_RUNS, 300);
    await q.want(pr, 1, started(2));
    await until("the check run's create to be under way", () => w.gh.requests.some((r) => r.method === "POST" && r.path === CHECK_RUNS));
    await q.want(pr, 1, commented(2, "building"));
    await q.want(pr, 1, commented(2, "ready"));
    await drained(w.store);
    expect(w.writes()).toEqual(["POST /check-runs", "POST /issues/:id/comments"]);
    expect(w.gh.comments[0].body).toContain("✅ Preview ready");
  });

  it("final states go first, of any pull request of the installation; check runs first among them; then oldest first", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const [a, b] = [await w.preview(2), await w.preview(3)];
    const q = w.queue();
    // Recorded before the queue starts, as after a restart: the order is the queue's, not the arrival's.
    await q.want(a, 1, started(2));
    await q.want(a, 1, commented(2, "building"));
    await q.want(b, 1, commented(3, "ready"));
    await q.want(b, 1, checked(3));
    await q.want(a, 1, deployed(2, "pending"));
    q.start();
    await drained(w.store);
    expect(w.writes()).toEqual([
      "POST /check-runs", // #3's check run, final
      "POST /issues/:id/comments", // #3's comment, final
      "POST /check-runs", // #2's check run, in progress
      "POST /issues/:id/comments", // #2's comment, building: wanted before its deployment
      "POST /deployments",
    ]);
    expect(w.gh.checkRuns.map((c) => [c.head_sha, c.status])).toEqual([
      [sha(3), "completed"],
      [sha(2), "in_progress"],
    ]);
  });

  it("an intermediate state waits the hold time, in case its outcome follows; an outcome goes at once", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue(400);
    q.start();
    await q.want(pr, 1, started(2));
    await new Promise((r) => setTimeout(r, 200));
    expect(w.writes()).toEqual([]);
    const wantedAt = Date.now();
    await q.want(pr, 1, checked(2));
    await until("the check run", () => w.gh.checkRuns[0]);
    expect(w.gh.requests.find((r) => r.method === "POST")!.at - wantedAt).toBeLessThan(300);
    // Created once, already completed: the in-progress state was never sent.
    expect(w.writes()).toEqual(["POST /check-runs"]);
    expect(w.gh.checkRuns[0]).toMatchObject({ status: "completed", conclusion: "success" });
    // And one alone is sent after the hold.
    await q.want(pr, 1, commented(2, "building"));
    await until("the building comment", () => w.gh.comments[0], 2000);
  });

  it("creates an outcome makes pointless fold: a superseded commit GitHub never heard of gets no check run and no deployment", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue();
    await q.want(pr, 1, started(2));
    await q.want(pr, 1, deployed(2, "pending"));
    await q.want(pr, 1, checked(2, "cancelled", true));
    await q.want(pr, 1, deployed(2, "inactive"));
    q.start();
    await drained(w.store);
    expect(w.writes()).toEqual([]);
    expect(await w.store.surfaceWrites.get(pr.id, `check:${sha(2)}`)).toBeUndefined();
  });

  it("a commit whose check run was created in progress gets it cancelled when superseded", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue();
    q.start();
    await q.want(pr, 1, started(2));
    await drained(w.store);
    await q.want(pr, 1, checked(2, "cancelled", true));
    await drained(w.store);
    expect(w.writes()).toEqual(["POST /check-runs", "PATCH /check-runs/:id"]);
    expect(w.gh.checkRuns[0]).toMatchObject({ status: "completed", conclusion: "cancelled" });
  });

  it("a stopped run's late word never replaces a newer desire's", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue();
    await q.want(pr, 2, commented(3, "ready"));
    await q.want(pr, 1, commented(2, "superseded"));
    q.start();
    await drained(w.store);
    expect(w.gh.comments).toHaveLength(1);
    expect(w.gh.comments[0].body).toContain("✅ Preview ready");
    expect(w.gh.comments[0].body).not.toContain("superseded");
  });

  it("a step on the way of a run a newer desire replaced is not sent; its outcome still is", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue();
    await q.want(pr, pr.desired_generation, commented(2, "building"));
    await q.want(pr, pr.desired_generation, checked(2, "success"));
    // A push: the preview's desire moves on before the lane had room.
    await w.store.desireDeploy({ ...helloWorldPr(2), headSha: sha(3) });
    q.start();
    await drained(w.store);
    expect(w.writes()).toEqual(["POST /check-runs"]);
    expect(w.gh.checkRuns[0]).toMatchObject({ head_sha: sha(2), conclusion: "success" });
  });

  it("writes recorded by a process that died, one of them mid-send, are sent by the next", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const dead = w.queue();
    await dead.want(pr, 1, checked(2));
    await dead.want(pr, 1, commented(2, "ready"));
    // The dead process had claimed the comment for two more minutes.
    const row = (await w.store.surfaceWrites.get(pr.id, "comment"))!;
    expect(await w.store.surfaceWrites.claim(row, dead.sender, Date.now() + 120_000)).toBe(true);
    expect(await w.store.pending()).toMatchObject({ writes: 2 });

    // The next start on SQLite forgets every lease and claim (one process owns the file).
    await w.store.releaseAllLeases();
    w.queue().start();
    await drained(w.store);
    expect(w.gh.checkRuns[0]).toMatchObject({ status: "completed", conclusion: "success" });
    expect(w.gh.comments).toHaveLength(1);
  });

  it("a write GitHub fails (502) is tried again later; the rest of the lane goes on meanwhile", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const [a, b] = [await w.preview(2), await w.preview(3)];
    const q = w.queue();
    w.gh.failNext("POST", CHECK_RUNS, 502, 1);
    await q.want(a, 1, checked(2));
    await q.want(b, 1, commented(3, "ready"));
    q.start();
    await drained(w.store);
    expect(w.writes()).toEqual(["POST /check-runs", "POST /issues/:id/comments", "POST /check-runs"]);
    expect(w.gh.checkRuns).toHaveLength(1);
  });

  it("a write refused with a secondary rate limit waits GitHub's retry-after, then goes", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    const q = w.queue();
    w.gh.failNext("POST", CHECK_RUNS, 403, 1, {
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      headers: { "retry-after": "1" },
    });
    await q.want(pr, 1, checked(2));
    q.start();
    await drained(w.store);
    const posts = w.gh.requests.filter((r) => r.method === "POST" && r.path === CHECK_RUNS);
    expect(posts).toHaveLength(2);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(1000);
    expect(w.gh.checkRuns[0]).toMatchObject({ status: "completed", conclusion: "success" });
  });

  it("chooses the write when the pace slot opens: an outcome recorded while the lane waits for it goes first", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const [a, b] = [await w.preview(2), await w.preview(3)];
    const q = w.queue(0, true);
    // Another write just took the installation's slot: the next is a second away.
    expect(await w.store.claimWriteSlot(a.installation_id, 1000, 60_000)).toBe(0);
    await q.want(a, 1, started(2));
    q.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(w.writes()).toEqual([]);
    // #3's outcome arrives while the lane waits for the slot with #2's step queued.
    await q.want(b, 1, checked(3));
    await drained(w.store);
    expect(w.gh.checkRuns.map((c) => [c.head_sha, c.status])).toEqual([
      [sha(3), "completed"],
      [sha(2), "in_progress"],
    ]);
    const posts = w.gh.requests.filter((r) => r.method === "POST" && r.path === CHECK_RUNS);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(950);
  });

  it("stops at once though it waits for a pace slot far away; the write stays queued, unsent", async ({ onTestFinished }) => {
    const w = await queued(onTestFinished);
    const pr = await w.preview(2);
    await w.store.pauseWrites(pr.installation_id, 30_000);
    const q = w.queue(0, true);
    await q.want(pr, 1, checked(2));
    q.start();
    // The lane waits for the slot before it chooses (and claims) the write.
    await new Promise((r) => setTimeout(r, 300));
    const stopping = Date.now();
    await q.stop();
    expect(Date.now() - stopping).toBeLessThan(1000);
    expect(w.writes()).toEqual([]);
    expect(await w.store.surfaceWrites.get(pr.id, `check:${sha(2)}`)).toMatchObject({ sender: null, sent_version: 0, attempts: 0 });
  });
});

describe("GitHub's write lane never holds up a build", () => {
  it("a pull request whose deploy finishes while its first writes are still queued sends only the final states", async ({ onTestFinished }) => {
    const world = await startWorld();
    onTestFinished(() => world.close());
    world.commit(sha(1));
    // GitHub answers the first write (the check run's create) 1.5 s late: the lane is busy.
    const CHECK_RUNS = `/api/v3/repos/${REPO}/check-runs`;
    world.gh.delayNext("POST", CHECK_RUNS, 1500);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");

    // flyctl started while the check run's create was still unanswered.
    const create = world.gh.requests.find((r) => r.method === "POST" && r.path === CHECK_RUNS)!;
    expect(Date.parse(world.deploys()[0].startedAt)).toBeLessThan(create.at + 1500);
    const writes = world.gh.requests.filter((r) => r.method !== "GET" && !r.path.includes("/access_tokens"));
    expect(writes.map((r) => `${r.method} ${r.path.replace(/\/\d+/g, "/:id")}`)).toEqual([
      "POST /api/v3/repos/Codertocat/Hello-World/check-runs",
      "PATCH /api/v3/repos/Codertocat/Hello-World/check-runs/:id",
      "POST /api/v3/repos/Codertocat/Hello-World/deployments",
      "POST /api/v3/repos/Codertocat/Hello-World/deployments/:id/statuses",
      "POST /api/v3/repos/Codertocat/Hello-World/issues/:id/comments",
    ]);
    // The comment was never "building": it is created saying ready.
    expect(world.comments()).toHaveLength(1);
    expect(writes.at(-1)!.body.body).toContain("✅ Preview ready");
    expect(world.gh.deployments[0].statuses.map((s) => s.state)).toEqual(["success"]);
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
  });
});

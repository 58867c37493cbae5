// Every check run fly-preview creates ends, whenever the server dies: the real server
// runs as a child process and is killed with SIGKILL at a chosen step of a run (the
// fake GitHub calls back when a given request arrives), then started again.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProbotOctokit } from "probot";
import { describe, expect, it } from "vitest";
import { findOpenCheckRuns } from "../src/github/check-run.js";
import { createFakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub, type CheckRun } from "./fake-github/server.js";
import { DOCKERFILE, pullRequest, REPO, startWorld, TEST_PRIVATE_KEY, until } from "./harness.js";
import { deliverSigned, fakeWorldEnv, freePort, listen, startServerProcess, type ServerProcess } from "./server-process.js";
import { openStore, type Store } from "../src/store/store.js";

const SECRET = "webhook-secret-for-tests";
const CHECK_RUNS = `/api/v3/repos/${REPO}/check-runs`;
const [OWNER, NAME] = REPO.split("/");
// Distinct short SHAs, so a summary naming one commit cannot be mistaken for another.
const A = "a1".padEnd(40, "0");
const B = "b2".padEnd(40, "0");
const C = "c3".padEnd(40, "0");

/**
 * One pull request (Codertocat/Hello-World#2) served by a server that can be killed and
 * started again. The tests run at once, so each cleans up only its own world. By
 * default with no write pace (so no hold of intermediate states either): each step of a
 * run reaches GitHub as the run takes it, and the server can be killed between any two.
 */
async function world(onTestFinished: (fn: () => Promise<void> | void) => void, settings: Record<string, string> = { PREVIEW_WRITE_SPACING: "0" }) {
  const cleanups: Array<() => Promise<void> | void> = [];
  onTestFinished(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const gh = await startFakeGitHub();
  const fly = await createFakeFly();
  const dir = await mkdtemp(join(tmpdir(), "fly-preview-checks-"));
  const app = createServer((_req, res) => res.end("ok"));
  const appPort = await listen(app);
  cleanups.push(
    () => gh.close(),
    () => fly.cleanup(),
    () => rm(dir, { recursive: true, force: true }),
    () => new Promise<void>((r) => app.close(() => r())),
    () => fly.killRunning(),
  );
  const appUrl = `http://127.0.0.1:${appPort}/`;
  for (const commit of [A, B, C]) gh.setCommit(REPO, commit, { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });
  const port = await freePort();
  const env = { ...fakeWorldEnv({ gh, fly, port, dir, secret: SECRET, privateKey: TEST_PRIVATE_KEY }), ...settings };
  let server: ServerProcess | undefined;

  const w = {
    gh,
    fly,
    /** flyctl deploy takes a minute (a run to kill or supersede midway), `slow` ms, or returns at once. */
    slowDeploys(slow: boolean | number) {
      const deployDelayMs = slow === true ? 60_000 : slow || undefined;
      fly.setBehavior({ url: appUrl, ...(deployDelayMs ? { deployDelayMs } : {}) });
    },
    /** Starts the server and waits until it answers. */
    async up() {
      const started = startServerProcess(env);
      server = started;
      cleanups.push(() => void started.child.kill("SIGKILL"));
      await until("the server to answer /healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    },
    /** SIGKILL, and the flyctl it ran killed too (its orphans would go on writing). */
    async kill() {
      const dying = server!;
      dying.child.kill("SIGKILL");
      await dying.exited;
      await fly.killRunning();
    },
    /** Resolves once the server has been killed on the next request matching method and path. */
    killOn(method: string, path: string, options: { carryOut?: boolean; match?: (body: any) => boolean } = {}) {
      return new Promise<void>((resolve) => gh.onRequest(method, path, () => w.kill().then(resolve), options));
    },
    async deliver(action: "opened" | "synchronize" | "reopened" | "closed", commit: string) {
      gh.setPull(REPO, 2, { headSha: commit, state: action === "closed" ? "closed" : "open" });
      const response = await deliverSigned(port, SECRET, pullRequest(action, { sha: commit }), randomUUID());
      expect(response.status).toBe(200);
    },
    /** While the server is down, a push (or close) the handlers would have recorded. */
    async whileDown(change: { push: string } | { close: true }) {
      const store: Store = await openStore(env.DATABASE_URL);
      try {
        const row = (await store.get(OWNER, NAME, 2))!;
        if ("push" in change) {
          gh.setPull(REPO, 2, { headSha: change.push });
          const pr = { installationId: row.installation_id, owner: OWNER, repo: NAME, number: 2, appName: row.app_name };
          await store.desireDeploy({ ...pr, headSha: change.push, headRef: row.head_ref, baseRef: row.base_ref, draft: false, labels: [], fork: false });
        } else {
          gh.setPull(REPO, 2, { headSha: row.head_sha, state: "closed" });
          await store.desireDestroy(OWNER, NAME, 2);
        }
      } finally {
        await store.close();
      }
    },
    runsOf(commit: string): CheckRun[] {
      return gh.checkRuns.filter((r) => r.head_sha === commit);
    },
    async ended(commit: string, conclusion: string): Promise<CheckRun> {
      return until(`the check run of ${commit.slice(0, 7)} to end ${conclusion}`, () =>
        w.runsOf(commit).find((r) => r.status === "completed" && r.conclusion === conclusion), 30_000);
    },
  };
  return w;
}

type World = Awaited<ReturnType<typeof world>>;

/**
 * What every scenario ends with: the check runs GitHub holds, in the order they were
 * created, each completed as expected (a superseded one cancelled naming the commit
 * that replaced it), and at no moment two check runs of one commit in progress.
 */
function expectEveryCheckRunEnded(w: World, outcomes: Array<[string, { conclusion: string; summary?: string }]>) {
  expect(w.gh.checkRuns.map((r) => ({ sha: r.head_sha, status: r.status, conclusion: r.conclusion }))).toEqual(
    outcomes.map(([commit, o]) => ({ sha: commit, status: "completed", conclusion: o.conclusion })),
  );
  outcomes.forEach(([, o], i) => {
    if (o.summary) expect(w.gh.checkRuns[i].output?.summary).toContain(o.summary);
  });
  expect(mostInProgressAtOnce(w.gh.checkRuns)).toBeLessThanOrEqual(1);
}

/** Replays every check run write in order: the most runs of one commit in progress together. */
function mostInProgressAtOnce(runs: CheckRun[]): number {
  const writes = runs.flatMap((run) => run.history.map((h) => ({ run, open: h.status !== "completed", seq: h.seq })));
  const open = new Map<number, CheckRun>();
  let most = 0;
  for (const write of writes.sort((x, y) => x.seq - y.seq)) {
    if (write.open) open.set(write.run.id, write.run);
    else open.delete(write.run.id);
    const perCommit = new Map<string, number>();
    for (const run of open.values()) perCommit.set(run.head_sha, (perCommit.get(run.head_sha) ?? 0) + 1);
    most = Math.max(most, ...perCommit.values());
  }
  return most;
}

const superseded = (by: string) => ({ conclusion: "cancelled", summary: `\`${by.slice(0, 7)}\` superseded it` });

describe.concurrent("every check run ends, whenever the server is killed", () => {
  it("a check run created just before the server died is picked up again, and so at each later step of the run", async ({ onTestFinished }) => {
    const w = await world(onTestFinished);
    // Long enough for the run's first writes to go while flyctl runs: each kill is mid-run.
    w.slowDeploys(1500);
    await w.up();
    // Killed after GitHub created the check run, before its id was saved.
    let killed = w.killOn("POST", CHECK_RUNS, { carryOut: true });
    await w.deliver("opened", A);
    await killed;
    // Then after the deployment was created.
    killed = w.killOn("POST", `/api/v3/repos/${REPO}/deployments`, { carryOut: true });
    await w.up();
    await killed;
    // Then after the deploy, before the check run says success.
    killed = w.killOn("PATCH", `${CHECK_RUNS}/`, { carryOut: false, match: (body) => body.conclusion === "success" });
    await w.up();
    await killed;
    expect(w.runsOf(A).map((r) => r.status)).toEqual(["in_progress"]);

    await w.up();
    await w.ended(A, "success");
    expectEveryCheckRunEnded(w, [[A, { conclusion: "success" }]]);
    // The deployment created before the second death was found again, not created twice.
    await until("the deployment to succeed", () => w.gh.deployments[0]?.statuses.length > 0, 10_000);
    expect(w.gh.deployments.map((d) => d.statuses.map((s) => s.state))).toEqual([["success"]]);
  }, 90_000);

  it("a check run created already completed just before the server died is not created twice", async ({ onTestFinished }) => {
    // A pace of 5 s holds the run's first (intermediate) states for 5 s, far longer than a
    // run with an instant deploy takes even on a loaded machine (at the default 1 s, CI once
    // sent the in-progress create first): the run's outcome comes before its start was
    // sent, so the check run is created completed.
    const w = await world(onTestFinished, { PREVIEW_WRITE_SPACING: "5s" });
    w.slowDeploys(false);
    await w.up();
    const killed = w.killOn("POST", CHECK_RUNS, { carryOut: true });
    await w.deliver("opened", A);
    await killed;
    expect(w.runsOf(A).map((r) => r.conclusion)).toEqual(["success"]);

    await w.up();
    await until("the comment to say ready", () => w.gh.comments[0]?.body.includes("✅ Preview ready"), 60_000);
    expectEveryCheckRunEnded(w, [[A, { conclusion: "success" }]]);
  }, 90_000);

  it("three commits pushed in a row while runs keep dying all end, each older one cancelled naming the commit that superseded it", async ({ onTestFinished }) => {
    const w = await world(onTestFinished);
    w.slowDeploys(true);
    await w.up();
    await w.deliver("opened", A);
    // Killed during flyctl deploy, once A's check run exists (flyctl does not wait for it).
    await until("A's deploy to start and its check run to exist", () => w.fly.calls().some((c) => c.argv[0] === "deploy") && w.runsOf(A).length > 0, 20_000);
    await w.kill();
    await w.whileDown({ push: B });
    // B's run dies after GitHub created its check run, before the id was saved.
    const killed = w.killOn("POST", CHECK_RUNS, { carryOut: true, match: (body) => body.head_sha === B });
    await w.up();
    await killed;
    await w.whileDown({ push: C });
    w.slowDeploys(false);

    await w.up();
    await w.ended(C, "success");
    expectEveryCheckRunEnded(w, [[A, superseded(B)], [B, superseded(C)], [C, { conclusion: "success" }]]);
  }, 90_000);

  it("a run superseded by a push that dies before cancelling its check run has it cancelled by the next run, after an earlier run ended", async ({ onTestFinished }) => {
    const w = await world(onTestFinished);
    // The first commit's config is invalid: its check run fails, and the preview's status with it.
    w.gh.setCommit(REPO, A, { Dockerfile: DOCKERFILE, ".preview.yml": "port: nope\n" });
    w.slowDeploys(true);
    await w.up();
    await w.deliver("opened", A);
    await w.ended(A, "failure");

    await w.deliver("synchronize", B);
    // flyctl does not wait for the check run: both, in either order.
    await until("B's deploy to start and its check run to exist", () => w.fly.calls().some((c) => c.argv[0] === "deploy") && w.runsOf(B).length > 0, 20_000);
    const killed = w.killOn("PATCH", `${CHECK_RUNS}/${w.runsOf(B)[0].id}`, { carryOut: false, match: (body) => body.conclusion === "cancelled" });
    await w.deliver("synchronize", C);
    await killed;
    expect(w.runsOf(B).map((r) => r.status)).toEqual(["in_progress"]);

    w.slowDeploys(false);
    await w.up();
    await w.ended(C, "success");
    expectEveryCheckRunEnded(w, [[A, { conclusion: "failure" }], [B, superseded(C)], [C, { conclusion: "success" }]]);
  }, 90_000);

  it("a pull request closed while its run was dying gets that run's check run cancelled, whether or not the run showed anything else", async ({ onTestFinished }) => {
    const w = await world(onTestFinished);
    w.slowDeploys(false);
    await w.up();
    // Nothing else is shown yet: no comment, no Fly app.
    const killed = w.killOn("POST", CHECK_RUNS, { carryOut: true });
    await w.deliver("opened", A);
    await killed;
    await w.whileDown({ close: true });

    const closed = { conclusion: "cancelled", summary: "the pull request was closed" };
    await w.up();
    await w.ended(A, "cancelled");
    expectEveryCheckRunEnded(w, [[A, closed]]);

    // Reopened (a new check run), then closed during the deploy: the server dies before
    // the run cancels its check run.
    w.slowDeploys(true);
    await w.deliver("reopened", A);
    await until("the deploy to start and its check run to exist", () => w.fly.calls().some((c) => c.argv[0] === "deploy") && w.gh.checkRuns.length === 2, 20_000);
    const reopened = w.gh.checkRuns[1];
    const dying = w.killOn("PATCH", `${CHECK_RUNS}/${reopened.id}`, { carryOut: false, match: (body) => body.conclusion === "cancelled" });
    await w.deliver("closed", A);
    await dying;
    expect(reopened.status).toBe("in_progress");

    await w.up();
    await until("the check run to be cancelled", () => reopened.status === "completed", 30_000);
    expectEveryCheckRunEnded(w, [[A, closed], [A, closed]]);
  }, 90_000);
});

describe("a check run left open by a run that stopped", () => {
  it("ends when the next run for the same commit deploys nothing, because the trigger rules now skip it", async ({ onTestFinished }) => {
    const w = await startWorld();
    onTestFinished(() => w.close());
    w.commit(A, { Dockerfile: DOCKERFILE, ".preview.yml": "trigger:\n  labels: [preview]\n" });
    // The run stops after GitHub created the check run, before the answer (its id) arrived.
    let stopping: Promise<void> | undefined;
    w.gh.onRequest("POST", CHECK_RUNS, () => void (stopping = w.pool.stop()), { carryOut: true });
    await w.deliver(pullRequest("opened", { sha: A, labels: ["preview"] }));
    await until("the run to stop", () => stopping !== undefined);
    await stopping;
    expect(w.gh.checkRuns.map((r) => r.status)).toEqual(["in_progress"]);

    // Someone swapped the label meanwhile: the run resumed for the same commit deploys nothing.
    await w.deliver(pullRequest("labeled", { sha: A, labels: ["wip"] }));
    w.pool.start();
    expect((await w.settled()).status).toBe("skipped");
    expect(w.gh.checkRuns.map((r) => ({ status: r.status, conclusion: r.conclusion, title: r.output?.title }))).toEqual([
      { status: "completed", conclusion: "neutral", title: "Not deployed" },
    ]);
    expect(w.gh.checkRuns[0].output?.summary).toContain("none of the labels in trigger.labels");
  });
});

describe("a deployment created by a run that stopped before saving its id", () => {
  it("is found again by the next run and gets its outcome, instead of a second deployment", async ({ onTestFinished }) => {
    const w = await startWorld();
    onTestFinished(() => w.close());
    w.commit(A);
    let stopping: Promise<void> | undefined;
    w.gh.onRequest("POST", `/api/v3/repos/${REPO}/deployments`, () => void (stopping = w.pool.stop()), { carryOut: true });
    await w.deliver(pullRequest("opened", { sha: A }));
    await until("the run to stop", () => stopping !== undefined);
    await stopping;
    expect(w.gh.deployments).toHaveLength(1);

    w.pool.start();
    expect((await w.settled()).status).toBe("ready");
    expect(w.gh.deployments.map((d) => ({ ref: d.ref, states: d.statuses.map((s) => s.state) }))).toEqual([{ ref: A, states: ["success"] }]);
  });

  it("is not confused with another App's deployment of the same environment", async ({ onTestFinished }) => {
    const w = await startWorld();
    onTestFinished(() => w.close());
    w.commit(A);
    w.gh.deployments.push({ id: 99, repo: REPO, ref: A, environment: "pr-2", performed_via_github_app: { id: 2, slug: "other-preview" }, statuses: [] });
    await w.deliver(pullRequest("opened", { sha: A }));
    expect((await w.settled()).status).toBe("ready");
    expect(w.gh.deployments.map((d) => [d.id, d.statuses.map((s) => s.state)])).toEqual([
      [99, []],
      [expect.any(Number), ["success"]],
    ]);
  });
});

describe("a check run left open by a run that stopped, when the next run gives up", () => {
  it("is cancelled naming the newer commit all the same, not left for the next push, and the newer commit gets no check run", async ({ onTestFinished }) => {
    const w = await startWorld({ pool: { retryDelaysMs: [] } });
    onTestFinished(() => w.close());
    w.commit(A);
    w.commit(B);
    let stopping: Promise<void> | undefined;
    w.gh.onRequest("POST", CHECK_RUNS, () => void (stopping = w.pool.stop()), { carryOut: true });
    await w.deliver(pullRequest("opened", { sha: A }));
    await until("the run to stop", () => stopping !== undefined);
    await stopping;

    // B's run fails reading its config (GitHub answers 500) and gives up.
    w.gh.failNext("GET", `/api/v3/repos/${REPO}/contents/`, 500);
    await w.deliver(pullRequest("synchronize", { sha: B }));
    w.pool.start();
    expect((await w.settled()).status).toBe("failed");
    // Told to GitHub after the store says failed.
    await until("A's check run to end", () => w.gh.checkRuns[0].status === "completed", 5_000).catch(() => undefined);
    expect(w.gh.checkRuns.map((r) => ({ sha: r.head_sha, status: r.status, conclusion: r.conclusion }))).toEqual([
      { sha: A, status: "completed", conclusion: "cancelled" },
    ]);
    expect(w.gh.checkRuns[0].output?.summary).toContain(`\`${B.slice(0, 7)}\` superseded it`);
  });
});

describe("finding our check runs of a commit on GitHub", () => {
  it("reads every page, and keeps only this App's Fly Preview runs of this preview not yet completed, newest first", async ({ onTestFinished }) => {
    const gh = await startFakeGitHub();
    onTestFinished(() => gh.close());
    const run = (id: number, over: Partial<CheckRun> = {}): CheckRun => ({
      id, repo: REPO, name: "Fly Preview", head_sha: A, external_id: "7", status: "completed", conclusion: "success", history: [], ...over,
    });
    // Two pages of 100: one open run on the first, the others on the second.
    gh.checkRuns.push(...Array.from({ length: 150 }, (_, i) => (i === 10 ? run(11, { status: "in_progress", conclusion: null }) : run(i + 1))));
    gh.checkRuns.push(
      run(200, { status: "in_progress", conclusion: null }),
      run(201, { status: "in_progress", conclusion: null, external_id: "8" }),
      run(202, { status: "in_progress", conclusion: null, name: "CI" }),
      run(203, { status: "in_progress", conclusion: null, head_sha: B }),
      // Another App's run of the same name and external id (a second fly-preview App, say).
      run(204, { status: "in_progress", conclusion: null, app: { id: 2, slug: "other-preview" } }),
    );
    const octokit = new ProbotOctokit({ auth: { token: "t" }, baseUrl: `${gh.url}/api/v3`, throttle: { enabled: false }, retry: { enabled: false } });
    const [owner, repo] = REPO.split("/");
    const open = await findOpenCheckRuns(octokit as any, { owner, repo, sha: A, externalId: "7", appId: 1 });
    expect(open.map((r) => r.id)).toEqual([200, 11]);
    expect(gh.requests.filter((r) => r.path.includes("/check-runs"))).toHaveLength(2);
  });
});

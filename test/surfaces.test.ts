import { ProbotOctokit } from "probot";
import { describe, expect, it } from "vitest";
import type { Octokit } from "../src/github/octokit.js";
import { Reporter, type OpenCheckRuns } from "../src/preview/reporter.js";
import { SurfaceWriter, type Surface } from "../src/preview/surfaces.js";
import type { Preview } from "../src/store/store.js";
import { startFakeGitHub } from "./fake-github/server.js";
import { pullRequest, REPO, sha, startWorld, until } from "./harness.js";

/** A write that stays in flight until `open()`: GitHub's lane, busy. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** A writer whose sends are recorded as "surface:state", the first one held at a gate. */
function recorded() {
  const writer = new SurfaceWriter();
  const sent: string[] = [];
  const busy = gate();
  const want = (surface: Surface, state: string, final = false) =>
    writer.want(surface, {
      final,
      send: async () => {
        sent.push(`${surface}:${state}`);
        if (sent.length === 1) await busy.opened;
      },
    });
  return { writer, sent, want, busy };
}

describe("the writes of one run", () => {
  it("a comment that went building → deploying → ready while the lane was busy is edited once, to ready", async () => {
    const { writer, sent, want, busy } = recorded();
    want("check", "in_progress");
    want("comment", "building");
    want("comment", "deploying");
    want("comment", "ready", true);
    busy.open();
    await writer.flush();
    expect(sent).toEqual(["check:in_progress", "comment:ready"]);
  });

  it("what a person waits for goes first: a final state ahead of an earlier intermediate one", async () => {
    const { writer, sent, want, busy } = recorded();
    want("check", "in_progress");
    want("deployment", "created");
    want("comment", "building");
    want("comment", "ready", true);
    want("check", "success", true);
    busy.open();
    await writer.flush();
    // Final states in the surfaces' order (the check run first, so the comment links it), then the rest.
    expect(sent).toEqual(["check:in_progress", "check:success", "comment:ready", "deployment:created"]);
  });

  it("a state wanted after the lane went idle is still sent, and flush waits for it", async () => {
    const { writer, sent, want, busy } = recorded();
    want("check", "in_progress");
    busy.open();
    await writer.flush();
    want("check", "success", true);
    await writer.flush();
    expect(sent).toEqual(["check:in_progress", "check:success"]);
  });

  it("a write GitHub refuses is thrown by flush, and nothing after it is sent", async () => {
    const writer = new SurfaceWriter();
    const sent: string[] = [];
    const refused = new Error("GitHub answered 502");
    writer.want("check", { final: false, send: () => Promise.reject(refused) });
    writer.want("comment", { final: false, send: async () => void sent.push("comment") });
    await expect(writer.flush()).rejects.toBe(refused);
    writer.want("check", { final: true, send: async () => void sent.push("check") });
    await expect(writer.flush()).rejects.toBe(refused);
    expect(writer.failed(refused)).toBe(true);
    expect(sent).toEqual([]);
  });

  it("a run that stops drops what waits, and lets the write under way finish", async () => {
    const { writer, sent, want, busy } = recorded();
    want("check", "in_progress");
    want("comment", "building");
    const stopped = writer.stop();
    busy.open();
    await stopped;
    expect(sent).toEqual(["check:in_progress"]);
  });
});

describe("creates a newer state makes pointless are folded", () => {
  async function reporterOnFakeGitHub(onTestFinished: (fn: () => Promise<void>) => void) {
    const gh = await startFakeGitHub();
    onTestFinished(() => gh.close());
    const octokit = new ProbotOctokit({ auth: { token: "t" }, baseUrl: `${gh.url}/api/v3`, throttle: { enabled: false }, retry: { enabled: false } });
    const [owner, repo] = REPO.split("/");
    const preview = {
      id: 7, owner, repo, number: 2, app_name: "pr-2-codertocat-hello-world", head_ref: "changes",
      check_run_id: null, check_run_sha: null, deployment_id: null, deployment_sha: null, comment_id: null, comment_body_hash: null,
    } as unknown as Preview;
    const open = new Set<string>();
    const checks: OpenCheckRuns = {
      openCheckRun: async (_id, commit) => !open.has(commit) && !!open.add(commit),
      openCheckRuns: async () => [...open],
      checkRunEnded: async (_id, commit) => void open.delete(commit),
    };
    const reporter = new Reporter(octokit as unknown as Octokit, preview, async () => undefined, Date.now, 1, checks);
    return { gh, reporter, open };
  }

  it("a check run still unsent when its run finishes is created once, already completed", async ({ onTestFinished }) => {
    const { gh, reporter, open } = await reporterOnFakeGitHub(onTestFinished);
    const writer = new SurfaceWriter();
    const busy = gate();
    writer.want("comment", { final: false, send: () => busy.opened });
    writer.want("check", { final: false, send: () => reporter.startCheck(sha(1), { title: "Deploying", summary: "…" }) });
    writer.want("check", { final: true, send: () => reporter.completedCheck(sha(1), "success", { title: "Preview ready", summary: "…" }) });
    busy.open();
    await writer.flush();
    expect(gh.checkRuns.map((r) => r.history.map((h) => h.status))).toEqual([["completed"]]);
    expect(gh.checkRuns[0].conclusion).toBe("success");
    expect(open.size).toBe(0);
  });

  it("a deployment still unsent when its run is superseded is never created", async ({ onTestFinished }) => {
    const { gh, reporter } = await reporterOnFakeGitHub(onTestFinished);
    const writer = new SurfaceWriter();
    const busy = gate();
    writer.want("check", { final: false, send: () => busy.opened });
    writer.want("deployment", { final: false, send: () => reporter.startDeployment(sha(1)) });
    writer.want("deployment", { final: true, send: () => reporter.endDeployment(sha(1), "inactive", { description: "Superseded" }) });
    busy.open();
    await writer.flush();
    expect(gh.deployments).toEqual([]);
    expect(gh.requests.filter((r) => r.method !== "GET")).toEqual([]);
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

  it("a GitHub failure on a start write lets flyctl finish, then fails the run so the pool tries it again", async ({ onTestFinished }) => {
    const world = await startWorld({ pool: { retryDelaysMs: [50] } });
    onTestFinished(() => world.close());
    world.commit(sha(1));
    world.gh.failNext("POST", `/api/v3/repos/${REPO}/deployments`, 502, 1);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("a retry to be scheduled", async () => (await world.store.get("Codertocat", "Hello-World", 2))?.retry_attempts === 1);
    const row = await world.settled();
    expect(row).toMatchObject({ status: "ready", retry_attempts: 1 });
    // The first run's flyctl ended; the second released the image it built, without a build.
    expect(world.deploys().map((d) => [d.exitCode, d.argv.includes("--image")])).toEqual([
      [0, false],
      [0, true],
    ]);
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
    expect(world.gh.deployments.map((d) => d.statuses.map((s) => s.state))).toEqual([["success"]]);
  });
});

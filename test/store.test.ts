import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrationsFor } from "../src/store/migrations.js";
import { APP_REMOVED_OUTCOME, openStore, type PullRequestInfo, type Store } from "../src/store/store.js";
import { PostgresWebhookDesires, type DesireRow } from "../src/store/webhook-desire.js";
import { DIALECTS } from "./databases.js";
import { prInfo } from "./harness.js";

describe.each(DIALECTS)("the store on $dialect", (database) => {
  let store: Store;
  let now = 1_000_000;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    now = 1_000_000;
    const created = await database.create();
    drop = created.drop;
    store = await openStore(created.url, () => now);
  });
  afterEach(async () => {
    await store.close();
    await drop();
  });

  const pr = prInfo;

  describe("the store", () => {
    it("records a delivery id once", async () => {
      expect(await store.firstDelivery("d1")).toBe(true);
      expect(await store.firstDelivery("d1")).toBe(false);
      expect(await store.firstDelivery("d2")).toBe(true);
    });

    it("bumps the generation only when the desire changes", async () => {
      expect(await store.desireDeploy(pr())).toEqual({ changed: true });
      expect(await store.desireDeploy(pr())).toEqual({ changed: false });
      expect(await store.desireDeploy(pr({ headSha: "b".repeat(40) }))).toEqual({ changed: true });
      expect(await store.desireDestroy("acme", "web", 7)).toEqual({ changed: true });
      expect(await store.desireDestroy("acme", "web", 7)).toEqual({ changed: false });
      const row = await store.get("acme", "web", 7);
      expect(row).toMatchObject({ desired_action: "destroy", desired_generation: 3, desired_sha: null });
    });

    it("records a webhook's delivery and desire together, and a redelivery changes nothing", async () => {
      expect(await store.desireDeployOnce("d1", pr())).toEqual({ changed: true });
      now += 10;
      expect(await store.desireDeployOnce("d1", pr({ headSha: "b".repeat(40), labels: ["x"] }))).toBeUndefined();
      expect(await store.get("acme", "web", 7)).toMatchObject({ desired_generation: 1, desired_sha: "a".repeat(40), labels: "[]", updated_at: 1_000_000 });
      expect(await store.desireDeployOnce("d2", pr({ labels: ["x"] }))).toEqual({ changed: false });
      expect(await store.get("acme", "web", 7)).toMatchObject({ desired_generation: 1, labels: '["x"]', updated_at: 1_000_010 });
      expect(await store.desireDeployOnce("d3", pr({ headSha: "b".repeat(40) }))).toEqual({ changed: true });
      expect(await store.get("acme", "web", 7)).toMatchObject({ desired_generation: 2, desired_sha: "b".repeat(40), status: "queued" });
      expect(await store.firstDelivery("d3")).toBe(false);
    });

    it("writes a burst of webhooks together, each answered as if written alone and in order", async () => {
      const sha = (c: string) => c.repeat(40);
      const burst: Array<[string, Partial<PullRequestInfo>]> = [
        ["b1", { number: 1, headSha: sha("a") }],
        ["b2", { number: 2, headSha: sha("a") }],
        ["b3", { number: 1, headSha: sha("b") }],
        ["b4", { number: 1, headSha: sha("b") }],
        ["b2", { number: 3, headSha: sha("a") }], // the same delivery id again: a redelivery
        ["b5", { number: 1, headSha: sha("c") }],
        ["b6", { number: 2, headSha: sha("a"), draft: true }],
      ];
      const results = await Promise.all(burst.map(([id, over]) => store.desireDeployOnce(id, pr({ ...over, appName: `pr-${over.number}-acme-web` }))));
      expect(results).toEqual([{ changed: true }, { changed: true }, { changed: true }, { changed: false }, undefined, { changed: true }, { changed: false }]);
      expect(await store.get("acme", "web", 1)).toMatchObject({ desired_generation: 3, desired_sha: sha("c") });
      expect(await store.get("acme", "web", 2)).toMatchObject({ desired_generation: 1, draft: 1 });
      expect(await store.get("acme", "web", 3)).toBeUndefined();
    });

    it("has nothing to destroy for a pull request it never saw", async () => {
      expect(await store.desireDestroy("acme", "web", 99)).toEqual({ changed: false });
      expect(await store.get("acme", "web", 99)).toBeUndefined();
    });

    it("lets a desire settle before it is claimed, then leases it to one worker", async () => {
      await store.desireDeploy(pr());
      expect(await store.claim("w1", 1000, 500)).toBeUndefined();
      now += 500;
      const claim = await store.claim("w1", 1000, 500);
      expect(claim?.generation).toBe(1);
      expect(await store.claim("w2", 1000, 500)).toBeUndefined();
    });

    it("gives an expired lease to the next worker, and ignores the old one's writes", async () => {
      await store.desireDeploy(pr());
      const first = await store.claim("w1", 1000, 0);
      now += 1001;
      const second = await store.claim("w2", 1000, 0);
      expect(second?.preview.id).toBe(first?.preview.id);
      await store.finish(first!.preview.id, "w1", 1, { status: "failed" });
      expect((await store.get("acme", "web", 7))?.status).toBe("queued");
      await store.finish(second!.preview.id, "w2", 1, { status: "ready" });
      const row = await store.get("acme", "web", 7);
      expect(row).toMatchObject({ status: "ready", observed_generation: 1, lease_owner: null });
      expect(await store.claim("w3", 1000, 0)).toBeUndefined();
    });

    it("holds a run that will be tried again until its time, unless a newer desire comes", async () => {
      await store.desireDeploy(pr());
      const claim = await store.claim("w1", 1000, 0);
      await store.retryLater(claim!.preview.id, "w1", claim!.generation, { at: now + 500, attempts: 1, error: "GitHub answered 502" });
      expect(await store.get("acme", "web", 7)).toMatchObject({ status: "queued", last_error: "GitHub answered 502", lease_owner: null, retry_attempts: 1 });
      expect(await store.claim("w2", 1000, 0)).toBeUndefined();
      now += 500;
      const again = await store.claim("w2", 1000, 0);
      expect(again).toMatchObject({ generation: 1, preview: { retry_generation: 1, retry_attempts: 1 } });
      await store.retryLater(again!.preview.id, "w2", 1, { at: now + 60_000, attempts: 2, error: "still 502" });
      await store.desireDeploy(pr({ headSha: "b".repeat(40) }));
      expect((await store.claim("w3", 1000, 0))?.generation).toBe(2);
    });

    it("re-evaluates a skipped pull request on its next event", async () => {
      await store.desireDeploy(pr({ draft: true }));
      const claim = await store.claim("w1", 1000, 0);
      await store.finish(claim!.preview.id, "w1", claim!.generation, { status: "skipped" });
      expect(await store.desireDeploy(pr({ draft: false }))).toEqual({ changed: true });
    });

    it("judges a preview again when a label goes or it turns draft, unless it has none, is paused or is being destroyed", async () => {
      await store.desireDeploy(pr({ number: 8 }));
      const skipped = await store.claim("w1", 1000, 0);
      await store.finish(skipped!.preview.id, "w1", skipped!.generation, { status: "skipped" });
      expect(await store.recheck("acme", "web", 8)).toEqual({ changed: false });

      await store.desireDeploy(pr(), { by: "mo" });
      const claim = await store.claim("w1", 1000, 0);
      await store.finish(claim!.preview.id, "w1", claim!.generation, { status: "ready", app_created: 1 });
      expect(await store.recheck("acme", "web", 7)).toEqual({ changed: true });
      // A deploy a command asked for passed over the trigger rules; the rules judge it now.
      expect(await store.get("acme", "web", 7)).toMatchObject({ desired_generation: 2, desired_by: null });

      await store.desireDestroy("acme", "web", 7, { reason: "command", by: "mo" });
      expect(await store.recheck("acme", "web", 7)).toEqual({ changed: false });
      expect(await store.recheck("acme", "web", 99)).toEqual({ changed: false });
    });

    it("releases every lease at start-up of a single-process store", async () => {
      await store.desireDeploy(pr());
      await store.claim("dead-worker", 60_000, 0);
      expect(await store.releaseAllLeases()).toBe(1);
      expect((await store.claim("w1", 1000, 0))?.generation).toBe(1);
    });

    it("remembers each commit whose check run may be left in progress until it has ended", async () => {
      await store.desireDeploy(pr());
      const { id } = (await store.get("acme", "web", 7))!;
      expect(await store.openCheckRun(id, "a".repeat(40))).toBe(true);
      now += 10;
      expect(await store.openCheckRun(id, "b".repeat(40))).toBe(true);
      // Recorded again: an earlier run got this far and may have created it.
      expect(await store.openCheckRun(id, "a".repeat(40))).toBe(false);
      expect(await store.openCheckRuns(id)).toEqual(["a".repeat(40), "b".repeat(40)]);
      await store.checkRunEnded(id, "a".repeat(40));
      expect(await store.openCheckRuns(id)).toEqual(["b".repeat(40)]);
      expect(await store.openCheckRuns(id + 1)).toEqual([]);
    });
  });

  describe("the rows of several apps of one pull request", () => {
    // What an `apps:` block needs of the store (docs/monorepos.md): rows keyed by app
    // beside the pull request's own, which webhooks and commands keep addressing alone.
    const addApp = async (app: string) => {
      const own = (await store.get("acme", "web", 7))!;
      await store.db
        .insertInto("previews")
        .values({ ...own, id: undefined, app_key: app, app_name: `pr-7-${app}-acme-web`, desired_generation: 1, observed_generation: 0 } as never)
        .execute();
    };

    it("keeps one row per app, the pull request's own found without an app key", async () => {
      await store.desireDeploy(pr());
      await addApp("api");
      await addApp("web");
      expect((await store.get("acme", "web", 7))!.app_key).toBe("");
      expect((await store.get("acme", "web", 7, "api"))!.app_name).toBe("pr-7-api-acme-web");
      expect((await store.appsOf("acme", "web", 7)).map((r) => r.app_key)).toEqual(["api", "web"]);
      await expect(addApp("api")).rejects.toThrow(/unique|UNIQUE|duplicate/);
    });

    it("lets webhooks, rechecks and destroys address the pull request's own row only", async () => {
      await store.desireDeployOnce("d1", pr());
      await addApp("api");
      expect(await store.desireDeployOnce("d2", pr({ headSha: "b".repeat(40) }))).toEqual({ changed: true });
      expect(await store.desireDeploy(pr({ headSha: "c".repeat(40) }))).toEqual({ changed: true });
      expect(await store.recheck("acme", "web", 7)).toEqual({ changed: true });
      expect(await store.desireDestroy("acme", "web", 7)).toEqual({ changed: true });
      expect(await store.get("acme", "web", 7)).toMatchObject({ desired_action: "destroy", desired_generation: 5 });
      // The app's row is as it was made: its desires come from the pull request's run.
      expect(await store.get("acme", "web", 7, "api")).toMatchObject({ desired_action: "deploy", desired_sha: "a".repeat(40), desired_generation: 1 });
    });
  });

  describe("handing a pull request's desire to its apps", () => {
    const app = (appKey: string, rebuild = true) => ({ appKey, appName: `pr-7-${appKey}-acme-web`, rebuild });
    const own = async () => (await store.get("acme", "web", 7))!;
    const rowOf = async (appKey: string) => (await store.get("acme", "web", 7, appKey))!;

    it("makes a row for each new app, with the pull request's facts and a deploy desire", async () => {
      await store.desireDeploy(pr({ labels: ["preview"] }));
      expect(await store.desireApps(await own(), "a".repeat(40), [app("api"), app("web")])).toEqual({ deploy: ["api", "web"], unchanged: [], removed: [], commandPassedOn: false });
      expect(await rowOf("api")).toMatchObject({
        app_name: "pr-7-api-acme-web",
        installation_id: 1,
        head_ref: "feature",
        labels: '["preview"]',
        desired_action: "deploy",
        desired_sha: "a".repeat(40),
        desired_generation: 1,
        observed_generation: 0,
        status: "queued",
      });
      // Each is claimed on its own, like any preview: the pull request's row and its two apps.
      const claimed = [];
      for (let i = 0; i < 3; i++) claimed.push((await store.claim(`worker-${i}`, 60_000, 0))!.preview.app_key);
      expect(claimed.sort()).toEqual(["", "api", "web"]);
    });

    it("asks a rebuild of a new commit, leaves an untouched app alone, and only once per commit", async () => {
      await store.desireDeploy(pr());
      await store.desireApps(await own(), "a".repeat(40), [app("api"), app("web")]);
      now += 1000;
      await store.desireDeploy(pr({ headSha: "b".repeat(40) }));
      expect(await store.desireApps(await own(), "b".repeat(40), [app("api"), app("web", false)])).toEqual({ deploy: ["api"], unchanged: ["web"], removed: [], commandPassedOn: false });
      expect(await rowOf("api")).toMatchObject({ desired_sha: "b".repeat(40), desired_generation: 2, head_sha: "b".repeat(40) });
      expect(await rowOf("web")).toMatchObject({ desired_sha: "a".repeat(40), desired_generation: 1, head_sha: "b".repeat(40) });
      // The same decision again (a redelivered webhook, a retried run) asks nothing new.
      await store.desireApps(await own(), "b".repeat(40), [app("api"), app("web", false)]);
      expect((await rowOf("api")).desired_generation).toBe(2);
    });

    it("destroys the apps no longer in apps:, and all of them with the pull request", async () => {
      await store.desireDeploy(pr());
      await store.desireApps(await own(), "a".repeat(40), [app("api"), app("web"), app("worker")]);
      expect(await store.desireApps(await own(), "a".repeat(40), [app("api"), app("web")])).toEqual({ deploy: ["api", "web"], unchanged: [], removed: ["worker"], commandPassedOn: false });
      expect(await rowOf("worker")).toMatchObject({ desired_action: "destroy", destroy_reason: "removed", desired_generation: 2 });
      expect(await store.destroyApps(await own(), { reason: "command", by: "mo" })).toEqual({ apps: ["api", "web"], commandPassedOn: false });
      expect(await rowOf("api")).toMatchObject({ desired_action: "destroy", destroy_reason: "command", destroyed_by: "mo", paused: 1 });
      // Back in apps:, a removed app gets a row's new desire.
      expect((await store.desireApps(await own(), "a".repeat(40), [app("worker")])).deploy).toEqual(["worker"]);
      expect(await rowOf("worker")).toMatchObject({ desired_action: "deploy", desired_generation: 3, destroy_reason: null });
    });
  });

  describe("pins, extensions and reminders", () => {
    it("records who pinned and extended, one reminder per expiry, and a destroy forgets them", async () => {
      await store.desireDeploy(pr());
      const { id } = (await store.get("acme", "web", 7))!;
      await store.pin(id, "alice");
      await store.extend(id, { until: 5_000_000, by: "bob", ms: 3_000_000 });
      expect(await store.get("acme", "web", 7)).toMatchObject({ pinned_by: "alice", pinned_at: 1_000_000, extended_until: 5_000_000, extended_by: "bob", extended_ms: 3_000_000 });
      // Without a fresh ttl, an extension asked for before the pin still holds.
      await store.unpin(id);
      expect(await store.get("acme", "web", 7)).toMatchObject({ pinned_by: null, pinned_at: null, extended_until: 5_000_000 });

      expect(await store.remind(id, 5_000_000)).toBe(true);
      expect(await store.remind(id, 5_000_000)).toBe(false);
      expect(await store.remind(id, 6_000_000)).toBe(true);

      await store.pin(id, "alice");
      await store.desireDestroy("acme", "web", 7);
      expect(await store.get("acme", "web", 7)).toMatchObject({ pinned_by: null, extended_until: null, extended_by: null, reminded_for: null });
    });

    it("sends a surface's last state again, at a new version, and only a surface that has one", async () => {
      await store.desireDeploy(pr());
      const { id } = (await store.get("acme", "web", 7))!;
      expect(await store.surfaceWrites.again(id, "comment")).toBe(false);
      await store.surfaceWrites.want({ previewId: id, installationId: 1, generation: 1, surface: "comment", state: '{"status":"ready"}', final: true });
      const first = (await store.surfaceWrites.get(id, "comment"))!;
      expect(await store.surfaceWrites.claim(first, "me", now + 1000)).toBe(true);
      await store.surfaceWrites.sent(first, "me");
      expect(await store.surfaceWrites.pending(id)).toBe(0);

      now += 500;
      expect(await store.surfaceWrites.again(id, "comment")).toBe(true);
      expect(await store.surfaceWrites.get(id, "comment")).toMatchObject({ state: '{"status":"ready"}', version: 2, sent_version: 1, pending_since: 1_000_500 });
      expect(await store.surfaceWrites.pending(id)).toBe(1);
    });
  });

  describe("recorded commands", () => {
    const command = {
      installation_id: 1,
      owner: "acme",
      repo: "web",
      number: 7,
      name: "status" as const,
      text: "/preview status",
      source: "comment" as const,
      comment_id: 5,
      sender: "mo",
    };

    it("are claimed oldest first, by one worker at a time, until finished", async () => {
      await store.addCommand(command);
      await store.addCommand({ ...command, name: "help", text: "/preview help" });
      const first = await store.claimCommand("w1", 1000);
      const second = await store.claimCommand("w2", 1000);
      expect([first?.name, second?.name]).toEqual(["status", "help"]);
      expect(await store.claimCommand("w3", 1000)).toBeUndefined();
      await store.finishCommand(first!.id, "w1", "done: status sent");
      now += 1001;
      // The unfinished one is free again once its lease expires.
      expect((await store.claimCommand("w3", 1000))?.name).toBe("help");
    });

    it("records a delivery and its command together: a command that cannot be stored leaves the delivery unrecorded, so a redelivery records it", async () => {
      await expect(store.addCommand({ ...command, sender: null as unknown as string }, "d9")).rejects.toThrow();
      expect(await store.addCommand(command, "d9")).toBe(true);
      expect(await store.addCommand(command, "d9")).toBe(false);
      expect(await store.db.selectFrom("commands").select("name").execute()).toEqual([{ name: "status" }]);
    });

    it("holds a command to be tried again until its time", async () => {
      await store.addCommand(command);
      const claimed = await store.claimCommand("w1", 1000);
      await store.retryCommand(claimed!.id, "w1", { at: now + 500, attempts: 1 });
      expect(await store.claimCommand("w2", 1000)).toBeUndefined();
      now += 500;
      expect(await store.claimCommand("w2", 1000)).toMatchObject({ id: claimed!.id, attempts: 1 });
    });

    it("an uninstall turns destroys already asked for quiet, runs failed ones again, and drops waiting commands", async () => {
      await store.desireDeploy(pr({ number: 1 }));
      await store.desireDeploy(pr({ number: 2 }));
      await store.desireDeploy(pr({ number: 3, installationId: 2, owner: "other" }));
      await store.desireDestroy("acme", "web", 1); // pending
      await store.desireDestroy("acme", "web", 2);
      const failed = (await store.get("acme", "web", 2))!;
      await store.db
        .updateTable("previews")
        .set({ observed_generation: failed.desired_generation, status: "failed" })
        .where("id", "=", failed.id)
        .execute();
      await store.addCommand(command);

      expect(await store.appRemoved({ installationId: 1 })).toBe(1);
      expect(await store.get("acme", "web", 1)).toMatchObject({ desired_action: "destroy", quiet: 1 });
      const retried = (await store.get("acme", "web", 2))!;
      expect(retried).toMatchObject({ quiet: 1, desired_generation: failed.desired_generation + 1 });
      expect(await store.get("other", "web", 3)).toMatchObject({ desired_action: "deploy", quiet: 0 });
      expect(await store.db.selectFrom("commands").select("outcome").execute()).toEqual([{ outcome: APP_REMOVED_OUTCOME }]);
    });

    it("a command on a whole pull request with apps waits for every app it acted on, and is answered once", async () => {
      await store.desireDeploy(pr(), { by: "mo", commentId: 9 });
      const own = (await store.claim("w", 60_000, 0))!;
      const apps = ["api", "web"].map((appKey) => ({ appKey, appName: `pr-7-${appKey}-acme-web`, rebuild: true }));
      expect(await store.desireApps(own.preview, "a".repeat(40), apps)).toMatchObject({ deploy: ["api", "web"], commandPassedOn: true });
      // Passed on in the same transaction: the pull request's run does not answer it.
      expect(await store.get("acme", "web", 7)).toMatchObject({ command_comment_id: null });
      expect((await store.appsOf("acme", "web", 7)).map((a) => [a.app_key, a.pr_command_comment_id, a.command_comment_id])).toEqual([
        ["api", 9, null],
        ["web", 9, null],
      ]);
      await store.finish(own.preview.id, "w", own.generation, { status: "ready" });
      // A push meanwhile gives the apps new desires: the command still waits, for their newer runs.
      const pushed = (await store.get("acme", "web", 7))!;
      await store.desireApps({ ...pushed, desired_by: null }, "b".repeat(40), apps);
      expect((await store.appsOf("acme", "web", 7)).map((a) => a.pr_command_comment_id)).toEqual([9, 9]);

      const first = (await store.claim("w", 60_000, 0))!;
      await store.finish(first.preview.id, "w", first.generation, { status: "ready" });
      expect(await store.endedAppsCommands(own.preview)).toEqual([]);
      const second = (await store.claim("w", 60_000, 0))!;
      await store.finish(second.preview.id, "w", second.generation, { status: "failed", last_error: "boom" });
      // Two apps' runs ending at once ask together: one of them gets it.
      const answers = (await Promise.all([store.endedAppsCommands(own.preview), store.endedAppsCommands(own.preview)])).flat();
      expect(answers).toHaveLength(1);
      expect(answers[0].commentId).toBe(9);
      expect(answers[0].apps.map((a) => [a.appKey, a.status]).sort()).toEqual([
        [first.preview.app_key, "ready"],
        [second.preview.app_key, "failed"],
      ].sort());
      expect(await store.endedAppsCommands(own.preview)).toEqual([]);
    });

    it("a close takes the apps' wait for an earlier command away, as it does a single preview's", async () => {
      await store.desireDeploy(pr(), { by: "mo", commentId: 9 });
      const own = (await store.claim("w", 60_000, 0))!;
      await store.desireApps(own.preview, "a".repeat(40), [{ appKey: "api", appName: "pr-7-api-acme-web", rebuild: true }]);
      expect(await store.destroyApps(own.preview, { reason: "closed" })).toEqual({ apps: ["api"], commandPassedOn: false });
      expect(await store.appsOf("acme", "web", 7)).toMatchObject([{ pr_command_comment_id: null, command_comment_id: null, desired_action: "destroy" }]);
    });

    it("a destroy by command pauses the preview until a redeploy by command", async () => {
      await store.desireDeploy(pr());
      await store.desireDestroy("acme", "web", 7, { reason: "command", by: "mo", commentId: 9 });
      expect(await store.get("acme", "web", 7)).toMatchObject({ paused: 1, destroyed_by: "mo", command_comment_id: 9 });
      expect(await store.desireDeploy(pr({ headSha: "c".repeat(40) }))).toEqual({ changed: false });
      expect(await store.desireDeploy(pr({ headSha: "c".repeat(40) }), { by: "mo" })).toEqual({ changed: true });
      expect(await store.get("acme", "web", 7)).toMatchObject({ paused: 0, desired_action: "deploy", desired_by: "mo" });
    });
  });
});


describe.each(DIALECTS.filter((d) => d.dialect === "postgres"))("webhook bursts on $dialect", (database) => {
  it("writes at most two bursts at once; the webhooks behind them wait and go together", async () => {
    const created = await database.create();
    const store = await openStore(created.url);
    const holder = new pg.Client({ connectionString: created.url });
    await holder.connect();
    try {
      const pr = (number: number, sha: string) => prInfo({ number, headSha: sha.repeat(40) });
      await store.desireDeploy(pr(1, "a"));
      // A worker's transaction holding PR 1's row: both bursts that touch it wait.
      await holder.query("begin");
      await holder.query("select id from previews where number = 1 for update");
      const first = store.desireDeployOnce("w1", pr(1, "b"));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = store.desireDeployOnce("w2", pr(1, "c"));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const waiting = [2, 3, 4].map((n) => store.desireDeployOnce(`w${n + 1}`, pr(n, "a")));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const seen = await holder.query("select count(*)::int as n from previews where number > 1");
      expect(seen.rows[0].n).toBe(0);
      await holder.query("commit");
      expect(await Promise.all([first, second, ...waiting])).toEqual([{ changed: true }, { changed: true }, { changed: true }, { changed: true }, { changed: true }]);
      expect(await store.get("acme", "web", 1)).toMatchObject({ desired_sha: "c".repeat(40), desired_generation: 3 });
    } finally {
      await holder.end();
      await store.close();
      await created.drop();
    }
  });
});

describe.each(DIALECTS.filter((d) => d.dialect === "postgres"))("a stuck webhook write on $dialect", (database) => {
  it("fails its webhooks after the timeout instead of holding every later one", async () => {
    const created = await database.create();
    const store = await openStore(created.url);
    const pool = new pg.Pool({ connectionString: created.url });
    const holder = new pg.Client({ connectionString: created.url });
    await holder.connect();
    try {
      const desires = new PostgresWebhookDesires(pool, 200);
      const row = (number: number, token: string) =>
        ({ installation_id: 1, app_name: `pr-${number}-acme-web`, head_sha: "a".repeat(40), head_ref: "f", base_ref: "main", draft: 0, labels: "[]", fork: 0,
          updated_at: 1, owner: "acme", repo: "web", number, desired_action: "deploy", desired_sha: "a".repeat(40), desired_generation: 1, desired_at: 1,
          observed_generation: 0, status: "queued", status_at: 1, created_at: 1, activity_at: 1, desire_token: token }) as DesireRow;
      await desires.record(row(1, "t1"), "s1", 1);
      await holder.query("begin");
      await holder.query("select id from previews where number = 1 for update");
      const started = Date.now();
      await expect(desires.record(row(1, "t2"), "s2", 2)).rejects.toThrow(/timeout/i);
      expect(Date.now() - started).toBeLessThan(2_000);
      await holder.query("rollback");
      expect(await desires.record(row(2, "t3"), "s3", 3)).toEqual({ desire_token: "t3" });
    } finally {
      await holder.end();
      await pool.end();
      await store.close();
      await created.drop();
    }
  });
});

/**
 * A SQLite store file migrated up to (not including) the migration named `upTo`, holding
 * two previews (acme/web#7 and acme/api#8) with `web` and `api` added to their rows.
 */
async function oldStore(file: string, upTo: string, web: Record<string, unknown>, api: Record<string, unknown> = {}): Promise<void> {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
  const before = Object.fromEntries(Object.entries(migrationsFor("sqlite")).filter(([name]) => name < upTo));
  await new Migrator({ db, provider: { getMigrations: async () => before } }).migrateToLatest();
  const row = { installation_id: 1, owner: "acme", head_ref: "f", base_ref: "main", desired_action: "deploy", desired_generation: 2 };
  const times = { desired_at: 1, status: "ready", status_at: 1, created_at: 1, updated_at: 1 };
  await db
    .insertInto("previews")
    .values([
      { ...row, ...times, repo: "web", number: 7, app_name: "pr-7-acme-web", head_sha: "b".repeat(40), ...web },
      { ...row, ...times, repo: "api", number: 8, app_name: "pr-8-acme-api", head_sha: "c".repeat(40), ...api },
    ])
    .execute();
  await db.destroy();
}

describe("upgrading a store to rows per app", () => {
  it("keeps every row, each now the pull request's own, and lets an app's row join it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fly-preview-upgrade-"));
    try {
      const file = join(dir, "old.db");
      await oldStore(file, "0015", { url: "https://pr-7-acme-web.fly.dev", pinned_by: "mo" });

      const upgraded = await openStore(`file:${file}`);
      expect(await upgraded.get("acme", "web", 7)).toMatchObject({ id: 1, app_key: "", url: "https://pr-7-acme-web.fly.dev", pinned_by: "mo" });
      expect(await upgraded.get("acme", "api", 8)).toMatchObject({ id: 2, app_key: "" });
      // Ids keep counting where they were.
      await upgraded.desireDeploy(prInfo({ repo: "shop", number: 9, appName: "pr-9-acme-shop" }));
      expect((await upgraded.get("acme", "shop", 9))!.id).toBe(3);
      await upgraded.db
        .insertInto("previews")
        .values({ ...(await upgraded.get("acme", "web", 7))!, id: undefined, app_key: "api", app_name: "pr-7-api-acme-web" } as never)
        .execute();
      expect((await upgraded.appsOf("acme", "web", 7)).map((r) => r.app_name)).toEqual(["pr-7-api-acme-web"]);
      // The claim index came back with the table.
      expect(await upgraded.db.selectFrom("previews").select("id").where("desired_generation", ">", 0).execute()).toHaveLength(4);
      await upgraded.close();
      const check = new SQLite(file);
      expect(check.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'previews' and name = 'previews_pending'").all()).toHaveLength(1);
      check.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("upgrading a store to the table of open check runs", () => {
  it("counts the last check run of each preview as possibly still in progress", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fly-preview-upgrade-"));
    try {
      const file = join(dir, "old.db");
      await oldStore(file, "0008", { check_run_id: 5, check_run_sha: "a".repeat(40) });

      const upgraded = await openStore(`file:${file}`);
      const web = (await upgraded.get("acme", "web", 7))!;
      const api = (await upgraded.get("acme", "api", 8))!;
      expect(await upgraded.openCheckRuns(web.id)).toEqual(["a".repeat(40)]);
      expect(await upgraded.openCheckRuns(api.id)).toEqual([]);
      await upgraded.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

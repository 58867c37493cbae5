import type { Kysely } from "kysely";
import { appBusy, lockRow } from "./conditions.js";
import { destroyDesire } from "./desires.js";
import { appRowsOf } from "./previews.js";
import type { Database } from "./schema.js";
import type { DestroyWhy, Preview, StoreContext } from "./types.js";

// The rows of the apps of a pull request's `apps:` block (docs/monorepos.md). Webhooks
// and commands address the pull request's own row (app key ""); its run reads
// .preview.yml and hands each app its desire here. Each app's row is then an ordinary
// preview: claimed, run, retried and reaped on its own.

/** One app of the `apps:` block, as the pull request's run decided for this commit. */
export interface WantedApp {
  /** The app's name in `apps:`. */
  appKey: string;
  /** Its Fly app: pr-{number}-{app}-{owner}-{repo}. */
  appName: string;
  /** False: its `paths` were not touched since its last deploy, so it is left as it is. */
  rebuild: boolean;
  /** Deploy this commit instead of the pull request's: the app's last, whose image is released again with a new env. */
  releaseAt?: string;
}

/** What `desireApps` changed, by app key. */
export interface AppsDesired {
  /** New rows, and rows given a new deploy desire. */
  deploy: string[];
  /** Rows left as they are: an app whose paths the push did not touch. */
  unchanged: string[];
  /** Apps no longer in `apps:`: asked to be destroyed. */
  removed: string[];
  /**
   * The pull request's command (the comment of its desire) went to the apps given a
   * desire: it is answered once their runs end (`endedAppsCommands`), not by the pull
   * request's run.
   */
  commandPassedOn: boolean;
}

/**
 * Hands the pull request's deploy desire (its own row `pr`, at `sha`) to its apps: an app
 * without a row gets one; an app to rebuild a deploy desire for `sha` unless it has one;
 * an app whose row is no longer in `apps:` a destroy desire (reason "removed"). Every row
 * learns the pull request's facts (head, labels) either way. One transaction.
 */
export async function desireApps(s: StoreContext, pr: Preview, sha: string, apps: WantedApp[], options: { reseed?: boolean } = {}): Promise<AppsDesired> {
  return s.db.transaction().execute(async (trx) => {
    const now = s.clock();
    const rows = await appRowsOf(trx, pr).selectAll().execute();
    const command = pr.command_comment_id;
    let given = 0;
    const facts = {
      installation_id: pr.installation_id,
      head_sha: pr.head_sha,
      head_ref: pr.head_ref,
      base_ref: pr.base_ref,
      draft: pr.draft,
      labels: pr.labels,
      fork: pr.fork,
      approved_sha: pr.approved_sha,
      // The reaper reads these of each row: the pull request's run remembered them from .preview.yml.
      config_ttl_ms: pr.config_ttl_ms,
      notify_comment: pr.notify_comment,
      // A push is the pull request's activity, whichever apps it rebuilds.
      activity_at: pr.activity_at,
      updated_at: now,
    };
    const desire = {
      desired_action: "deploy" as const,
      desired_sha: sha,
      desired_at: now,
      activity_at: now,
      destroy_reason: null,
      destroyed_by: null,
      desired_by: pr.desired_by,
      paused: 0,
      quiet: 0,
      // `/preview redeploy --fresh` on the pull request: every app it builds, builds afresh.
      fresh: pr.fresh,
      // Its database was reset: each app's postdeploy seeds it again.
      ...(options.reseed ? { postdeploy_at: null } : {}),
      // A command's comment waits for every app it gives a desire; an event's leaves the
      // comment of an earlier command waiting (its answer follows the newer runs).
      ...(command === null ? {} : { pr_command_comment_id: command }),
    };
    const done: AppsDesired = { deploy: [], unchanged: [], removed: [], commandPassedOn: false };
    for (const app of apps) {
      const row = rows.find((r) => r.app_key === app.appKey);
      if (!row) {
        await trx
          .insertInto("previews")
          .values({
            ...facts,
            ...desire,
            owner: pr.owner,
            repo: pr.repo,
            number: pr.number,
            app_key: app.appKey,
            app_name: app.appName,
            desired_generation: 1,
            observed_generation: 0,
            status: "queued",
            status_at: now,
            created_at: now,
          })
          .execute();
        done.deploy.push(app.appKey);
        given++;
        continue;
      }
      // A command on the pull request (a redeploy) deploys again what already wants this commit.
      const at = app.releaseAt ?? sha;
      // A release is asked because the app's env changed since it deployed that commit: it is
      // asked anew, though the row's last desire named the same commit.
      const wantsIt = row.desired_action === "deploy" && row.desired_sha === at && row.status !== "destroyed" && pr.desired_by === null && !app.releaseAt;
      // An app destroyed by `/preview destroy NAME` stays so on a push; a command on the
      // whole pull request (a redeploy) brings it back.
      const held = row.paused === 1 && pr.desired_by === null;
      if (app.rebuild && !wantsIt && !held) {
        await trx
          .updateTable("previews")
          .set({ ...facts, ...desire, desired_sha: at, desired_generation: row.desired_generation + 1 })
          .where("id", "=", row.id)
          .execute();
        done.deploy.push(app.appKey);
        given++;
      } else {
        await trx.updateTable("previews").set(facts).where("id", "=", row.id).execute();
        (app.rebuild && !held ? done.deploy : done.unchanged).push(app.appKey);
      }
    }
    const removed: DestroyWhy = { reason: "removed" };
    for (const row of rows) {
      if (apps.some((a) => a.appKey === row.app_key) || row.desired_action === "destroy") continue;
      // The file removed it, not the command: it takes no part in the command's answer.
      await trx.updateTable("previews").set({ ...destroyDesire(row.desired_generation, removed, now), pr_command_comment_id: null }).where("id", "=", row.id).execute();
      done.removed.push(row.app_key);
    }
    if (command !== null && given > 0) done.commandPassedOn = await passCommandOn(trx, pr.id, command);
    return done;
  });
}

/** The pull request's row gives its command's comment up to its apps, in the transaction that gave them their desires. */
async function passCommandOn(db: Kysely<Database>, prId: number, command: number): Promise<true> {
  await db.updateTable("previews").set({ command_comment_id: null }).where("id", "=", prId).where("command_comment_id", "=", command).execute();
  return true;
}

/**
 * Passes the pull request's destroy on to each of its apps that still wants to be
 * deployed. The comment of the command that asked for it (`why.commentId`) waits for
 * those apps' destroys; a destroy no command asked for (a close) leaves no earlier
 * command waiting, as it does for a single app.
 */
export async function destroyApps(s: StoreContext, pr: Preview, why: DestroyWhy): Promise<{ apps: string[]; commandPassedOn: boolean }> {
  return s.db.transaction().execute(async (trx) => {
    const now = s.clock();
    const rows = await appRowsOf(trx, pr).select(["id", "app_key", "desired_generation"]).where("desired_action", "=", "deploy").execute();
    const { commentId, ...asked } = why;
    for (const row of rows) {
      await trx
        .updateTable("previews")
        .set({ ...destroyDesire(row.desired_generation, asked, now), pr_command_comment_id: commentId ?? null })
        .where("id", "=", row.id)
        .execute();
    }
    const commandPassedOn = commentId !== undefined && rows.length > 0 && (await passCommandOn(trx, pr.id, commentId));
    return { apps: rows.map((r) => r.app_key), commandPassedOn };
  });
}

/** The row of one app of a pull request (`pr`, its own row), or undefined. */
async function appRow(s: StoreContext, pr: Preview, appKey: string) {
  return appRowsOf(s.db, pr).select(["id", "desired_generation", "desired_action"]).where("app_key", "=", appKey).executeTakeFirst();
}

/** `/preview redeploy NAME` (or that app's button): deploy that app alone at `sha`, whatever its paths say. */
export async function desireApp(
  s: StoreContext,
  pr: Preview,
  appKey: string,
  sha: string,
  command: { by: string; commentId?: number; fresh?: boolean },
): Promise<boolean> {
  const row = await appRow(s, pr, appKey);
  if (!row) return false;
  const now = s.clock();
  await s.db
    .updateTable("previews")
    .set({
      desired_action: "deploy",
      desired_sha: sha,
      desired_generation: row.desired_generation + 1,
      desired_at: now,
      activity_at: now,
      updated_at: now,
      destroy_reason: null,
      destroyed_by: null,
      desired_by: command.by,
      command_comment_id: command.commentId ?? null,
      paused: 0,
      quiet: 0,
      fresh: command.fresh ? 1 : 0,
    })
    .where("id", "=", row.id)
    .execute();
  return true;
}

/** `/preview destroy NAME` (or that app's button): destroy that app alone; pushes leave it destroyed. False when it already is. */
export async function destroyApp(s: StoreContext, pr: Preview, appKey: string, why: DestroyWhy): Promise<boolean> {
  const row = await appRow(s, pr, appKey);
  if (!row || row.desired_action === "destroy") return false;
  // The answer of a command on the whole pull request no longer waits for this app.
  await s.db.updateTable("previews").set({ ...destroyDesire(row.desired_generation, why, s.clock()), pr_command_comment_id: null }).where("id", "=", row.id).execute();
  return true;
}

type PullRequestKey = Pick<Preview, "owner" | "repo" | "number">;

/** The apps of a pull request that may still use its shared database: their destroy has not ended (`appBusy`). */
export async function busyApps(s: StoreContext, pr: PullRequestKey): Promise<string[]> {
  const rows = await s.db
    .selectFrom("previews as a")
    .select("a.app_key")
    .where("a.owner", "=", pr.owner)
    .where("a.repo", "=", pr.repo)
    .where("a.number", "=", pr.number)
    .where(appBusy)
    .execute();
  return rows.map((r) => r.app_key);
}

/** How one app's run ended, as a command on its whole pull request learns it. */
export interface AppEnded {
  appKey: string;
  action: "deploy" | "destroy";
  status: Preview["status"];
  lastError: string | null;
}

/** A command on a whole pull request whose apps have all ended their runs: its comment, and how each ended. */
export interface AppsCommandEnded {
  commentId: number;
  apps: AppEnded[];
}

/**
 * The commands on the whole pull request (their comments, held by its apps' rows) whose
 * every app has ended its run: each is handed out once, its comment taken off the rows in
 * the same transaction, so two apps ending at once never answer it twice. On PostgreSQL the
 * rows are locked first: an app given a new desire meanwhile is seen as running.
 */
export async function endedAppsCommands(s: StoreContext, pr: PullRequestKey): Promise<AppsCommandEnded[]> {
  return s.db.transaction().execute(async (trx) => {
    const query = appRowsOf(trx, pr)
      .select(["id", "app_key", "desired_action", "desired_generation", "observed_generation", "lease_owner", "status", "last_error", "pr_command_comment_id"])
      .where("pr_command_comment_id", "is not", null)
      .orderBy("app_key");
    const rows = await lockRow(s.dialect, query).execute();
    const byCommand = new Map<number, typeof rows>();
    for (const row of rows) byCommand.set(row.pr_command_comment_id!, [...(byCommand.get(row.pr_command_comment_id!) ?? []), row]);
    const ended: AppsCommandEnded[] = [];
    for (const [commentId, group] of byCommand) {
      if (group.some((row) => row.desired_generation !== row.observed_generation || row.lease_owner !== null)) continue;
      await trx.updateTable("previews").set({ pr_command_comment_id: null }).where("id", "in", group.map((row) => row.id)).execute();
      ended.push({
        commentId,
        apps: group.map((row) => ({ appKey: row.app_key, action: row.desired_action, status: row.status, lastError: row.last_error })),
      });
    }
    return ended;
  });
}

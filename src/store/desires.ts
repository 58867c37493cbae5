import { randomUUID } from "node:crypto";
import type { PullRequestInfo } from "../model/pull-request.js";
import { dropCommands } from "./commands.js";
import { inScope, lockRow, previewsIn } from "./conditions.js";
import type { WebhookDesires } from "./webhook-desire.js";
import type { CommandDesire, DestroyWhy, Scope, StoreContext } from "./types.js";

// What each pull request's preview should be: deployed at a commit, or destroyed. A new
// desire bumps `desired_generation`; the reconciler carries it out. The webhook's hot
// path restates `desireDeploy`'s rules in SQL (webhook-desire.ts), and
// test/desire-rules.test.ts runs both against each other.

/** The PR as a webhook describes it, as columns: refreshed on every event. */
function prFacts(pr: PullRequestInfo, now: number) {
  return {
    installation_id: pr.installationId,
    app_name: pr.appName,
    head_sha: pr.headSha,
    head_ref: pr.headRef,
    base_ref: pr.baseRef,
    draft: pr.draft ? 1 : 0,
    labels: JSON.stringify(pr.labels),
    fork: pr.fork ? 1 : 0,
    updated_at: now,
  };
}

/** A PR's first row: its facts and a first desire to deploy its head. */
function firstRow(pr: PullRequestInfo, now: number) {
  // Object.assign, not a spread: on Node 20 `{ ...facts, more… }` took 14 µs here,
  // as much as the store then spent on the rest of a webhook (docs/benchmarks.md).
  return Object.assign(prFacts(pr, now), {
    owner: pr.owner,
    repo: pr.repo,
    number: pr.number,
    desired_action: "deploy" as const,
    desired_sha: pr.headSha,
    desired_generation: 1,
    desired_at: now,
    observed_generation: 0,
    status: "queued" as const,
    status_at: now,
    created_at: now,
    activity_at: now,
  });
}

/**
 * Whether an event without a command changes the desire: the PR is not paused, and it
 * did not already want this commit deployed (or the trigger rules skipped it and must
 * look again: a label or the end of draft status may now let it through).
 * webhook-desire.ts's CHANGED says the same in SQL.
 */
function eventChangesDesire(row: { paused: number; desired_action: string; desired_sha: string | null; status: string }, sha: string): boolean {
  return row.paused === 0 && (row.desired_action !== "deploy" || row.desired_sha !== sha || row.status === "skipped");
}

/**
 * Two processes recording the first desire of the same PR at once: one insert loses
 * to the unique key. Running again finds the row and updates it.
 */
async function retryOnConflict<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== "23505" && code !== "SQLITE_CONSTRAINT_UNIQUE") throw error;
    return work();
  }
}

/**
 * Desire "deployed at pr.headSha", from an event (a resync) or a command. The
 * generation moves only when the desire changes, so a repeated event deploys nothing
 * twice; a command always counts as new ("deploy again" is the point of it), unpauses
 * the preview, and records who asked.
 */
export async function desireDeploy(s: StoreContext, pr: PullRequestInfo, command?: CommandDesire): Promise<{ changed: boolean }> {
  return retryOnConflict(() =>
    s.db.transaction().execute(async (trx) => {
      const now = s.clock();
      const row = await trx
        .selectFrom("previews")
        .select(["id", "desired_action", "desired_sha", "desired_generation", "status", "paused"])
        .where("owner", "=", pr.owner)
        .where("repo", "=", pr.repo)
        .where("number", "=", pr.number)
      .where("app_key", "=", "")
        .$call((q) => lockRow(s.dialect, q))
        .executeTakeFirst();
      const asked = command
        ? {
            desired_by: command.by,
            command_comment_id: command.commentId ?? null,
            ...(command.approvedSha ? { approved_sha: command.approvedSha } : {}),
            ...(command.resetDb ? { reset_db: 1 } : {}),
            ...(command.fresh ? { fresh: 1 } : {}),
          }
        : { desired_by: null };
      if (!row) {
        await trx.insertInto("previews").values(Object.assign(firstRow(pr, now), asked)).execute();
        return { changed: true };
      }
      const changed = command !== undefined || eventChangesDesire(row, pr.headSha);
      const desire = {
        desired_action: "deploy" as const,
        desired_sha: pr.headSha,
        desired_generation: row.desired_generation + 1,
        desired_at: now,
        activity_at: now,
        destroy_reason: null,
        quiet: 0,
        ...asked,
        ...(command ? { paused: 0, destroyed_by: null } : {}),
      };
      await trx
        .updateTable("previews")
        .set(changed ? { ...prFacts(pr, now), ...desire } : prFacts(pr, now))
        .where("id", "=", row.id)
        .execute();
      return { changed };
    }),
  );
}

/**
 * The webhook's hot path: `desireDeploy`'s rules for an event, with the delivery id,
 * in one transaction (one statement on PostgreSQL; webhook-desire.ts has the SQL).
 * A token written only with a changed desire tells which happened. Undefined when
 * the delivery was recorded before: a redelivery changes nothing.
 */
export async function desireDeployOnce(
  s: StoreContext,
  webhook: WebhookDesires,
  deliveryId: string,
  pr: PullRequestInfo,
): Promise<{ changed: boolean } | undefined> {
  const now = s.clock();
  const token = randomUUID();
  const written = await webhook.record(Object.assign(firstRow(pr, now), { desire_token: token }), deliveryId, now);
  return written && { changed: written.desire_token === token };
}

/**
 * A new desire for the same commit, judged by the trigger rules again: a label was
 * removed or the PR went back to draft, which may take its preview away. Only a
 * preview that exists, or is on its way, has anything to judge; a paused one stays
 * paused, and a deploy a command asked for no longer passes over the rules.
 */
export async function recheck(s: StoreContext, owner: string, repo: string, number: number): Promise<{ changed: boolean }> {
  const now = s.clock();
  const result = await s.db
    .updateTable("previews")
    .set((eb) => ({ desired_generation: eb("desired_generation", "+", 1), desired_at: now, desired_by: null, updated_at: now }))
    .where("owner", "=", owner)
    .where("repo", "=", repo)
    .where("number", "=", number)
    .where("app_key", "=", "")
    .where("desired_action", "=", "deploy")
    .where("paused", "=", 0)
    .where((eb) => eb.or([eb("status", "not in", ["none", "skipped"]), eb("app_created", "=", 1)]))
    .executeTakeFirst();
  return { changed: Number(result.numUpdatedRows) > 0 };
}

/**
 * Desire "destroyed". A PR we never recorded has nothing to destroy. Destroyed by a
 * person (a command, an operator), the preview stays paused: pushes do not bring it
 * back, a redeploy does.
 */
export async function desireDestroy(
  s: StoreContext,
  owner: string,
  repo: string,
  number: number,
  why: DestroyWhy = { reason: "closed" },
): Promise<{ changed: boolean }> {
  return s.db.transaction().execute(async (trx) => {
    const now = s.clock();
    const row = await trx
      .selectFrom("previews")
      .select(["id", "desired_action", "desired_generation"])
      .where("owner", "=", owner)
      .where("repo", "=", repo)
      .where("number", "=", number)
      .where("app_key", "=", "")
      .$call((q) => lockRow(s.dialect, q))
      .executeTakeFirst();
    if (!row) return { changed: false };
    const paused = why.reason === "command" || why.reason === "operator" ? { paused: 1 } : {};
    if (row.desired_action === "destroy") {
      if (why.by) await trx.updateTable("previews").set({ ...paused, destroyed_by: why.by }).where("id", "=", row.id).execute();
      return { changed: false };
    }
    await trx.updateTable("previews").set(destroyDesire(row.desired_generation, why, now)).where("id", "=", row.id)
      .execute();
    return { changed: true };
  });
}

/** The columns of a desire "destroyed", over a row at `generation`; `desireDestroy` says when. */
export function destroyDesire(generation: number, why: DestroyWhy, now: number) {
  return {
    desired_action: "destroy" as const,
    desired_sha: null,
    desired_generation: generation + 1,
    desired_at: now,
    updated_at: now,
    ...(why.reason === "command" || why.reason === "operator" ? { paused: 1 } : {}),
    destroy_reason: why.reason,
    destroyed_by: why.by ?? null,
    desired_by: why.by ?? null,
    command_comment_id: why.commentId ?? null,
    quiet: why.reason === "uninstalled" ? 1 : 0,
    // A pin or an extension is about this preview: one deployed again later starts afresh.
    pinned_by: null,
    pinned_at: null,
    extended_until: null,
    extended_by: null,
    extended_ms: null,
    reminded_for: null,
  };
}

/**
 * The App can no longer see `scope` (uninstalled, a repository removed, or GitHub
 * answering 404 for the installation's token): every preview in it is destroyed
 * quietly, Fly only, since GitHub would refuse every write. That includes destroys
 * asked for before, pending or failed: a failed one runs again now, quietly, instead
 * of failing on GitHub at every reaper pass. Commands waiting in it are dropped.
 * Returns how many previews have new work.
 */
export async function appRemoved(s: StoreContext, scope: Scope): Promise<number> {
  const rows = await previewsIn(s, scope).select(["owner", "repo", "number"]).where("desired_action", "=", "deploy").execute();
  let changed = 0;
  for (const row of rows) {
    if ((await desireDestroy(s, row.owner, row.repo, row.number, { reason: "uninstalled" })).changed) changed++;
  }
  const now = s.clock();
  await s.db
    .updateTable("previews")
    .set({ quiet: 1 })
    .where((eb) => inScope(eb, scope))
    .where("desired_action", "=", "destroy")
    .where("quiet", "=", 0)
    .execute();
  const failed = await s.db
    .updateTable("previews")
    .set((eb) => ({ desired_generation: eb("desired_generation", "+", 1), desired_at: now }))
    .where((eb) => inScope(eb, scope))
    .where("desired_action", "=", "destroy")
    .where("status", "=", "failed")
    .whereRef("desired_generation", "=", "observed_generation")
    .executeTakeFirst();
  await dropCommands(s, scope);
  return changed + Number(failed.numUpdatedRows);
}

/** Asks again for the current desire: a failed destroy retried, a preview waiting for a slot. */
export async function redesire(s: StoreContext, id: number): Promise<void> {
  await s.db
    .updateTable("previews")
    .set((eb) => ({ desired_generation: eb("desired_generation", "+", 1), desired_at: s.clock() }))
    .where("id", "=", id)
    .whereRef("desired_generation", "=", "observed_generation")
    .execute();
}

import type { StoreContext } from "./types.js";

// The open check runs of a preview (table open_check_runs; see docs/security.md, "Every
// check run ends"). Unlike a run's `save`, these writes do not need the lease: each
// records a fact about GitHub (a check run may exist, or has ended), true whoever
// writes it, and a run that lost its lease still created what it created.

/**
 * Records that `sha` of a preview may get a check run in progress, before asking
 * GitHub for it. False when it was recorded already: an earlier run may have created
 * that check run and died before saving its id.
 */
export async function openCheckRun(s: StoreContext, previewId: number, sha: string): Promise<boolean> {
  const result = await s.db
    .insertInto("open_check_runs")
    .values({ preview_id: previewId, sha, created_at: s.clock() })
    .onConflict((oc) => oc.columns(["preview_id", "sha"]).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** The commits of a preview whose check run may still be in progress, oldest first. */
export async function openCheckRuns(s: StoreContext, previewId: number): Promise<string[]> {
  const rows = await s.db
    .selectFrom("open_check_runs")
    .select("sha")
    .where("preview_id", "=", previewId)
    .orderBy("created_at")
    .orderBy("sha")
    .execute();
  return rows.map((r) => r.sha);
}

/** The check run of `sha` has ended: nothing is left to end. */
export async function checkRunEnded(s: StoreContext, previewId: number, sha: string): Promise<void> {
  await s.db.deleteFrom("open_check_runs").where("preview_id", "=", previewId).where("sha", "=", sha).execute();
}

import type { StoreContext } from "./types.js";

// What people asked about a preview's expiry (`/preview pin`, `/preview extend`) and the
// reminder sent before it. Like the surface ids, these need no lease: a command records
// what a person asked, the reaper what it sent, whoever holds the row; a run's own writes
// (save, finish) never name these columns. src/model/expiry.ts says what they mean.

export async function pin(s: StoreContext, id: number, by: string): Promise<void> {
  await s.db.updateTable("previews").set({ pinned_by: by, pinned_at: s.clock() }).where("id", "=", id).execute();
}

/**
 * Unpinned, the preview expires again; with `fresh`, not before `fresh.until` (a fresh
 * TTL from the unpin, see src/model/expiry.ts). Without, an extension asked for before
 * the pin, later than that, still holds.
 */
export async function unpin(s: StoreContext, id: number, fresh?: { until: number; by: string }): Promise<void> {
  const extension = fresh ? { extended_until: fresh.until, extended_by: fresh.by, extended_ms: null } : {};
  await s.db
    .updateTable("previews")
    .set({ pinned_by: null, pinned_at: null, ...extension })
    .where("id", "=", id)
    .execute();
}

export async function extend(s: StoreContext, id: number, extension: { until: number; by: string; ms: number }): Promise<void> {
  await s.db
    .updateTable("previews")
    .set({ extended_until: extension.until, extended_by: extension.by, extended_ms: extension.ms })
    .where("id", "=", id)
    .execute();
}

/**
 * Records that the reminder for the expiry `at` is being sent. False when it was
 * already (by this process's last pass, or another's): one reminder per expiry.
 */
export async function remind(s: StoreContext, id: number, at: number): Promise<boolean> {
  const result = await s.db
    .updateTable("previews")
    .set({ reminded_for: at })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("reminded_for", "is", null), eb("reminded_for", "<>", at)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

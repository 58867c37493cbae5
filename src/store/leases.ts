import type { Updateable } from "kysely";
import { leaseFree, skipLocked } from "./conditions.js";
import type { PreviewsTable } from "./schema.js";
import type { Claim, Preview, PreviewPatch, StoreContext } from "./types.js";

// A preview's desire is carried out by the one worker that leases its row: it claims
// the row, renews the lease while it runs, writes what it observes only while the lease
// is still its own, and releases it when done (or to try again later).

/**
 * Takes the oldest preview whose desired state is ahead of what was observed and
 * that nobody holds, leasing it to `worker`. A desire younger than `settleMs` waits,
 * so a burst of pushes collapses into one deploy of the newest commit.
 */
export async function claim(s: StoreContext, worker: string, leaseMs: number, settleMs: number): Promise<Claim | undefined> {
  const now = s.clock();
  const preview = await s.db
    .updateTable("previews")
    .set({ lease_owner: worker, lease_expires_at: now + leaseMs })
    .where(
      "id",
      "=",
      s.db
        .selectFrom("previews")
        .select("id")
        .whereRef("desired_generation", ">", "observed_generation")
        .where((eb) => leaseFree(eb, now))
        .where("desired_at", "<=", now - settleMs)
        .where((eb) => eb.or([eb("retry_at", "is", null), eb("retry_at", "<=", now), eb("retry_generation", "<>", eb.ref("desired_generation"))]))
        .orderBy("desired_at")
        .limit(1)
        .$call((q) => skipLocked(s.dialect, q)),
    )
    .where((eb) => leaseFree(eb, now))
    .returningAll()
    .executeTakeFirst();
  return preview ? { preview, generation: preview.desired_generation } : undefined;
}

/** Extends a lease; undefined when the lease was lost (expired and taken by another worker). */
export async function renew(s: StoreContext, id: number, worker: string, leaseMs: number): Promise<Preview | undefined> {
  return s.db
    .updateTable("previews")
    .set({ lease_expires_at: s.clock() + leaseMs })
    .where("id", "=", id)
    .where("lease_owner", "=", worker)
    .returningAll()
    .executeTakeFirst();
}

/** Writes observed state; ignored when the lease is no longer ours. */
export async function save(s: StoreContext, id: number, worker: string, patch: PreviewPatch): Promise<void> {
  await s.db
    .updateTable("previews")
    .set({ ...patch, updated_at: s.clock() })
    .where("id", "=", id)
    .where("lease_owner", "=", worker)
    .execute();
}

/** Writes `set` and releases the lease, both only while the lease is still `worker`'s. */
async function releaseWith(s: StoreContext, id: number, worker: string, set: Updateable<PreviewsTable>): Promise<void> {
  await s.db
    .updateTable("previews")
    .set({ ...set, lease_owner: null, lease_expires_at: null })
    .where("id", "=", id)
    .where("lease_owner", "=", worker)
    .execute();
}

/** Marks `generation` as carried out and releases the lease. */
export async function finish(s: StoreContext, id: number, worker: string, generation: number, patch: PreviewPatch = {}): Promise<void> {
  await releaseWith(s, id, worker, { ...patch, observed_generation: generation, updated_at: s.clock() });
}

/**
 * Gives up a run that failed for a passing reason: the work stays pending, and is
 * claimed again from `at` (or at once, for a newer desire). Ignored when the lease is
 * no longer ours.
 */
export async function retryLater(
  s: StoreContext,
  id: number,
  worker: string,
  generation: number,
  retry: { at: number; attempts: number; error: string },
): Promise<void> {
  const now = s.clock();
  await releaseWith(s, id, worker, {
    retry_generation: generation,
    retry_attempts: retry.attempts,
    retry_at: retry.at,
    last_error: retry.error,
    status: "queued",
    status_at: now,
    updated_at: now,
  });
}

/** Releases a lease without marking the work done, so it is claimed again. */
export async function release(s: StoreContext, id: number, worker: string): Promise<void> {
  await releaseWith(s, id, worker, {});
}

/** Desires not yet carried out and commands not yet answered that no live lease holds: work waiting for a worker. */
export async function waitingWork(s: StoreContext): Promise<{ previews: number; commands: number }> {
  const now = s.clock();
  const previews = await s.db
    .selectFrom("previews")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .whereRef("desired_generation", ">", "observed_generation")
    .where((eb) => leaseFree(eb, now))
    .executeTakeFirstOrThrow();
  const commands = await s.db
    .selectFrom("commands")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("done_at", "is", null)
    .where((eb) => leaseFree(eb, now))
    .executeTakeFirstOrThrow();
  return { previews: Number(previews.n), commands: Number(commands.n) };
}

/** Forgets every lease of previews and commands; returns how many previews were held. */
export async function releaseAllLeases(s: StoreContext): Promise<number> {
  const result = await s.db
    .updateTable("previews")
    .set({ lease_owner: null, lease_expires_at: null })
    .where("lease_owner", "is not", null)
    .executeTakeFirst();
  await s.db
    .updateTable("commands")
    .set({ lease_owner: null, lease_expires_at: null })
    .where("lease_owner", "is not", null)
    .execute();
  return Number(result.numUpdatedRows);
}

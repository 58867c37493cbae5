import type { Kysely } from "kysely";
import { leaseFree } from "./conditions.js";
import type { Database, PreviewStatus } from "./schema.js";

// What /metrics reports about the store, read at each scrape: the store is shared by
// every process, so these are right whichever process answers, and after a restart.
// Counts come back as bigint strings on PostgreSQL: every one goes through Number().

/** Previews per installation and status. */
export async function previewsByStatus(db: Kysely<Database>): Promise<Array<{ installationId: number; status: PreviewStatus; count: number }>> {
  const rows = await db
    .selectFrom("previews")
    .select(["installation_id", "status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy(["installation_id", "status"])
    .execute();
  return rows.map((r) => ({ installationId: Number(r.installation_id), status: r.status, count: Number(r.n) }));
}

/**
 * When the oldest desire no run has carried out yet was recorded (epoch ms), or
 * undefined when every desire is carried out. One waiting for a retry counts: it is
 * still not what the pull request shows.
 */
export async function oldestPendingDesireAt(db: Kysely<Database>): Promise<number | undefined> {
  const row = await db
    .selectFrom("previews")
    .select((eb) => eb.fn.min("desired_at").as("at"))
    .whereRef("desired_generation", ">", "observed_generation")
    .executeTakeFirst();
  return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
}

/**
 * Destroys that failed and wait for the reaper to ask for them again: the rule of
 * `reap` in src/preview/reaper.ts (a destroy desire, carried out, failed, unleased).
 */
export async function failedDestroys(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom("previews")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("desired_action", "=", "destroy")
    .where("status", "=", "failed")
    .whereRef("desired_generation", "=", "observed_generation")
    .where("lease_owner", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Leases held at `now`: previews being worked on and commands being carried out, in every
 * process. Held is not free: the claims' own condition (`leaseFree`), so a row is counted
 * exactly as long as no worker may claim it.
 */
export async function leasesHeld(db: Kysely<Database>, now: number): Promise<{ previews: number; commands: number }> {
  const count = async (table: "previews" | "commands") => {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where((eb) => eb.not(leaseFree(eb, now)))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  return { previews: await count("previews"), commands: await count("commands") };
}

/** GitHub writes still to send, per installation: `SurfaceWrites.pending`'s rule (sent_version < version). */
export async function queuedWrites(db: Kysely<Database>): Promise<Array<{ installationId: number; count: number }>> {
  const rows = await db
    .selectFrom("surface_writes")
    .select(["installation_id", (eb) => eb.fn.countAll<number>().as("n")])
    .whereRef("sent_version", "<", "version")
    .groupBy("installation_id")
    .execute();
  return rows.map((r) => ({ installationId: Number(r.installation_id), count: Number(r.n) }));
}

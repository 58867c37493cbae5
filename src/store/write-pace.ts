import { sql } from "kysely";
import type { StoreContext } from "./types.js";

// When each installation's next GitHub write may leave (table write_pace), shared by
// every process: src/github/write-pace.ts claims a slot before each write.

/**
 * The database's clock in milliseconds, not this process's: every process that shares
 * the pace measures it on one clock, whatever the skew between their machines.
 */
function databaseNow(s: StoreContext) {
  return s.dialect === "postgres"
    ? sql<number>`(extract(epoch from now()) * 1000)::bigint`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}

function greatest(s: StoreContext, a: ReturnType<typeof sql>, b: ReturnType<typeof sql>) {
  return s.dialect === "postgres" ? sql`greatest(${a}, ${b})` : sql`max(${a}, ${b})`;
}

/**
 * Claims the installation's next GitHub write slot, `spacingMs` after the one before,
 * and answers how long to wait for it (0: now); undefined, claiming nothing, when the
 * slot would be more than `maxWaitMs` away. One statement: concurrent claims, from any
 * process, queue on the row and each gets its own slot.
 */
export async function claimWriteSlot(s: StoreContext, installationId: number, spacingMs: number, maxWaitMs: number): Promise<number | undefined> {
  const spacing = sql.lit(Math.round(spacingMs));
  const now = databaseNow(s);
  const slot = greatest(s, sql`write_pace.next_at`, sql`excluded.next_at - ${spacing}`);
  const { rows } = await sql<{ wait: number }>`
    insert into write_pace (installation_id, next_at) values (${installationId}, ${now} + ${spacing})
    on conflict (installation_id) do update
      set next_at = ${slot} + ${spacing}
      where ${slot} - ${now} <= ${sql.lit(Math.round(maxWaitMs))}
    returning next_at - ${spacing} - ${now} as wait`.execute(s.db);
  return rows.length === 0 ? undefined : Math.max(0, Number(rows[0].wait));
}

/**
 * How long until the installation's next write slot is free (0: now), claiming nothing:
 * the write queue waits this long before it chooses what to send in that slot.
 */
export async function writeSlotWait(s: StoreContext, installationId: number): Promise<number> {
  const row = await sql<{ wait: number }>`
    select next_at - ${databaseNow(s)} as wait from write_pace where installation_id = ${installationId}`.execute(s.db);
  return Math.max(0, Number(row.rows[0]?.wait ?? 0));
}

/** GitHub asked this installation to wait (a rate limit): no process writes for it before `ms` from now. */
export async function pauseWrites(s: StoreContext, installationId: number, ms: number): Promise<void> {
  const until = sql`${databaseNow(s)} + ${sql.lit(Math.round(ms))}`;
  await sql`
    insert into write_pace (installation_id, next_at) values (${installationId}, ${until})
    on conflict (installation_id) do update
      set next_at = ${greatest(s, sql`write_pace.next_at`, sql`excluded.next_at`)}`.execute(s.db);
}

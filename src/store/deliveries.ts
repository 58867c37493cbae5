import type { Kysely } from "kysely";
import type { Database } from "./schema.js";
import type { StoreContext } from "./types.js";

// Webhook delivery ids, until the pool prunes them: GitHub redelivers a webhook with the same
// id, and a redelivery must change nothing. The webhook's hot path records its own
// (webhook-desire.ts); these are for the other webhooks.

/** Records a delivery id, in `db` or a transaction; false when it was already recorded (a redelivery). */
export async function recordDelivery(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const result = await db
    .insertInto("deliveries")
    .values({ id, received_at: now })
    .onConflict((oc) => oc.column("id").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function firstDelivery(s: StoreContext, id: string): Promise<boolean> {
  return recordDelivery(s.db, id, s.clock());
}

export async function pruneDeliveries(s: StoreContext, olderThanMs: number): Promise<void> {
  await s.db.deleteFrom("deliveries").where("received_at", "<", s.clock() - olderThanMs).execute();
}

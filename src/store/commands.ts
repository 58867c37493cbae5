import type { ExpressionBuilder } from "kysely";
import { inScope, leaseFree, skipLocked } from "./conditions.js";
import { recordDelivery } from "./deliveries.js";
import type { Database } from "./schema.js";
import type { Command, NewCommand, Scope, StoreContext } from "./types.js";

// Commands (a `/preview …` comment, a check run button, "Re-run") waiting for a worker,
// and what came of each. A worker leases one at a time, like a preview.

/** The outcome of a command dropped because the App lost its repository (see appRemoved). */
export const APP_REMOVED_OUTCOME = "failed: the App was uninstalled or lost access to this repository";

/**
 * Records a command and, with `deliveryId`, the delivery that brought it, in one
 * transaction: a crash between the two must not leave the delivery recorded without
 * its command, or GitHub's redelivery would be dropped as a duplicate. False when the
 * delivery was recorded before.
 */
export async function addCommand(s: StoreContext, command: NewCommand, deliveryId?: string): Promise<boolean> {
  return s.db.transaction().execute(async (trx) => {
    const now = s.clock();
    if (deliveryId !== undefined && !(await recordDelivery(trx, deliveryId, now))) return false;
    await trx.insertInto("commands").values({ ...command, created_at: now }).execute();
    return true;
  });
}

/** Takes the oldest command nobody is working on and no retry holds back. */
export async function claimCommand(s: StoreContext, worker: string, leaseMs: number): Promise<Command | undefined> {
  const now = s.clock();
  const free = (eb: ExpressionBuilder<Database, "commands">) =>
    eb.and([leaseFree(eb, now), eb.or([eb("retry_at", "is", null), eb("retry_at", "<=", now)])]);
  return s.db
    .updateTable("commands")
    .set({ lease_owner: worker, lease_expires_at: now + leaseMs })
    .where(
      "id",
      "=",
      s.db
        .selectFrom("commands")
        .select("id")
        .where("done_at", "is", null)
        .where(free)
        .orderBy("id")
        .limit(1)
        .$call((q) => skipLocked(s.dialect, q)),
    )
    .where(free)
    .returningAll()
    .executeTakeFirst();
}

/** Extends a command's lease; false when it was lost (expired and taken by another worker). */
export async function renewCommand(s: StoreContext, id: number, worker: string, leaseMs: number): Promise<boolean> {
  const result = await s.db
    .updateTable("commands")
    .set({ lease_expires_at: s.clock() + leaseMs })
    .where("id", "=", id)
    .where("lease_owner", "=", worker)
    .where("done_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives up an attempt that failed for a passing reason: the command is claimed again from `at`. */
export async function retryCommand(s: StoreContext, id: number, worker: string, retry: { at: number; attempts: number }): Promise<void> {
  await s.db
    .updateTable("commands")
    .set({ retry_at: retry.at, attempts: retry.attempts, lease_owner: null, lease_expires_at: null })
    .where("id", "=", id)
    .where("lease_owner", "=", worker)
    .execute();
}

/** The command is answered: `outcome` is what came of it. Ignored when the lease is no longer ours. */
export async function finishCommand(s: StoreContext, id: number, worker: string, outcome: string): Promise<void> {
  await s.db
    .updateTable("commands")
    .set({ done_at: s.clock(), outcome, lease_owner: null, lease_expires_at: null })
    .where("id", "=", id)
    .where("lease_owner", "=", worker)
    .execute();
}

/** The App lost `scope`: its waiting commands are answered by no one. */
export async function dropCommands(s: StoreContext, scope: Scope): Promise<void> {
  await s.db
    .updateTable("commands")
    .set({ done_at: s.clock(), outcome: APP_REMOVED_OUTCOME })
    .where((eb) => inScope(eb, scope))
    .where("done_at", "is", null)
    .execute();
}

/** How a command's outcome starts while the run it asked for has not ended (src/commands/execute.ts). */
const PENDING_OUTCOME = "pending: ";

/**
 * The run a command asked for has ended: its row says how (`outcome`), in place of
 * "pending: …". The command is found by its comment on the pull request. Returns its name,
 * for a reply; undefined when no command holds that comment.
 */
export async function commandAnswered(
  s: StoreContext,
  where: { owner: string; repo: string; number: number; commentId: number },
  outcome: string,
): Promise<Command["name"] | undefined> {
  const row = await s.db
    .selectFrom("commands")
    .select(["id", "name"])
    .where("owner", "=", where.owner)
    .where("repo", "=", where.repo)
    .where("number", "=", where.number)
    .where("comment_id", "=", where.commentId)
    .orderBy("id", "desc")
    .executeTakeFirst();
  if (!row) return undefined;
  await s.db.updateTable("commands").set({ outcome }).where("id", "=", row.id).where("outcome", "like", `${PENDING_OUTCOME}%`).execute();
  return row.name;
}

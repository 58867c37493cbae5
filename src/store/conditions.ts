import type { ExpressionBuilder } from "kysely";
import type { Dialect } from "./migrations.js";
import type { Database } from "./schema.js";
import type { Scope, StoreContext } from "./types.js";

// Conditions and clauses several rooms of the store share, written once.

type PreviewsOrCommands = ExpressionBuilder<Database, "previews"> | ExpressionBuilder<Database, "commands">;

/** No live lease holds the row: nobody took it, or its holder's lease ran out before `now`. */
export function leaseFree(eb: PreviewsOrCommands, now: number) {
  // Both tables name their lease columns alike; kysely cannot type a condition over either.
  const e = eb as ExpressionBuilder<Database, "previews">;
  return e.or([e("lease_expires_at", "is", null), e("lease_expires_at", "<", now)]);
}

/** `scope` as a condition on a table that names installation, owner and repo. */
export function inScope(eb: PreviewsOrCommands, scope: Scope) {
  const e = eb as ExpressionBuilder<Database, "previews">;
  return "installationId" in scope
    ? e("installation_id", "=", scope.installationId)
    : e.and([e("owner", "=", scope.owner), e("repo", "=", scope.repo)]);
}

/** The previews of `scope`, to select from. */
export function previewsIn(s: StoreContext, scope: Scope) {
  return s.db.selectFrom("previews").where((eb) => inScope(eb, scope));
}

/** Within a transaction: on PostgreSQL, hold the row so concurrent desires apply one after another. */
export function lockRow<Q extends { forUpdate(): Q }>(dialect: Dialect, query: Q): Q {
  return dialect === "postgres" ? query.forUpdate() : query;
}

/**
 * On PostgreSQL, several workers claim at once: `FOR UPDATE SKIP LOCKED` makes each
 * pass over rows another is claiming instead of queueing behind it. SQLite has one
 * writer at a time and no such clause.
 */
export function skipLocked<Q extends { forUpdate(): Q; skipLocked(): Q }>(dialect: Dialect, query: Q): Q {
  return dialect === "postgres" ? query.forUpdate().skipLocked() : query;
}

/**
 * An app of an `apps:` block (a row aliased `a`) that may still use what its pull request
 * shares with its apps (the database): it still wants deploying, or its newest desire has
 * not been carried out yet. One whose destroy ended, failed included, is not busy.
 */
export function appBusy(eb: ExpressionBuilder<Database & { a: Database["previews"] }, "a">) {
  return eb.and([
    eb("a.app_key", "!=", ""),
    eb.or([eb("a.desired_action", "=", "deploy"), eb("a.desired_generation", "!=", eb.ref("a.observed_generation"))]),
  ]);
}

import type { Selectable } from "kysely";
import type { PreviewDatabasesTable } from "./schema.js";
import type { StoreContext } from "./types.js";

// The databases fly-preview made for previews (table preview_databases): a row is written
// BEFORE the provider is asked to create the database, so a process that dies between the
// create and anything after it still leaves a record for the sweep (`fly-preview gc`, the
// reaper) to find; and only what is recorded here is ever dropped by a sweep, so a
// database fly-preview did not create is never touched. Like the open check runs, these
// writes need no lease: each records a fact about the outside world.

export type DatabaseProvider = "neon" | "fly_postgres";

export interface DatabaseKey {
  provider: DatabaseProvider;
  /** Neon: the project id; Fly Postgres: the cluster (a Fly app). */
  home: string;
  /** Neon: the branch name; Fly Postgres: the database (and its user, or its owner role), or the user `onDatabase` is on. */
  name: string;
}

export interface DatabaseRow extends DatabaseKey {
  previewId: number;
  /** Neon: the branch it was copied from; Fly Postgres: the cluster. */
  parent: string | null;
  /** Neon: the repository secret holding the API key; null: the server's NEON_API_KEY. */
  secretName: string | null;
  /**
   * Fly Postgres: the database a pull request's apps share, when this row is an app's user
   * on it (only the user is this row's; the database is the pull request's row's). Null: a
   * database of the row's own.
   */
  onDatabase: string | null;
  createdAt: number;
  /** When the provider confirmed it; null: asked for, not confirmed (a crash may have left it half made). */
  readyAt: number | null;
}

const key = (k: DatabaseKey) => ({ provider: k.provider, home: k.home, name: k.name });

/**
 * Records that a preview's database is about to be created (or adopted): before asking the
 * provider. False, and nothing changed, when another preview's record of that database is
 * live: two previews never share one (two repositories naming the same Neon project would
 * both want `preview/pr-N`), and the record, with what its sweep drops, stays its holder's.
 */
export async function databaseWanted(
  s: StoreContext,
  previewId: number,
  db: DatabaseKey & { parent: string | null; secretName?: string | null; onDatabase?: string | null },
): Promise<boolean> {
  const now = s.clock();
  const facts = { preview_id: previewId, parent: db.parent, secret_name: db.secretName ?? null, on_database: db.onDatabase ?? null };
  await s.db
    .insertInto("preview_databases")
    .values({ ...key(db), ...facts, created_at: now, ready_at: null, dropped_at: null })
    .onConflict((oc) =>
      oc
        .columns(["provider", "home", "name"])
        .doUpdateSet({ ...facts, dropped_at: null })
        .where((eb) => eb.or([eb("preview_databases.preview_id", "=", previewId), eb("preview_databases.dropped_at", "is not", null)])),
    )
    .execute();
  const held = await s.db
    .selectFrom("preview_databases")
    .select("preview_id")
    .where("provider", "=", db.provider)
    .where("home", "=", db.home)
    .where("name", "=", db.name)
    .executeTakeFirstOrThrow();
  return held.preview_id === previewId;
}

/** The provider confirmed the database: it exists and serves the preview (copied from `parent`, when the provider chose it). */
export async function databaseReady(s: StoreContext, db: DatabaseKey, parent?: string): Promise<void> {
  await s.db.updateTable("preview_databases").set({ ready_at: s.clock(), ...(parent === undefined ? {} : { parent }) }).where("provider", "=", db.provider).where("home", "=", db.home).where("name", "=", db.name).execute();
}

/** The database is gone (dropped, or found absent): nothing is left to sweep. */
export async function databaseDropped(s: StoreContext, db: DatabaseKey): Promise<void> {
  await s.db.updateTable("preview_databases").set({ dropped_at: s.clock() }).where("provider", "=", db.provider).where("home", "=", db.home).where("name", "=", db.name).execute();
}

type Selected = Omit<Selectable<PreviewDatabasesTable>, "dropped_at">;
const toRow = (r: Selected): DatabaseRow => ({
  provider: r.provider as DatabaseProvider,
  home: r.home,
  name: r.name,
  previewId: r.preview_id,
  parent: r.parent,
  secretName: r.secret_name,
  onDatabase: r.on_database,
  createdAt: r.created_at,
  readyAt: r.ready_at,
});
const COLUMNS = ["provider", "home", "name", "preview_id", "parent", "secret_name", "on_database", "created_at", "ready_at"] as const;

/** The database a preview has now (not dropped), if any: the newest. */
export async function databaseOf(s: StoreContext, previewId: number): Promise<DatabaseRow | undefined> {
  return (await databasesOf(s, previewId))[0];
}

/**
 * Every database a preview has now (not dropped), newest first: usually one; more when
 * `.preview.yml` moved it (a pull request that gained `apps:`, another cluster) and the
 * older one is not dropped yet. Its destroy drops them all.
 */
export async function databasesOf(s: StoreContext, previewId: number): Promise<DatabaseRow[]> {
  const rows = await s.db
    .selectFrom("preview_databases")
    .select(COLUMNS)
    .where("preview_id", "=", previewId)
    .where("dropped_at", "is", null)
    .orderBy("created_at", "desc")
    .execute();
  return rows.map(toRow);
}

/**
 * Databases fly-preview made whose preview is gone: its row destroyed (and no newer
 * desire pending), or no row at all. What a sweep drops; nothing else.
 */
export async function databasesToSweep(s: StoreContext): Promise<DatabaseRow[]> {
  const rows = await s.db
    .selectFrom("preview_databases as d")
    .leftJoin("previews as p", "p.id", "d.preview_id")
    .select(["d.provider", "d.home", "d.name", "d.preview_id", "d.parent", "d.secret_name", "d.on_database", "d.created_at", "d.ready_at"])
    .where("d.dropped_at", "is", null)
    .where((eb) =>
      eb.or([
        eb("p.id", "is", null),
        eb.and([eb("p.status", "=", "destroyed"), eb("p.desired_action", "=", "destroy"), eb("p.observed_generation", "=", eb.ref("p.desired_generation"))]),
      ]),
    )
    .execute();
  return rows.map(toRow);
}

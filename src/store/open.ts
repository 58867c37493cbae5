import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import { SettingsError } from "../model/errors.js";
import { migrate, migrationsFor, type Dialect } from "./migrations.js";
import type { Database } from "./schema.js";
import { FALLBACK_AUTOCHECKPOINT_PAGES, startCheckpointer, type Checkpointer } from "./sqlite-checkpointer.js";
import { SqliteStoreDialect } from "./sqlite-driver.js";
import { PostgresWebhookDesires, SqliteWebhookDesires, type WebhookDesires } from "./webhook-desire.js";

// Opening the database DATABASE_URL names: `file:PATH` → SQLite (one process),
// `postgres://…` → PostgreSQL (several processes).

// PostgreSQL's bigint (int8) arrives as a string by default: ids and epoch
// milliseconds fit a JavaScript number exactly, so read them as numbers, like SQLite.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** A migrated database, and the webhook's hot path written out for its dialect. */
export interface Connection {
  db: Kysely<Database>;
  dialect: Dialect;
  webhookDesires: WebhookDesires;
}

/** HOST:PORT of a postgres:// URL: never its password. */
function postgresAddress(url: string): string {
  try {
    const { hostname, port } = new URL(url);
    return `${hostname || "localhost"}:${port || 5432}`;
  } catch {
    return "the host DATABASE_URL names";
  }
}

const isPostgres = (url: string) => /^postgres(ql)?:\/\//.test(url);

/** Opens the database named by DATABASE_URL and migrates it. */
export async function connect(url: string): Promise<Connection> {
  if (isPostgres(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection the server closed (a restart, a failover) is dropped from the
    // pool and the next query opens a new one; without a listener it would crash the
    // process. Errors of queries in flight still reach their callers.
    pool.on("error", () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      (await pool.connect()).release();
    } catch (error) {
      await db.destroy();
      throw new SettingsError(`cannot reach the database at ${postgresAddress(url)} (${(error as Error).message}); check DATABASE_URL`);
    }
    await migrate(db, "postgres");
    return { db, dialect: "postgres", webhookDesires: new PostgresWebhookDesires(pool) };
  }
  if (!url.startsWith("file:")) throw new Error(`unsupported DATABASE_URL "${url.split(":")[0]}:..."`);
  const file = url.slice("file:".length);
  if (file !== ":memory:") mkdirSync(dirname(resolve(file)), { recursive: true });
  const sqlite = new SQLite(file);
  // WAL lets the CLI read while the server writes; busy_timeout makes a second
  // process wait for the write lock instead of failing at once.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  let checkpointer: Checkpointer | undefined;
  if (file !== ":memory:") {
    // Checkpoints run on a thread of their own, not inside a webhook's commit.
    sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    checkpointer = startCheckpointer(resolve(file), (message) => process.emitWarning(`background WAL checkpoint failed: ${message}`));
  }
  const dialect = new SqliteStoreDialect(sqlite, checkpointer && (() => checkpointer.stop()));
  const db = new Kysely<Database>({ dialect });
  try {
    await migrate(db, "sqlite");
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, dialect: "sqlite", webhookDesires: new SqliteWebhookDesires(dialect) };
}

/** A database as it is, not migrated: what `fly-preview doctor` looks at. */
export interface DatabaseInspection {
  db: Kysely<Database>;
  /** Migrations this code has that the database has not run, oldest first. */
  pending: string[];
  close(): Promise<void>;
}

/**
 * Opens the database named by DATABASE_URL without changing it: no migration, and a
 * SQLite file that does not exist is an error rather than a new empty database.
 * Throws when the database cannot be reached.
 */
export async function inspectDatabase(url: string): Promise<DatabaseInspection> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (isPostgres(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
    pool.on("error", () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = "postgres";
  } else {
    const file = url.slice("file:".length);
    // better-sqlite3 throws "unable to open database file" for a missing file: no path in it.
    if (file !== ":memory:" && !existsSync(resolve(file))) throw new Error(`the SQLite file ${resolve(file)} does not exist`);
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(file, { fileMustExist: true }) }) });
    dialect = "sqlite";
  }
  try {
    const migrations = migrationsFor(dialect);
    const known = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).getMigrations();
    return { db, pending: known.filter((m) => m.executedAt === undefined).map((m) => m.name), close: () => db.destroy() };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

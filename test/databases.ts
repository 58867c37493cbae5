// The databases a test can run on: SQLite always; PostgreSQL when TEST_DATABASE_URL
// names a server (.ci/run sets it). Each PostgreSQL store gets a database of its own.
import { randomBytes } from "node:crypto";
import pg from "pg";

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export const POSTGRES_NOT_RUN =
  "PostgreSQL tests were not run: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test); .ci/run sets it";

if (!TEST_DATABASE_URL) console.warn(POSTGRES_NOT_RUN);

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new, empty PostgreSQL database, and how to drop it. */
export async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error(POSTGRES_NOT_RUN);
  const name = `fly_preview_test_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

export interface TestDatabase {
  dialect: "sqlite" | "postgres";
  /** A DATABASE_URL for a new, empty database. */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

export const SQLITE: TestDatabase = {
  dialect: "sqlite",
  create: async () => ({ url: "file::memory:", drop: async () => undefined }),
};

export const POSTGRES: TestDatabase = { dialect: "postgres", create: freshPostgres };

/** The dialects this run can test: PostgreSQL only with TEST_DATABASE_URL. */
export const DIALECTS: TestDatabase[] = TEST_DATABASE_URL ? [SQLITE, POSTGRES] : [SQLITE];

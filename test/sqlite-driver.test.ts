import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, sql, type Generated } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FifoLock, SqliteStoreDialect } from "../src/store/sqlite-driver.js";
import { openStore } from "../src/store/store.js";
import { rounds, type DesireRow } from "../src/store/webhook-desire.js";
import { until } from "./harness.js";

describe("the FIFO lock", () => {
  it("hands the lock to one waiter per release, in arrival order", async () => {
    const lock = new FifoLock();
    const got: string[] = [];
    await lock.acquire();
    const waiters = ["a", "b", "c"].map((name) => lock.acquire().then(() => got.push(name)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual([]);
    lock.release();
    await waiters[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual(["a"]);
    lock.release();
    lock.release();
    await Promise.all(waiters);
    expect(got).toEqual(["a", "b", "c"]);
    // Free again: the next acquire does not wait.
    lock.release();
    await lock.acquire();
  });
});

interface Db {
  t: { id: Generated<number>; v: string };
}

describe("the SQLite dialect", () => {
  let database: SQLite.Database;
  let dialect: SqliteStoreDialect;
  let db: Kysely<Db>;
  beforeEach(async () => {
    database = new SQLite(":memory:");
    dialect = new SqliteStoreDialect(database);
    db = new Kysely<Db>({ dialect });
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
  });
  afterEach(async () => {
    await db.destroy();
  });

  const values = async () => (await db.selectFrom("t").select("v").orderBy("id").execute()).map((r) => r.v);
  const insert = (v: string) => (prepare: (s: string) => SQLite.Statement) => prepare("insert into t (v) values (?)").run(v).changes;

  it("answers right from its statement cache, also past its size", async () => {
    for (let round = 0; round < 2; round++) {
      for (let n = 0; n < 300; n++) {
        const row = await sql<{ n: number }>`select ${sql.lit(n)} + 0 as n`.execute(db);
        expect(row.rows[0]!.n).toBe(n);
      }
    }
  });

  it("streams a select", async () => {
    await db.insertInto("t").values([{ v: "x" }, { v: "y" }]).execute();
    const seen: string[] = [];
    for await (const row of db.selectFrom("t").select("v").orderBy("id").stream()) seen.push(row.v);
    expect(seen).toEqual(["x", "y"]);
  });

  it("runs atomic work between kysely's transactions, never inside one", async () => {
    let inside!: () => void;
    const opened = new Promise<void>((resolve) => (inside = resolve));
    const rolledBack = db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto("t").values({ v: "rolled back" }).execute();
        inside();
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error("undo");
      })
      .catch((error: Error) => error.message);
    await opened;
    // Without the shared lock this would run inside the open transaction and be undone with it.
    const kept = dialect.atomically(insert("kept"));
    expect(await rolledBack).toBe("undo");
    expect(await kept).toBe(1);
    expect(await values()).toEqual(["kept"]);
  });

  it("undoes only the work that threw, of work committed together", async () => {
    const results = await Promise.allSettled([
      dialect.atomically(insert("first")),
      dialect.atomically((prepare) => {
        insert("undone")(prepare);
        throw new Error("this one fails");
      }),
      dialect.atomically(insert("third")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await values()).toEqual(["first", "third"]);
    expect(database.inTransaction).toBe(false);
  });

  it("rejects all the work of a commit that fails, and writes none of it", async () => {
    database.pragma("foreign_keys = ON");
    await sql`create table child (id integer primary key, parent integer references t (id) deferrable initially deferred)`.execute(db);
    const results = await Promise.allSettled([
      dialect.atomically(insert("lost with the commit")),
      // A deferred foreign key is only checked at COMMIT, so the whole commit fails.
      dialect.atomically((prepare) => prepare("insert into child (parent) values (999)").run().changes),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(await values()).toEqual([]);
    expect(database.inTransaction).toBe(false);
    // And the connection still works.
    expect(await dialect.atomically(insert("after"))).toBe(1);
  });
});

describe("splitting a burst of webhooks into rounds", () => {
  const item = (number: number, deliveryId: string) => ({
    row: { owner: "acme", repo: "web", number, desire_token: "t" } as DesireRow,
    deliveryId,
    label: `${number}/${deliveryId}`,
  });

  it("puts no pull request and no delivery id twice in a round, and keeps each PR's order", () => {
    const burst = [item(1, "a"), item(2, "b"), item(1, "c"), item(3, "b"), item(1, "f"), item(4, "d"), item(2, "e")];
    const split = rounds(burst).map((round) => round.map((i) => i.label));
    expect(split).toEqual([["1/a", "2/b", "4/d"], ["1/c", "3/b", "2/e"], ["1/f"]]);
  });
});

describe("the background WAL checkpoint", () => {
  it("copies committed pages into the database file without the writer's help, and stops with the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fly-preview-ckpt-"));
    try {
      const file = join(dir, "store.db");
      const store = await openStore(`file:${file}`);
      const before = statSync(file).size;
      const value = "x".repeat(10_000);
      for (let i = 0; i < 200; i++) await store.db.insertInto("meta").values({ key: `k${i}`, value }).execute();
      // 2 MB of rows: far below the writer's own checkpoint threshold, so only the
      // background thread can have moved them into the file.
      await until("the rows checkpointed into the database file", () => statSync(file).size > before + 1_500_000, 5_000);
      await store.close();
      expect(statSync(file).size).toBeGreaterThan(before + 1_500_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

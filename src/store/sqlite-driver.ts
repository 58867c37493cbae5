import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import {
  CompiledQuery,
  SelectQueryNode,
  SqliteDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from "kysely";

/** Distinct SQL texts kept prepared; the store issues a few dozen, `in (…)` lists add more. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * kysely's SQLite dialect with our own driver. kysely's driver prepares every statement
 * anew and, when several queries wait for the one connection, wakes all of them on each
 * release to race for it: under a burst of webhooks those two were a third of the
 * server's CPU (docs/benchmarks.md). This driver keeps statements prepared and hands
 * the connection to its waiters in arrival order, one at a time.
 */
export class SqliteStoreDialect extends SqliteDialect {
  private driver?: SqliteStoreDriver;

  constructor(
    private readonly database: SqliteDatabase,
    /** Run when kysely is destroyed, before the connection closes (the background checkpointer's stop). */
    private readonly beforeClose?: () => Promise<void>,
  ) {
    super({ database });
  }

  override createDriver(): Driver {
    this.driver = new SqliteStoreDriver(this.database, this.beforeClose);
    return this.driver;
  }

  /**
   * Runs `work` atomically, synchronously, in turn with kysely's queries: for a hot
   * path whose SQL is written out (src/store/webhook-desire.ts). `work` prepares its
   * statements through the same cache kysely's queries use.
   */
  atomically<T>(work: (prepare: (sql: string) => Statement) => T): Promise<T> {
    if (!this.driver) throw new Error("the SQLite dialect is not in use by a Kysely instance yet");
    return this.driver.atomically(work);
  }
}

interface Batched {
  work: (prepare: (sql: string) => Statement) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class SqliteStoreDriver implements Driver {
  private readonly lock = new FifoLock();
  private batch: Batched[] = [];
  private readonly connection: SqliteStoreConnection;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly beforeClose?: () => Promise<void>,
  ) {
    this.connection = new SqliteStoreConnection(database);
  }

  async init(): Promise<void> {}

  /**
   * Group commit: calls made in the same turn of the event loop share one transaction,
   * committed once. A commit (its WAL write, and now and then a checkpoint) cost more
   * than the statements of a webhook; a burst of webhooks now pays it once. Each call
   * runs inside its own savepoint, so one that throws undoes only its own writes.
   */
  atomically<T>(work: (prepare: (sql: string) => Statement) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ work, resolve, reject } as Batched);
      if (this.batch.length === 1) setImmediate(() => void this.commitBatch());
    });
  }

  private async commitBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    await this.lock.acquire();
    const prepare = (sql: string) => this.connection.prepare(sql);
    const outcomes: Array<{ value: unknown } | { error: unknown }> = [];
    try {
      prepare("begin").run();
      for (const item of batch) {
        prepare("savepoint atomically").run();
        try {
          outcomes.push({ value: item.work(prepare) });
          prepare("release atomically").run();
        } catch (error) {
          outcomes.push({ error });
          prepare("rollback to atomically").run();
          prepare("release atomically").run();
        }
      }
      prepare("commit").run();
    } catch (error) {
      // The transaction itself failed (the disk, a lock): nothing of the batch was written.
      try {
        if (this.database.inTransaction) prepare("rollback").run();
      } catch {
        // SQLite already rolled back (it does on some errors); nothing is left to undo.
      }
      for (const item of batch) item.reject(error);
      return;
    } finally {
      this.lock.release();
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if ("error" in outcome) item.reject(outcome.error);
      else item.resolve(outcome.value);
    });
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // SQLite has one connection: queries and transactions take turns on it.
    await this.lock.acquire();
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    this.lock.release();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin"));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async destroy(): Promise<void> {
    await this.beforeClose?.();
    this.database.close();
  }
}

class SqliteStoreConnection implements DatabaseConnection {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly database: SqliteDatabase) {}

  /** The prepared statement for `sql`, most recently used last, so the oldest is evicted first. */
  prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql);
    } else {
      statement = this.database.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        this.statements.delete(this.statements.keys().next().value!);
      }
    }
    this.statements.set(sql, statement);
    return statement;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.prepare(query.sql);
    const parameters = query.parameters as unknown[];
    // `reader`: the statement returns rows (a select, or a write with RETURNING).
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(query.query)) throw new Error("SQLite streams only select queries");
    // Not from the cache: a statement that is iterating cannot run anything else.
    for (const row of this.database.prepare(query.sql).iterate(query.parameters as unknown[])) {
      yield { rows: [row as R] };
    }
  }
}

/** A lock handed to waiters in arrival order: a release wakes exactly one of them. */
export class FifoLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    // Handed straight to the next waiter: `held` stays true, so nobody can jump the queue.
    if (next) next();
    else this.held = false;
  }
}

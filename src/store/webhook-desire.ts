import type pg from "pg";
import type { SqliteStoreDialect } from "./sqlite-driver.js";

// The webhook's hot path: record a delivery id and the desire to deploy a PR's head.
// Its SQL is written out once here instead of built by kysely's query builder on every
// delivery, and deliveries that arrive together are written together (one commit on
// SQLite, one statement on PostgreSQL): building the queries and committing them one
// by one was most of what a webhook cost (docs/benchmarks.md). Everything else in the
// store goes through kysely. The rules restate desires.ts's `desireDeploy` for an event;
// test/desire-rules.test.ts runs both against each other, for every event and state.

/**
 * True when the desire changes: the PR is not paused, and it did not already want
 * this commit deployed (or the trigger rules skipped it and must look again):
 * desires.ts's `eventChangesDesire`. Every SET expression of an upsert reads the row as
 * it was, so this is judged once.
 */
const CHANGED = `(previews.paused = 0 and (previews.desired_action <> 'deploy' or previews.desired_sha is distinct from excluded.desired_sha or previews.status = 'skipped'))`;

/** Refreshed from every event, whether or not the desire changes. */
const FACTS = ["installation_id", "app_name", "head_sha", "head_ref", "base_ref", "draft", "labels", "fork", "updated_at"];

/** Set only when the desire changes; otherwise each keeps its value. */
const DESIRE: Record<string, string> = {
  desired_action: `'deploy'`,
  desired_sha: "excluded.desired_sha",
  desired_generation: "previews.desired_generation + 1",
  desired_at: "excluded.desired_at",
  activity_at: "excluded.activity_at",
  destroy_reason: "null",
  quiet: "0",
  desired_by: "null",
  // Written only with a changed desire, so the caller learns which happened.
  desire_token: "excluded.desire_token",
};

const ON_CONFLICT = [
  // app_key "": the pull request's own row (an app of an `apps:` block has its name there).
  `on conflict (owner, repo, number, app_key) do update set`,
  [
    ...FACTS.map((column) => `${column} = excluded.${column}`),
    ...Object.entries(DESIRE).map(([column, value]) => `${column} = case when ${CHANGED} then ${value} else previews.${column} end`),
  ].join(", "),
].join(" ");

/** A PR's row as the webhook writes it: its first row, with a fresh `desire_token`. */
export type DesireRow = Record<string, string | number | null> & { owner: string; repo: string; number: number; desire_token: string };

/** What an upsert left in `desire_token`: the row's token when the desire changed; undefined for a redelivery. */
export type Written = { desire_token: string } | undefined;

export interface WebhookDesires {
  /** Records the desire in `row` and `deliveryId`; nothing happens if the delivery was recorded before. */
  record(row: DesireRow, deliveryId: string, now: number): Promise<Written>;
}

const SQLITE_DELIVERY = `insert into deliveries (id, received_at) values (?, ?) on conflict (id) do nothing`;
const sqliteUpserts = new Map<string, string>();

/**
 * SQLite: each webhook is two statements, the delivery and then the upsert, run by
 * the dialect's `atomically`, which commits the webhooks of one event-loop turn together.
 */
export class SqliteWebhookDesires implements WebhookDesires {
  constructor(private readonly dialect: SqliteStoreDialect) {}

  record(row: DesireRow, deliveryId: string, now: number): Promise<Written> {
    const columns = Object.keys(row);
    const key = columns.join(",");
    let upsert = sqliteUpserts.get(key);
    if (!upsert) {
      upsert = `insert into previews (${key}) values (${columns.map(() => "?").join(", ")}) ${ON_CONFLICT} returning desire_token`;
      sqliteUpserts.set(key, upsert);
    }
    const values = Object.values(row);
    return this.dialect.atomically((prepare) => {
      if (prepare(SQLITE_DELIVERY).run(deliveryId, now).changes === 0) return undefined;
      return prepare(upsert).get(values) as { desire_token: string };
    });
  }
}

interface Pending {
  row: DesireRow;
  deliveryId: string;
  now: number;
  resolve: (written: Written) => void;
  reject: (error: unknown) => void;
}

/**
 * GitHub gives up on a delivery after 10 s. A write still running after 8 s (a lost
 * connection, a lock held too long) fails, its webhooks answer 500 and GitHub shows
 * them as failed deliveries, instead of holding a slot every later webhook waits for.
 */
const WEBHOOK_WRITE_TIMEOUT_MS = 8_000;

/** Bursts one process writes at once; more wait and join the next. */
const IN_FLIGHT = 2;

/** PostgreSQL's codes for a deadlock and a serialization failure: running again succeeds. */
const RETRYABLE = new Set(["40P01", "40001"]);

/**
 * PostgreSQL: the webhooks of one event-loop turn become one statement, a round trip
 * and a commit for all of them. The rows travel as one JSON array, typed by the
 * previews table itself (`jsonb_populate_record`); a CTE records the delivery ids, and
 * only rows whose delivery id is new are upserted. One statement may not upsert the
 * same PR twice, so a burst that holds a PR twice (or a delivery id twice) is split
 * into rounds, run in order.
 */
export class PostgresWebhookDesires implements WebhookDesires {
  private batch: Pending[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly statements = new Map<string, { name: string; text: string }>();

  constructor(
    private readonly pool: pg.Pool,
    /** A statement slower than this fails its webhooks (500) and frees its slot. */
    private readonly timeoutMs = WEBHOOK_WRITE_TIMEOUT_MS,
  ) {}

  record(row: DesireRow, deliveryId: string, now: number): Promise<Written> {
    return new Promise<Written>((resolve, reject) => {
      this.batch.push({ row, deliveryId, now, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Flushes the waiting webhooks at the end of this event-loop turn, unless as many
   * bursts as allowed are already being written: then they wait for one to finish,
   * and the burst grows meanwhile. Under load this makes few large statements instead
   * of many small ones; when idle, a webhook is written at once.
   */
  private schedule(): void {
    if (this.scheduled || this.batch.length === 0 || this.inFlight >= IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.inFlight >= IN_FLIGHT) return;
      const batch = this.batch;
      this.batch = [];
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.schedule();
      });
    });
  }

  private statement(columns: string[]): { name: string; text: string } {
    const key = columns.join(",");
    let statement = this.statements.get(key);
    if (!statement) {
      const list = columns.join(", ");
      statement = {
        // Named: each connection parses and plans it once, not on every burst.
        name: `fly-preview-webhook-desires-${this.statements.size}`,
        text:
          `with input as (select r.*, e.value->>'delivery_id' as delivery_id, (e.value->>'received_at')::bigint as received_at ` +
          `from jsonb_array_elements($1::jsonb) as e(value) cross join lateral jsonb_populate_record(null::previews, e.value) as r), ` +
          `delivery as (insert into deliveries (id, received_at) select delivery_id, received_at from input ` +
          `order by delivery_id on conflict (id) do nothing returning id) ` +
          `insert into previews (${list}) select ${list} from input ` +
          `where delivery_id in (select id from delivery) ` +
          // One order for every writer, so two servers' bursts cannot deadlock on each other's rows.
          `order by owner, repo, number ${ON_CONFLICT} returning owner, repo, number, desire_token`,
      };
      this.statements.set(key, statement);
    }
    return statement;
  }

  private async flush(batch: Pending[]): Promise<void> {
    for (const round of rounds(batch)) {
      try {
        const written = await this.run(round);
        for (const item of round) item.resolve(written.get(prKey(item.row)));
      } catch (error) {
        for (const item of round) item.reject(error);
      }
    }
  }

  private async run(round: Pending[], retried = false): Promise<Map<string, Written>> {
    const columns = Object.keys(round[0]!.row);
    const { name, text } = this.statement(columns);
    const input = JSON.stringify(round.map((item) => Object.assign({ delivery_id: item.deliveryId, received_at: item.now }, item.row)));
    try {
      // node-postgres honours query_timeout per query; its types list it for the client only.
      const query: pg.QueryConfig & { query_timeout: number } = { name, text, values: [input], query_timeout: this.timeoutMs };
      const result = await this.pool.query<{ owner: string; repo: string; number: number; desire_token: string }>(query);
      return new Map(result.rows.map((row) => [prKey(row), { desire_token: row.desire_token }]));
    } catch (error) {
      if (retried || !RETRYABLE.has((error as { code?: string }).code ?? "")) throw error;
      return this.run(round, true);
    }
  }
}

function prKey(row: { owner: string; repo: string; number: number }): string {
  return `${row.owner}/${row.repo}#${row.number}`;
}

/**
 * Splits a burst into rounds in which no PR and no delivery id appears twice. An item
 * goes one round after the latest earlier item it shares either with, so each PR's
 * events still apply in the order they came.
 */
export function rounds<T extends { row: DesireRow; deliveryId: string }>(items: T[]): T[][] {
  const out: T[][] = [];
  const lastRound = new Map<string, number>();
  for (const item of items) {
    const keys = [`pr:${prKey(item.row)}`, `delivery:${item.deliveryId}`];
    const round = Math.max(-1, ...keys.map((key) => lastRound.get(key) ?? -1)) + 1;
    for (const key of keys) lastRound.set(key, round);
    (out[round] ??= []).push(item);
  }
  return out;
}

import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type ExpressionBuilder, type Insertable, type Selectable, type Updateable } from "kysely";
import { migrate, migrationsFor, type Dialect } from "./migrations.js";
import { FALLBACK_AUTOCHECKPOINT_PAGES, startCheckpointer, type Checkpointer } from "./sqlite-checkpointer.js";
import { SqliteStoreDialect } from "./sqlite-driver.js";
import { SettingsError } from "../settings.js";
import { SurfaceWrites } from "./surface-writes.js";
import { PostgresWebhookDesires, SqliteWebhookDesires, type WebhookDesires } from "./webhook-desire.js";
import type { CommandsTable, Database, DestroyReason, PreviewsTable } from "./schema.js";

export type Preview = Selectable<PreviewsTable>;
export type PreviewPatch = Omit<
  Updateable<PreviewsTable>,
  "id" | "desired_action" | "desired_sha" | "desired_generation" | "desired_at" | "lease_owner" | "lease_expires_at"
>;

// The pull request as a webhook describes it; enough to plan a deploy without
// asking GitHub again.
export interface PullRequestInfo {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  appName: string;
  headSha: string;
  headRef: string;
  baseRef: string;
  draft: boolean;
  labels: string[];
  /** The head branch lives in another repository: untrusted code. */
  fork: boolean;
}

/** The PR as a webhook describes it, as columns: refreshed on every event. */
function prFacts(pr: PullRequestInfo, now: number) {
  return {
    installation_id: pr.installationId,
    app_name: pr.appName,
    head_sha: pr.headSha,
    head_ref: pr.headRef,
    base_ref: pr.baseRef,
    draft: pr.draft ? 1 : 0,
    labels: JSON.stringify(pr.labels),
    fork: pr.fork ? 1 : 0,
    updated_at: now,
  };
}

/** A PR's first row: its facts and a first desire to deploy its head. */
function firstRow(pr: PullRequestInfo, now: number) {
  // Object.assign, not a spread: on Node 20 `{ ...facts, more… }` took 14 µs here,
  // as much as the store then spent on the rest of a webhook (docs/benchmarks.md).
  return Object.assign(prFacts(pr, now), {
    owner: pr.owner,
    repo: pr.repo,
    number: pr.number,
    desired_action: "deploy" as const,
    desired_sha: pr.headSha,
    desired_generation: 1,
    desired_at: now,
    observed_generation: 0,
    status: "queued" as const,
    status_at: now,
    created_at: now,
    activity_at: now,
  });
}

/** Who asked, when a desire comes from a command rather than a webhook. */
export interface CommandDesire {
  by: string;
  commentId?: number;
  /** `/preview approve`: this commit of a fork PR (the one the approver saw) may deploy. */
  approvedSha?: string;
}

/** Why a destroy is desired, and who asked when a person did. */
export interface DestroyWhy {
  reason: DestroyReason;
  by?: string;
  commentId?: number;
}

type Scope = { installationId: number } | { owner: string; repo: string };

/** The outcome of a command dropped because the App lost its repository (see appRemoved). */
export const APP_REMOVED_OUTCOME = "failed: the App was uninstalled or lost access to this repository";

export type Command = Selectable<CommandsTable>;
export type NewCommand = Omit<
  Insertable<CommandsTable>,
  "id" | "created_at" | "lease_owner" | "lease_expires_at" | "done_at" | "outcome" | "attempts" | "retry_at"
>;

export type SurfaceIds = Pick<
  PreviewPatch,
  "comment_id" | "comment_body_hash" | "check_run_id" | "check_run_sha" | "check_run_url" | "deployment_id" | "deployment_sha"
>;

export interface Claim {
  preview: Preview;
  generation: number;
}

export class Store {
  /** What each GitHub surface should show and what was sent: the write queue's rows. */
  readonly surfaceWrites: SurfaceWrites;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    /** The webhook's hot path, written out per dialect (webhook-desire.ts). */
    private readonly desires: WebhookDesires,
    private readonly clock: () => number = Date.now,
  ) {
    this.surfaceWrites = new SurfaceWrites(db, clock);
  }

  /**
   * On PostgreSQL, several workers claim at once: `FOR UPDATE SKIP LOCKED` makes each
   * pass over rows another is claiming instead of queueing behind it. SQLite has one
   * writer at a time and no such clause.
   */
  /** Within a transaction: on PostgreSQL, hold the row so concurrent desires apply one after another. */
  private lockRow<Q extends { forUpdate(): Q }>(query: Q): Q {
    return this.dialect === "postgres" ? query.forUpdate() : query;
  }

  /**
   * Two processes recording the first desire of the same PR at once: one insert loses
   * to the unique key. Running again finds the row and updates it.
   */
  private async retryOnConflict<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "23505" && code !== "SQLITE_CONSTRAINT_UNIQUE") throw error;
      return work();
    }
  }

  private skipLocked<Q extends { forUpdate(): Q; skipLocked(): Q }>(query: Q): Q {
    return this.dialect === "postgres" ? query.forUpdate().skipLocked() : query;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Records a delivery id; false when it was already recorded (a redelivery). */
  async firstDelivery(id: string): Promise<boolean> {
    const result = await this.db
      .insertInto("deliveries")
      .values({ id, received_at: this.clock() })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async pruneDeliveries(olderThanMs: number): Promise<void> {
    await this.db.deleteFrom("deliveries").where("received_at", "<", this.clock() - olderThanMs).execute();
  }

  async get(owner: string, repo: string, number: number): Promise<Preview | undefined> {
    return this.db
      .selectFrom("previews")
      .selectAll()
      .where("owner", "=", owner)
      .where("repo", "=", repo)
      .where("number", "=", number)
      .executeTakeFirst();
  }

  /** Every preview the store knows, newest first; `repo` as "owner/name" narrows it. */
  async list(filter: { repo?: string } = {}): Promise<Preview[]> {
    let query = this.db.selectFrom("previews").selectAll().orderBy("updated_at", "desc").orderBy("id", "desc");
    if (filter.repo) {
      const [owner, repo] = filter.repo.split("/");
      query = query.where("owner", "=", owner).where("repo", "=", repo);
    }
    return query.execute();
  }

  /** Another preview holding the same Fly app name (names fold case and punctuation, so two repositories can meet). */
  async sameAppName(appName: string, exceptId: number): Promise<Preview | undefined> {
    return this.db
      .selectFrom("previews")
      .selectAll()
      .where("app_name", "=", appName)
      .where("id", "!=", exceptId)
      .where("app_created", "=", 1)
      .executeTakeFirst();
  }

  async getById(id: number): Promise<Preview | undefined> {
    return this.db.selectFrom("previews").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /**
   * Desire "deployed at pr.headSha". The generation moves only when the desire
   * changes, so a redelivered or repeated event deploys nothing twice. A PR the
   * trigger rules skipped is re-evaluated on every event (a label or the end of
   * draft status may now let it through).
   */
  async desireDeploy(pr: PullRequestInfo, command?: CommandDesire): Promise<{ changed: boolean }> {
    if (!command) return (await this.desireDeployFromWebhook(pr))!;
    return this.retryOnConflict(() => this.db.transaction().execute(async (trx) => {
      const now = this.clock();
      const row = await trx
        .selectFrom("previews")
        .select(["id", "desired_action", "desired_sha", "desired_generation", "status", "paused"])
        .where("owner", "=", pr.owner)
        .where("repo", "=", pr.repo)
        .where("number", "=", pr.number)
        .$call((q) => this.lockRow(q))
        .executeTakeFirst();
      const facts = prFacts(pr, now);
      if (!row) {
        await trx
          .insertInto("previews")
          .values({
            ...firstRow(pr, now),
            command_comment_id: command?.commentId ?? null,
            desired_by: command?.by ?? null,
            approved_sha: command?.approvedSha ?? null,
          })
          .execute();
        return { changed: true };
      }
      // A command always counts as new: "deploy again" is the point of it.
      const changed = command
        ? true
        : row.paused === 0 && (row.desired_action !== "deploy" || row.desired_sha !== pr.headSha || row.status === "skipped");
      const desire = {
        desired_action: "deploy" as const,
        desired_sha: pr.headSha,
        desired_generation: row.desired_generation + 1,
        desired_at: now,
        activity_at: now,
        destroy_reason: null,
        quiet: 0,
      };
      const fromCommand = command
        ? {
            paused: 0,
            destroyed_by: null,
            desired_by: command.by,
            command_comment_id: command.commentId ?? null,
            ...(command.approvedSha ? { approved_sha: command.approvedSha } : {}),
          }
        : { desired_by: null };
      await trx
        .updateTable("previews")
        .set(changed ? { ...facts, ...desire, ...fromCommand } : facts)
        .where("id", "=", row.id)
        .execute();
      return { changed };
    }));
  }

  /**
   * The webhook's hot path: records the delivery id and the desire to deploy the PR's
   * head in one transaction (one statement on PostgreSQL). Undefined when the delivery
   * was recorded before: a redelivery changes nothing.
   */
  async desireDeployOnce(deliveryId: string, pr: PullRequestInfo): Promise<{ changed: boolean } | undefined> {
    return this.desireDeployFromWebhook(pr, deliveryId);
  }

  /**
   * Inserts the PR, or updates its facts and, when the desire changed, the desire
   * (webhook-desire.ts has the SQL). A token written only with a changed desire tells
   * which happened. Undefined for a redelivery.
   */
  private async desireDeployFromWebhook(pr: PullRequestInfo, deliveryId?: string): Promise<{ changed: boolean } | undefined> {
    const now = this.clock();
    const token = randomUUID();
    const written = await this.desires.record(Object.assign(firstRow(pr, now), { desire_token: token }), deliveryId, now);
    return written && { changed: written.desire_token === token };
  }

  /**
   * A new desire for the same commit, judged by the trigger rules again: a label was
   * removed or the PR went back to draft, which may take its preview away. Only a
   * preview that exists, or is on its way, has anything to judge; a paused one stays
   * paused, and a deploy a command asked for no longer passes over the rules.
   */
  async recheck(owner: string, repo: string, number: number): Promise<{ changed: boolean }> {
    const now = this.clock();
    const result = await this.db
      .updateTable("previews")
      .set((eb) => ({ desired_generation: eb("desired_generation", "+", 1), desired_at: now, desired_by: null, updated_at: now }))
      .where("owner", "=", owner)
      .where("repo", "=", repo)
      .where("number", "=", number)
      .where("desired_action", "=", "deploy")
      .where("paused", "=", 0)
      .where((eb) => eb.or([eb("status", "not in", ["none", "skipped"]), eb("app_created", "=", 1)]))
      .executeTakeFirst();
    return { changed: Number(result.numUpdatedRows) > 0 };
  }

  /**
   * Desire "destroyed". A PR we never recorded has nothing to destroy. Destroyed by a
   * person (a command, an operator), the preview stays paused: pushes do not bring it
   * back, a redeploy does.
   */
  async desireDestroy(owner: string, repo: string, number: number, why: DestroyWhy = { reason: "closed" }): Promise<{ changed: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.clock();
      const row = await trx
        .selectFrom("previews")
        .select(["id", "desired_action", "desired_generation"])
        .where("owner", "=", owner)
        .where("repo", "=", repo)
        .where("number", "=", number)
        .$call((q) => this.lockRow(q))
        .executeTakeFirst();
      if (!row) return { changed: false };
      const paused = why.reason === "command" || why.reason === "operator" ? { paused: 1 } : {};
      if (row.desired_action === "destroy") {
        if (why.by) await trx.updateTable("previews").set({ ...paused, destroyed_by: why.by }).where("id", "=", row.id).execute();
        return { changed: false };
      }
      await trx
        .updateTable("previews")
        .set({
          desired_action: "destroy",
          desired_sha: null,
          desired_generation: row.desired_generation + 1,
          desired_at: now,
          updated_at: now,
          ...paused,
          destroy_reason: why.reason,
          destroyed_by: why.by ?? null,
          desired_by: why.by ?? null,
          command_comment_id: why.commentId ?? null,
          quiet: why.reason === "uninstalled" ? 1 : 0,
        })
        .where("id", "=", row.id)
        .execute();
      return { changed: true };
    });
  }

  /**
   * The App can no longer see `scope` (uninstalled, a repository removed, or GitHub
   * answering 404 for the installation's token): every preview in it is destroyed
   * quietly, Fly only, since GitHub would refuse every write. That includes destroys
   * asked for before, pending or failed: a failed one runs again now, quietly, instead
   * of failing on GitHub at every reaper pass. Commands waiting in it are dropped.
   * Returns how many previews have new work.
   */
  async appRemoved(scope: Scope): Promise<number> {
    const rows = await this.inScope(scope).select(["owner", "repo", "number"]).where("desired_action", "=", "deploy").execute();
    let changed = 0;
    for (const row of rows) {
      if ((await this.desireDestroy(row.owner, row.repo, row.number, { reason: "uninstalled" })).changed) changed++;
    }
    const now = this.clock();
    await this.db
      .updateTable("previews")
      .set({ quiet: 1 })
      .where((eb) => this.scoped(eb, scope))
      .where("desired_action", "=", "destroy")
      .where("quiet", "=", 0)
      .execute();
    const failed = await this.db
      .updateTable("previews")
      .set((eb) => ({ desired_generation: eb("desired_generation", "+", 1), desired_at: now }))
      .where((eb) => this.scoped(eb, scope))
      .where("desired_action", "=", "destroy")
      .where("status", "=", "failed")
      .whereRef("desired_generation", "=", "observed_generation")
      .executeTakeFirst();
    await this.db
      .updateTable("commands")
      .set({ done_at: now, outcome: APP_REMOVED_OUTCOME })
      .where((eb) => this.scoped(eb, scope))
      .where("done_at", "is", null)
      .execute();
    return changed + Number(failed.numUpdatedRows);
  }

  /** `scope` as a condition on a table that names installation, owner and repo. */
  private scoped(eb: ExpressionBuilder<Database, "previews"> | ExpressionBuilder<Database, "commands">, scope: Scope) {
    const e = eb as ExpressionBuilder<Database, "previews">;
    return "installationId" in scope
      ? e("installation_id", "=", scope.installationId)
      : e.and([e("owner", "=", scope.owner), e("repo", "=", scope.repo)]);
  }

  /** Asks again for the current desire: a failed destroy retried, a preview waiting for a slot. */
  async redesire(id: number): Promise<void> {
    await this.db
      .updateTable("previews")
      .set((eb) => ({ desired_generation: eb("desired_generation", "+", 1), desired_at: this.clock() }))
      .where("id", "=", id)
      .whereRef("desired_generation", "=", "observed_generation")
      .execute();
  }

  /** Previews in scope that hold a Fly app and are meant to keep it, other than `exceptId`. */
  async countActive(scope: Scope, exceptId: number): Promise<number> {
    const row = await this.inScope(scope)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("app_created", "=", 1)
      .where("desired_action", "=", "deploy")
      .where("id", "!=", exceptId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async waitingForSlot(installationId: number): Promise<Preview[]> {
    return this.inScope({ installationId })
      .selectAll()
      .where("status", "=", "limited")
      .where("desired_action", "=", "deploy")
      .orderBy("desired_at")
      .execute();
  }

  private inScope(scope: Scope) {
    const query = this.db.selectFrom("previews");
    return "installationId" in scope
      ? query.where("installation_id", "=", scope.installationId)
      : query.where("owner", "=", scope.owner).where("repo", "=", scope.repo);
  }

  /**
   * Takes the oldest preview whose desired state is ahead of what was observed and
   * that nobody holds, leasing it to `worker`. A desire younger than `settleMs` waits,
   * so a burst of pushes collapses into one deploy of the newest commit.
   */
  async claim(worker: string, leaseMs: number, settleMs: number): Promise<Claim | undefined> {
    const now = this.clock();
    const preview = await this.db
      .updateTable("previews")
      .set({ lease_owner: worker, lease_expires_at: now + leaseMs })
      .where(
        "id",
        "=",
        this.db
          .selectFrom("previews")
          .select("id")
          .whereRef("desired_generation", ">", "observed_generation")
          .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
          .where("desired_at", "<=", now - settleMs)
          .where((eb) => eb.or([eb("retry_at", "is", null), eb("retry_at", "<=", now), eb("retry_generation", "<>", eb.ref("desired_generation"))]))
          .orderBy("desired_at")
          .limit(1)
          .$call((q) => this.skipLocked(q)),
      )
      .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
      .returningAll()
      .executeTakeFirst();
    return preview ? { preview, generation: preview.desired_generation } : undefined;
  }

  /** Extends a lease; undefined when the lease was lost (expired and taken by another worker). */
  async renew(id: number, worker: string, leaseMs: number): Promise<Preview | undefined> {
    return this.db
      .updateTable("previews")
      .set({ lease_expires_at: this.clock() + leaseMs })
      .where("id", "=", id)
      .where("lease_owner", "=", worker)
      .returningAll()
      .executeTakeFirst();
  }

  /** Writes observed state; ignored when the lease is no longer ours. */
  async save(id: number, worker: string, patch: PreviewPatch): Promise<void> {
    await this.db
      .updateTable("previews")
      .set({ ...patch, updated_at: this.clock() })
      .where("id", "=", id)
      .where("lease_owner", "=", worker)
      .execute();
  }

  /**
   * The ids GitHub gave a preview's surfaces (comment, check run, deployment). Written by
   * the write queue, which holds no lease: like the open check runs below, they record
   * what exists on GitHub, true whoever writes them.
   */
  async saveSurfaceIds(id: number, patch: SurfaceIds): Promise<void> {
    await this.db.updateTable("previews").set(patch).where("id", "=", id).execute();
  }

  /** Writes `set` and releases the lease, both only while the lease is still `worker`'s. */
  private async releaseWith(id: number, worker: string, set: Updateable<PreviewsTable>): Promise<void> {
    await this.db
      .updateTable("previews")
      .set({ ...set, lease_owner: null, lease_expires_at: null })
      .where("id", "=", id)
      .where("lease_owner", "=", worker)
      .execute();
  }

  /** Marks `generation` as carried out and releases the lease. */
  async finish(id: number, worker: string, generation: number, patch: PreviewPatch = {}): Promise<void> {
    await this.releaseWith(id, worker, { ...patch, observed_generation: generation, updated_at: this.clock() });
  }

  /**
   * Gives up a run that failed for a passing reason: the work stays pending, and is
   * claimed again from `at` (or at once, for a newer desire). Ignored when the lease is
   * no longer ours.
   */
  async retryLater(id: number, worker: string, generation: number, retry: { at: number; attempts: number; error: string }): Promise<void> {
    const now = this.clock();
    await this.releaseWith(id, worker, {
      retry_generation: generation,
      retry_attempts: retry.attempts,
      retry_at: retry.at,
      last_error: retry.error,
      status: "queued",
      status_at: now,
      updated_at: now,
    });
  }

  /** Releases a lease without marking the work done, so it is claimed again. */
  async release(id: number, worker: string): Promise<void> {
    await this.releaseWith(id, worker, {});
  }

  // The open check runs of a preview. Unlike `save`, these writes do not need the
  // lease: each records a fact about GitHub (a check run may exist, or has ended),
  // true whoever writes it, and a run that lost its lease still created what it created.

  /**
   * Records that `sha` of a preview may get a check run in progress, before asking
   * GitHub for it. False when it was recorded already: an earlier run may have created
   * that check run and died before saving its id.
   */
  async openCheckRun(previewId: number, sha: string): Promise<boolean> {
    const result = await this.db
      .insertInto("open_check_runs")
      .values({ preview_id: previewId, sha, created_at: this.clock() })
      .onConflict((oc) => oc.columns(["preview_id", "sha"]).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** The commits of a preview whose check run may still be in progress, oldest first. */
  async openCheckRuns(previewId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("open_check_runs")
      .select("sha")
      .where("preview_id", "=", previewId)
      .orderBy("created_at")
      .orderBy("sha")
      .execute();
    return rows.map((r) => r.sha);
  }

  /** The check run of `sha` has ended: nothing is left to end. */
  async checkRunEnded(previewId: number, sha: string): Promise<void> {
    await this.db.deleteFrom("open_check_runs").where("preview_id", "=", previewId).where("sha", "=", sha).execute();
  }

  /**
   * Records a command and, with `deliveryId`, the delivery that brought it, in one
   * transaction: a crash between the two must not leave the delivery recorded without
   * its command, or GitHub's redelivery would be dropped as a duplicate. False when the
   * delivery was recorded before.
   */
  async addCommand(command: NewCommand, deliveryId?: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.clock();
      if (deliveryId !== undefined) {
        const delivery = await trx
          .insertInto("deliveries")
          .values({ id: deliveryId, received_at: now })
          .onConflict((oc) => oc.column("id").doNothing())
          .executeTakeFirst();
        if (Number(delivery.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
      }
      await trx.insertInto("commands").values({ ...command, created_at: now }).execute();
      return true;
    });
  }

  /** Takes the oldest command nobody is working on and no retry holds back. */
  async claimCommand(worker: string, leaseMs: number): Promise<Command | undefined> {
    const now = this.clock();
    const free = (eb: ExpressionBuilder<Database, "commands">) =>
      eb.and([
        eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]),
        eb.or([eb("retry_at", "is", null), eb("retry_at", "<=", now)]),
      ]);
    return this.db
      .updateTable("commands")
      .set({ lease_owner: worker, lease_expires_at: now + leaseMs })
      .where(
        "id",
        "=",
        this.db
          .selectFrom("commands")
          .select("id")
          .where("done_at", "is", null)
          .where(free)
          .orderBy("id")
          .limit(1)
          .$call((q) => this.skipLocked(q)),
      )
      .where(free)
      .returningAll()
      .executeTakeFirst();
  }

  /** Extends a command's lease; false when it was lost (expired and taken by another worker). */
  async renewCommand(id: number, worker: string, leaseMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable("commands")
      .set({ lease_expires_at: this.clock() + leaseMs })
      .where("id", "=", id)
      .where("lease_owner", "=", worker)
      .where("done_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives up an attempt that failed for a passing reason: the command is claimed again from `at`. */
  async retryCommand(id: number, worker: string, retry: { at: number; attempts: number }): Promise<void> {
    await this.db
      .updateTable("commands")
      .set({ retry_at: retry.at, attempts: retry.attempts, lease_owner: null, lease_expires_at: null })
      .where("id", "=", id)
      .where("lease_owner", "=", worker)
      .execute();
  }

  async finishCommand(id: number, worker: string, outcome: string): Promise<void> {
    await this.db
      .updateTable("commands")
      .set({ done_at: this.clock(), outcome, lease_owner: null, lease_expires_at: null })
      .where("id", "=", id)
      .where("lease_owner", "=", worker)
      .execute();
  }

  /**
   * Desires not yet carried out and commands not yet answered that no live lease holds:
   * work waiting for a worker; and GitHub writes still to send. A drain is done when all are 0.
   */
  async pending(): Promise<{ previews: number; commands: number; writes: number }> {
    const now = this.clock();
    const previews = await this.db
      .selectFrom("previews")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .whereRef("desired_generation", ">", "observed_generation")
      .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
      .executeTakeFirstOrThrow();
    const commands = await this.db
      .selectFrom("commands")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("done_at", "is", null)
      .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
      .executeTakeFirstOrThrow();
    return { previews: Number(previews.n), commands: Number(commands.n), writes: await this.surfaceWrites.pending() };
  }

  /** Forgets every lease (and every write being sent): only for a store that one process owns (SQLite), at its start. */
  async releaseAllLeases(): Promise<number> {
    const result = await this.db
      .updateTable("previews")
      .set({ lease_owner: null, lease_expires_at: null })
      .where("lease_owner", "is not", null)
      .executeTakeFirst();
    await this.db
      .updateTable("commands")
      .set({ lease_owner: null, lease_expires_at: null })
      .where("lease_owner", "is not", null)
      .execute();
    await this.surfaceWrites.releaseAll();
    return Number(result.numUpdatedRows);
  }

  /**
   * The database's clock in milliseconds, not this process's: every process that shares
   * the pace measures it on one clock, whatever the skew between their machines.
   */
  private databaseNow() {
    return this.dialect === "postgres"
      ? sql<number>`(extract(epoch from now()) * 1000)::bigint`
      : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
  }

  private greatest(a: ReturnType<typeof sql>, b: ReturnType<typeof sql>) {
    return this.dialect === "postgres" ? sql`greatest(${a}, ${b})` : sql`max(${a}, ${b})`;
  }

  /**
   * Claims the installation's next GitHub write slot, `spacingMs` after the one before,
   * and answers how long to wait for it (0: now); undefined, claiming nothing, when the
   * slot would be more than `maxWaitMs` away. One statement: concurrent claims, from any
   * process, queue on the row and each gets its own slot.
   */
  async claimWriteSlot(installationId: number, spacingMs: number, maxWaitMs: number): Promise<number | undefined> {
    const spacing = sql.lit(Math.round(spacingMs));
    const now = this.databaseNow();
    const slot = this.greatest(sql`write_pace.next_at`, sql`excluded.next_at - ${spacing}`);
    const { rows } = await sql<{ wait: number }>`
      insert into write_pace (installation_id, next_at) values (${installationId}, ${now} + ${spacing})
      on conflict (installation_id) do update
        set next_at = ${slot} + ${spacing}
        where ${slot} - ${now} <= ${sql.lit(Math.round(maxWaitMs))}
      returning next_at - ${spacing} - ${now} as wait`.execute(this.db);
    return rows.length === 0 ? undefined : Math.max(0, Number(rows[0].wait));
  }

  /** GitHub asked this installation to wait (a rate limit): no process writes for it before `ms` from now. */
  async pauseWrites(installationId: number, ms: number): Promise<void> {
    const until = sql`${this.databaseNow()} + ${sql.lit(Math.round(ms))}`;
    await sql`
      insert into write_pace (installation_id, next_at) values (${installationId}, ${until})
      on conflict (installation_id) do update
        set next_at = ${this.greatest(sql`write_pace.next_at`, sql`excluded.next_at`)}`.execute(this.db);
  }
}

// PostgreSQL's bigint (int8) arrives as a string by default: ids and epoch
// milliseconds fit a JavaScript number exactly, so read them as numbers, like SQLite.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * Opens the store named by DATABASE_URL and migrates it: `file:PATH` → SQLite (one
 * process), `postgres://…` → PostgreSQL (several processes).
 */
/** HOST:PORT of a postgres:// URL: never its password. */
function postgresAddress(url: string): string {
  try {
    const { hostname, port } = new URL(url);
    return `${hostname || "localhost"}:${port || 5432}`;
  } catch {
    return "the host DATABASE_URL names";
  }
}

export async function openStore(url: string, clock?: () => number): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(url)) {
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
    return new Store(db, "postgres", new PostgresWebhookDesires(pool), clock);
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
  return new Store(db, "sqlite", new SqliteWebhookDesires(dialect), clock);
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
  if (/^postgres(ql)?:\/\//.test(url)) {
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

import { sql, type Kysely } from "kysely";
import type { PullRequestInfo } from "../model/pull-request.js";
import * as apps from "./apps.js";
import type { WantedApp } from "./apps.js";
import * as commands from "./commands.js";
import * as deliveries from "./deliveries.js";
import * as desires from "./desires.js";
import * as expiry from "./expiry.js";
import * as leases from "./leases.js";
import type { Dialect } from "./migrations.js";
import { connect } from "./open.js";
import * as checkRuns from "./open-check-runs.js";
import * as databases from "./preview-databases.js";
import * as previews from "./previews.js";
import type { Database } from "./schema.js";
import { SurfaceWrites } from "./surface-writes.js";
import type { CommandDesire, DestroyWhy, NewCommand, Preview, PreviewPatch, Scope, StoreContext, SurfaceIds } from "./types.js";
import type { WebhookDesires } from "./webhook-desire.js";
import * as writePace from "./write-pace.js";

// The store's one door: every other folder imports it from here. Each concern lives in
// a file of its own (docs/architecture.md, "The store"); the Store only hands each call
// to it, with the database, the dialect and the clock.

export type { PullRequestInfo } from "../model/pull-request.js";
export type { AppsDesired, WantedApp } from "./apps.js";
export { APP_REMOVED_OUTCOME } from "./commands.js";
export { inspectDatabase, type DatabaseInspection } from "./open.js";
export type { DatabaseKey, DatabaseProvider, DatabaseRow } from "./preview-databases.js";
export type { Claim, Command, CommandDesire, DestroyWhy, NewCommand, Preview, PreviewPatch, SurfaceIds } from "./types.js";

export class Store {
  /** What each GitHub surface should show and what was sent: the write queue's rows. */
  readonly surfaceWrites: SurfaceWrites;
  private readonly s: StoreContext;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    /** The webhook's hot path, written out per dialect (webhook-desire.ts). */
    private readonly webhookDesires: WebhookDesires,
    clock: () => number = Date.now,
  ) {
    this.s = { db, dialect, clock };
    this.surfaceWrites = new SurfaceWrites(db, clock);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // Webhook delivery ids (deliveries.ts).
  firstDelivery(id: string) { return deliveries.firstDelivery(this.s, id); }
  pruneDeliveries(olderThanMs: number) { return deliveries.pruneDeliveries(this.s, olderThanMs); }

  // Reading previews (previews.ts).
  get(owner: string, repo: string, number: number, appKey?: string) { return previews.get(this.s, owner, repo, number, appKey); }
  appsOf(owner: string, repo: string, number: number) { return previews.appsOf(this.s, owner, repo, number); }
  desireApps(pr: Preview, sha: string, wanted: WantedApp[], options?: { reseed?: boolean }) { return apps.desireApps(this.s, pr, sha, wanted, options); }
  destroyApps(pr: Preview, why: DestroyWhy) { return apps.destroyApps(this.s, pr, why); }
  desireApp(pr: Preview, appKey: string, sha: string, command: { by: string; commentId?: number; fresh?: boolean }) { return apps.desireApp(this.s, pr, appKey, sha, command); }
  destroyApp(pr: Preview, appKey: string, why: DestroyWhy) { return apps.destroyApp(this.s, pr, appKey, why); }
  getById(id: number) { return previews.getById(this.s, id); }
  list(filter: { repo?: string } = {}) { return previews.list(this.s, filter); }
  sameAppName(appName: string, exceptId: number) { return previews.sameAppName(this.s, appName, exceptId); }
  countActive(scope: Scope, exceptId: number) { return previews.countActive(this.s, scope, exceptId); }
  waitingForSlot(installationId: number) { return previews.waitingForSlot(this.s, installationId); }
  saveSurfaceIds(id: number, patch: SurfaceIds) { return previews.saveSurfaceIds(this.s, id, patch); }

  // What each preview should be (desires.ts).
  desireDeploy(pr: PullRequestInfo, command?: CommandDesire) { return desires.desireDeploy(this.s, pr, command); }
  desireDeployOnce(deliveryId: string, pr: PullRequestInfo) { return desires.desireDeployOnce(this.s, this.webhookDesires, deliveryId, pr); }
  recheck(owner: string, repo: string, number: number) { return desires.recheck(this.s, owner, repo, number); }
  desireDestroy(owner: string, repo: string, number: number, why?: DestroyWhy) { return desires.desireDestroy(this.s, owner, repo, number, why); }
  appRemoved(scope: Scope) { return desires.appRemoved(this.s, scope); }
  redesire(id: number) { return desires.redesire(this.s, id); }

  // Pins, extensions and reminders of a preview's expiry (expiry.ts).
  pin(id: number, by: string) { return expiry.pin(this.s, id, by); }
  unpin(id: number, fresh?: { until: number; by: string }) { return expiry.unpin(this.s, id, fresh); }
  extend(id: number, extension: { until: number; by: string; ms: number }) { return expiry.extend(this.s, id, extension); }
  remind(id: number, at: number) { return expiry.remind(this.s, id, at); }

  // The worker's lease on a preview (leases.ts).
  claim(worker: string, leaseMs: number, settleMs: number) { return leases.claim(this.s, worker, leaseMs, settleMs); }
  renew(id: number, worker: string, leaseMs: number) { return leases.renew(this.s, id, worker, leaseMs); }
  save(id: number, worker: string, patch: PreviewPatch) { return leases.save(this.s, id, worker, patch); }
  finish(id: number, worker: string, generation: number, patch?: PreviewPatch) { return leases.finish(this.s, id, worker, generation, patch); }
  retryLater(id: number, worker: string, generation: number, retry: { at: number; attempts: number; error: string }) {
    return leases.retryLater(this.s, id, worker, generation, retry);
  }
  release(id: number, worker: string) { return leases.release(this.s, id, worker); }

  // The databases made for previews (preview-databases.ts).
  databaseWanted(previewId: number, db: databases.DatabaseKey & { parent: string | null; secretName?: string | null; onDatabase?: string | null }) { return databases.databaseWanted(this.s, previewId, db); }
  databaseReady(db: databases.DatabaseKey, parent?: string) { return databases.databaseReady(this.s, db, parent); }
  databaseDropped(db: databases.DatabaseKey) { return databases.databaseDropped(this.s, db); }
  databaseOf(previewId: number) { return databases.databaseOf(this.s, previewId); }
  databasesOf(previewId: number) { return databases.databasesOf(this.s, previewId); }
  databasesToSweep() { return databases.databasesToSweep(this.s); }

  // Check runs that may still be in progress (open-check-runs.ts).
  openCheckRun(previewId: number, sha: string) { return checkRuns.openCheckRun(this.s, previewId, sha); }
  openCheckRuns(previewId: number) { return checkRuns.openCheckRuns(this.s, previewId); }
  checkRunEnded(previewId: number, sha: string) { return checkRuns.checkRunEnded(this.s, previewId, sha); }

  // Commands waiting for a worker (commands.ts).
  addCommand(command: NewCommand, deliveryId?: string) { return commands.addCommand(this.s, command, deliveryId); }
  claimCommand(worker: string, leaseMs: number) { return commands.claimCommand(this.s, worker, leaseMs); }
  renewCommand(id: number, worker: string, leaseMs: number) { return commands.renewCommand(this.s, id, worker, leaseMs); }
  retryCommand(id: number, worker: string, retry: { at: number; attempts: number }) { return commands.retryCommand(this.s, id, worker, retry); }
  finishCommand(id: number, worker: string, outcome: string) { return commands.finishCommand(this.s, id, worker, outcome); }

  // The installation's GitHub write pace, shared by every process (write-pace.ts).
  claimWriteSlot(installationId: number, spacingMs: number, maxWaitMs: number) {
    return writePace.claimWriteSlot(this.s, installationId, spacingMs, maxWaitMs);
  }
  writeSlotWait(installationId: number) { return writePace.writeSlotWait(this.s, installationId); }
  pauseWrites(installationId: number, ms: number) { return writePace.pauseWrites(this.s, installationId, ms); }

  /**
   * Desires not yet carried out and commands not yet answered that no live lease holds:
   * work waiting for a worker; and GitHub writes still to send. A drain is done when all are 0.
   */
  async pending(): Promise<{ previews: number; commands: number; writes: number }> {
    return { ...(await leases.waitingWork(this.s)), writes: await this.surfaceWrites.pending() };
  }

  /** Forgets every lease (and every write being sent): only for a store that one process owns (SQLite), at its start. */
  async releaseAllLeases(): Promise<number> {
    const previews = await leases.releaseAllLeases(this.s);
    await this.surfaceWrites.releaseAll();
    return previews;
  }
}

/**
 * Opens the store named by DATABASE_URL and migrates it: `file:PATH` → SQLite (one
 * process), `postgres://…` → PostgreSQL (several processes).
 */
export async function openStore(url: string, clock?: () => number): Promise<Store> {
  const { db, dialect, webhookDesires } = await connect(url);
  return new Store(db, dialect, webhookDesires, clock);
}

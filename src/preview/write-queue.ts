import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "probot";
import type { PriceTable } from "../fly/index.js";
import { installationGone, retryAfterMs, worthRetrying, type Octokit } from "../github/octokit.js";
import { writeSlotFree } from "../github/write-pace.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Preview, Store } from "../store/store.js";
import type { SurfaceWriteRow } from "../store/surface-writes.js";
import { Reporter } from "./reporter.js";
import { parseWanted, sendWanted, wantedWrite, type Wanted } from "./surfaces.js";

export interface WriteQueueOptions {
  store: Store;
  github: (installationId: number) => Promise<Octokit>;
  appId: number;
  log: Logger;
  clock?: () => number;
  /**
   * How long an intermediate state waits before it is sent, in case its run's outcome
   * follows and makes it pointless (a 20-second deploy shows "building" for 19 s; a
   * 200 ms one never does). The write spacing: with no pace there is nothing to save.
   */
  holdMs: number;
  /** Prices the machines of a pull request's apps in its comment (src/fly/prices.ts); none: no cost column. */
  prices?: PriceTable;
  /** Delays before each retry of a write GitHub refused or did not answer. */
  retryDelaysMs?: readonly number[];
  /** How often the store is looked at for writes other processes left (or died with). */
  pollMs?: number;
  /** Counts what became of each write. */
  metrics?: Metrics;
}

const RETRY_DELAYS_MS: readonly number[] = [2_000, 10_000, 30_000, 60_000, 120_000];
// Longer than a write can take: the pace's longest wait (MAX_WAIT_MS, 60 s) and the request.
const SEND_LEASE_MS = 150_000;

/**
 * The GitHub write queue: one lane per installation, shared by every process through
 * the store. Runs record what each surface of their preview should show
 * (`want`), and never wait for GitHub; the queue sends, one write at a time per
 * installation, always the most wanted write first: it waits for the installation's
 * next slot of the shared pace, then chooses the write, so the slot goes to what is
 * most wanted when it opens:
 *
 * - a surface keeps only its newest state, so a state replaced before its turn is
 *   never sent, and a create a later state makes pointless folds into it (a check run
 *   still unsent when its run ends is created completed; a superseded commit's check
 *   run that was never created is never created);
 * - final states (what a person waits for) go before intermediate ones, of any pull
 *   request of the installation; check runs first; then oldest first;
 * - the rows are the queue: a process that dies with writes queued leaves them in the
 *   store, and this or any other process sends them (SQLite: at restart; PostgreSQL:
 *   once the dead sender's claim expires).
 */
export class WriteQueue {
  readonly sender = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly lanes = new Map<number, Promise<void>>();
  private readonly again = new Set<number>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private poller?: NodeJS.Timeout;
  private stopped = true;
  /** Aborts the write under way when the queue stops, even one waiting for its pace slot. */
  private abort = new AbortController();
  private readonly clock: () => number;
  private readonly retryDelaysMs: readonly number[];

  constructor(private readonly options: WriteQueueOptions) {
    this.clock = options.clock ?? Date.now;
    this.retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.poller = setInterval(() => void this.poll(), this.options.pollMs ?? 2_000);
    this.poller.unref();
    void this.poll();
  }

  /** Records what a surface of `preview` should show, for the run of `generation`, and wakes its lane. */
  async want(preview: Preview, generation: number, wanted: Wanted): Promise<void> {
    await this.options.store.surfaceWrites.want(wantedWrite(preview, generation, wanted));
    this.kick(preview.installation_id);
  }

  /**
   * Sends a surface's last state again (it renders what the store says now): a pull
   * request's comment when one of its apps changed. Nothing when it never had a state.
   */
  async resend(preview: Preview, surface: "comment"): Promise<void> {
    if (await this.options.store.surfaceWrites.again(preview.id, surface)) this.kick(preview.installation_id);
  }

  /**
   * Stops sending. A write under way is aborted (one waiting for its slot is never sent;
   * one in flight may or may not have reached GitHub, and the next sender adopts what it
   * created). What is left stays in the store.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort(new Error("write queue stopped"));
    clearInterval(this.poller);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.lanes.values()]);
    await this.options.store.surfaceWrites.release(this.sender).catch(() => undefined);
  }

  /** Resolves once this process's lanes are idle: nothing ready to send (held or retried writes may wait). */
  async idle(): Promise<void> {
    while (this.lanes.size > 0) await Promise.allSettled([...this.lanes.values()]);
  }

  private kick(installationId: number): void {
    if (this.stopped) return;
    if (this.lanes.has(installationId)) {
      this.again.add(installationId);
      return;
    }
    clearTimeout(this.timers.get(installationId));
    this.timers.delete(installationId);
    const lane = this.drain(installationId).finally(() => {
      this.lanes.delete(installationId);
      if (this.again.delete(installationId)) this.kick(installationId);
    });
    this.lanes.set(installationId, lane);
  }

  private async poll(): Promise<void> {
    try {
      for (const installationId of await this.options.store.surfaceWrites.installations()) {
        if (!this.timers.has(installationId)) this.kick(installationId);
      }
    } catch (error) {
      this.options.log.warn({ err: error }, "write queue could not read the store");
    }
  }

  private async drain(installationId: number): Promise<void> {
    const writes = this.options.store.surfaceWrites;
    try {
      while (!this.stopped) {
        this.again.delete(installationId);
        // The row is chosen when the installation's slot opens, not before the wait for
        // it: an outcome recorded meanwhile takes this slot. The slot itself is claimed
        // as the request leaves (paceWrites), atomically across processes.
        await writeSlotFree(this.options.store, installationId, this.abort.signal);
        if (this.stopped) return;
        const row = await writes.next(installationId, this.options.holdMs);
        if (!row) {
          const at = await writes.nextAt(installationId, this.options.holdMs);
          if (at !== undefined && !this.stopped) this.wakeAt(installationId, at);
          return;
        }
        if (await writes.claim(row, this.sender, this.clock() + SEND_LEASE_MS)) await this.send(row);
      }
    } catch (error) {
      // Stopping aborts the wait for a slot: nothing went wrong.
      if (this.stopped) return;
      this.options.log.warn({ err: error, installationId }, "write queue could not read the store: trying again shortly");
    }
  }

  private wakeAt(installationId: number, at: number): void {
    clearTimeout(this.timers.get(installationId));
    const timer = setTimeout(
      () => {
        this.timers.delete(installationId);
        this.kick(installationId);
      },
      Math.max(10, at - this.clock()),
    );
    timer.unref();
    this.timers.set(installationId, timer);
  }

  private async send(row: SurfaceWriteRow): Promise<void> {
    const { store, log, metrics } = this.options;
    const count = (result: Parameters<Metrics["githubWrite"]>[1]) => metrics?.githubWrite(row.surface, result, row.installation_id);
    const writes = store.surfaceWrites;
    const where = { previewId: row.preview_id, surface: row.surface };
    try {
      const preview = await store.getById(row.preview_id);
      // A step on the way of a run a newer desire has replaced (a push, a close) is
      // history: that desire's run says what is true now. Outcomes are still sent.
      const stale = preview !== undefined && row.final === 0 && row.generation < preview.desired_generation;
      if (preview && !stale) {
        const octokit = await this.options.github(row.installation_id);
        // Probot's request logging reads octokit.log at each request: the lines name the preview, as a run's do.
        octokit.log = log.child({ name: "github", repo: `${preview.owner}/${preview.repo}`, pr: preview.number, app: preview.app_name });
        const signal = this.abort.signal;
        octokit.hook.before("request", (options) => {
          options.request = { ...options.request, signal };
        });
        const reporter = new Reporter(octokit, preview, (ids) => store.saveSurfaceIds(preview.id, ids), this.clock, this.options.appId, store, this.options.prices);
        await sendWanted(reporter, parseWanted(row.surface, row.state));
      }
      await writes.sent(row, this.sender);
      count(preview && !stale ? "sent" : "stale");
    } catch (error) {
      // Stopping: the row is let go with the others (stop), not counted as a failure.
      if (this.stopped) return;
      if (installationGone(error)) {
        // Its previews are destroyed quietly (reconcile sees the same): nothing more can be said there.
        log.warn({ installationId: row.installation_id }, "installation gone: its queued GitHub writes are dropped");
        await writes.dropInstallation(row.installation_id);
        count("dropped");
        return;
      }
      const delay = this.retryDelaysMs[row.attempts];
      if (delay === undefined || !worthRetrying(error)) {
        log.error({ err: error, ...where, attempts: row.attempts + 1 }, "GitHub write given up");
        await writes.sent(row, this.sender);
        count("given_up");
        return;
      }
      log.warn({ err: error, ...where, retryInMs: delay }, "GitHub write failed: trying again later");
      await writes.failed(row, this.sender, this.clock() + Math.max(delay, retryAfterMs(error) ?? 0));
      count("retry");
    }
  }
}

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "probot";
import { commandFailed, executeCommand, type CommandDeps, type CommandEnd } from "../commands/execute.js";
import { internalErrorReason } from "../github/messages.js";
import { retryAfterMs, worthRetrying } from "../github/octokit.js";
import type { Store } from "../store/store.js";
import { reconcile, reportGivenUp, RetryLater, Superseded, type ReconcileDeps, type RunDeps } from "./reconcile.js";
import { WriteQueue } from "./write-queue.js";

export interface PoolOptions {
  concurrency: number;
  /** How often idle slots look for work when nothing wakes them. */
  pollMs?: number;
  /** How long a claim holds a preview; renewed at a third of it while working. */
  leaseMs?: number;
  /** A desire must be this old before it is claimed, so bursts of pushes coalesce. */
  settleMs?: number;
  /** After a run fails for a passing reason, how long to wait before each new attempt (and, when set, before each new try of a GitHub write). */
  retryDelaysMs?: readonly number[];
}

/** 30 s, 1, 2, 5 and 10 minutes: about 18 minutes in all, enough to ride out a GitHub incident's worst minutes. */
const RETRY_DELAYS_MS: readonly number[] = [30_000, 60_000, 120_000, 300_000, 600_000];

/** What runs need, and where the pool counts how runs and commands end. */
export type PoolDeps = ReconcileDeps;

interface Running {
  id: number;
  generation: number;
  controller: AbortController;
}

const DELIVERY_RETENTION_MS = 3 * 24 * 3600 * 1000;

/**
 * The reconciler's worker pool: up to `concurrency` previews at once, one run at a
 * time per preview (the lease guarantees it), newest desire first to cancel.
 */
export class RunPool {
  readonly worker = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly running = new Map<number, Running>();
  private readonly runs = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private wakeTimer?: NodeJS.Timeout;
  private stopped = true;
  private claiming = true;
  /** Runs and commands carried to an end since start (not those stopped midway): what a Lambda drain reports. */
  completed = 0;
  private filling = false;
  private draining = false;
  private lastPrune = 0;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly settleMs: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly store: Store;
  private readonly log: Logger;
  /** Where runs say what GitHub should show; it sends beside them. */
  readonly writes: WriteQueue;
  private readonly runDeps: RunDeps;

  constructor(
    private readonly deps: PoolDeps,
    private readonly options: PoolOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.settleMs = options.settleMs ?? 1000;
    this.retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.store = deps.store;
    this.log = deps.log;
    this.writes = new WriteQueue({
      store: deps.store,
      github: deps.github,
      appId: deps.appId,
      log: deps.log.child({ name: "write-queue" }),
      clock: deps.clock,
      holdMs: deps.settings.writeSpacingMs,
      prices: deps.settings.prices,
      retryDelaysMs: options.retryDelaysMs,
      metrics: deps.metrics,
    });
    this.runDeps = { ...deps, writes: this.writes };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.writes.start();
    void this.drainCommands();
    this.timer = setInterval(() => {
      void this.fill();
      void this.drainCommands();
    }, this.pollMs);
    this.heartbeat = setInterval(() => void this.checkRunning(), Math.max(50, Math.floor(this.leaseMs / 3)));
    void this.fill();
  }

  /**
   * Called after a handler records a desire or a command. Nothing touches the store on
   * the webhook's path: commands are drained at once (they are quick and someone is
   * waiting for the reaction), and one timer per burst of desires fires when the newest
   * has settled, to stop runs they supersede and to claim them.
   */
  wake(what: { commands?: boolean } = {}): void {
    if (this.stopped) return;
    if (what.commands) void this.drainCommands();
    if (this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      void this.checkRunning().then(() => this.fill());
    }, this.settleMs + 5);
    this.wakeTimer.unref();
  }

  private readonly stopHooks: Array<() => void> = [];

  /** Runs `hook` when the pool stops (timers that live as long as the workers). */
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  /** Stops claiming, stops running flyctl processes, and releases their leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.wakeTimer);
    for (const hook of this.stopHooks) hook();
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    for (const run of this.running.values()) run.controller.abort(new Error("shutting down"));
    await Promise.allSettled([...this.runs]);
    while (this.draining) await new Promise((r) => setTimeout(r, 10));
    await this.writes.stop();
  }

  get busy(): number {
    return this.running.size;
  }

  /** Takes no new work; runs in progress go on. */
  stopClaiming(): void {
    this.claiming = false;
  }

  /** Resolves once no run and no command is in progress. */
  async settled(): Promise<void> {
    while (this.runs.size > 0 || this.draining) {
      await Promise.allSettled([...this.runs]);
      if (this.draining) await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async fill(): Promise<void> {
    if (this.filling || this.stopped || !this.claiming) return;
    this.filling = true;
    try {
      while (!this.stopped && this.running.size < this.options.concurrency) {
        const claim = await this.store.claim(this.worker, this.leaseMs, this.settleMs);
        if (!claim) break;
        const controller = new AbortController();
        const entry: Running = { id: claim.preview.id, generation: claim.generation, controller };
        this.running.set(entry.id, entry);
        const run = this.execute(claim, controller.signal).finally(() => {
          this.running.delete(entry.id);
          this.runs.delete(run);
          void this.fill();
        });
        this.runs.add(run);
      }
      if (Date.now() - this.lastPrune > 3600_000) {
        this.lastPrune = Date.now();
        await this.store.pruneDeliveries(DELIVERY_RETENTION_MS);
      }
    } catch (error) {
      this.log.error({ err: error }, "worker pool could not claim work");
    } finally {
      this.filling = false;
    }
  }

  /**
   * Commands run one at a time beside the deploy slots: they are quick (a permission
   * check, a reply, a new desire) and must not wait behind a five-minute build. One
   * that meets GitHub or the network failing is tried again later, like a deploy.
   */
  private async drainCommands(): Promise<void> {
    if (this.draining || this.stopped || !this.claiming) return;
    this.draining = true;
    try {
      for (;;) {
        if (this.stopped) break;
        const command = await this.store.claimCommand(this.worker, this.leaseMs);
        if (!command) break;
        const deps: CommandDeps = { ...this.deps, wake: () => this.wake(), docsUrl: this.deps.settings.docsUrl };
        const where = { repo: `${command.owner}/${command.repo}`, pr: command.number, command: command.name };
        // A slow GitHub must not let the lease lapse: another worker would run the command again.
        const renew = () =>
          this.store.renewCommand(command.id, this.worker, this.leaseMs).catch((error) => this.log.warn({ err: error, ...where }, "could not renew a command's lease"));
        const heartbeat = setInterval(renew, Math.max(50, Math.floor(this.leaseMs / 3)));
        let outcome: CommandEnd;
        try {
          outcome = await executeCommand(command, deps);
        } catch (error) {
          const delay = this.retryDelay(error, command.attempts);
          if (delay !== undefined) {
            this.log.warn({ err: error, ...where, attempt: command.attempts + 1, retryInMs: delay }, "command failed: trying again later");
            await this.store.retryCommand(command.id, this.worker, { at: Date.now() + delay, attempts: command.attempts + 1 });
            this.deps.metrics?.commandEnded(command.name, "retry", command.installation_id);
            continue;
          }
          this.log.error({ err: error, ...where }, "command failed");
          const message = error instanceof Error ? error.message : String(error);
          outcome = { result: "failed", text: `failed: ${message}${command.attempts > 0 ? ` (gave up after ${command.attempts + 1} attempts)` : ""}` };
          await commandFailed(command, deps).catch((e) => this.log.warn({ err: e, ...where }, "could not react to the command"));
        } finally {
          clearInterval(heartbeat);
        }
        await this.store.finishCommand(command.id, this.worker, outcome.text);
        this.deps.metrics?.commandEnded(command.name, outcome.result, command.installation_id);
        this.completed++;
      }
    } catch (error) {
      this.log.error({ err: error }, "worker pool could not claim a command");
    } finally {
      this.draining = false;
    }
  }

  private async execute(claim: Parameters<typeof reconcile>[0], signal: AbortSignal): Promise<void> {
    const { preview, generation } = claim;
    const attempts = preview.retry_generation === generation ? preview.retry_attempts : 0;
    const delay = this.retryDelaysMs[attempts];
    const attempt = { number: attempts + 1, of: this.retryDelaysMs.length + 1, retryInMs: delay };
    try {
      await reconcile(claim, this.worker, signal, this.runDeps, attempt);
      // A row destroyed already runs its destroy again only to drop the database its apps shared: not a destroy of its own.
      if (preview.desired_action === "destroy" && preview.status !== "destroyed") await this.countDestroy(preview.id, generation, preview.installation_id);
      this.completed++;
    } catch (error) {
      // Fly.io failing for a passing reason (reconcile said so on GitHub and chose the
      // time from `attempt`), or something unexpected: GitHub or the network failing,
      // or a bug. The first two are worth a few more tries, later; then, or for
      // anything else, the preview is marked failed and the next event or command
      // tries again.
      const where = { repo: `${preview.owner}/${preview.repo}`, pr: preview.number };
      if (this.stopped) {
        this.log.warn({ err: error, ...where }, "reconcile stopped by shutdown");
        await this.store.release(preview.id, this.worker).catch(() => undefined);
        return;
      }
      // It may end up in a check run and a comment: never with the Fly token in it.
      const message = this.deps.flyctl.redactor.redact(error instanceof Error ? error.message : String(error));
      // Fly.io's outage was already announced on GitHub with reconcile's own time.
      const retryIn = error instanceof RetryLater ? delay : this.retryDelay(error, attempts);
      try {
        if (retryIn !== undefined) {
          const at = error instanceof RetryLater ? error.at : (this.deps.clock ?? Date.now)() + retryIn;
          this.log.warn({ err: error, ...where, attempt: attempt.number, retryInMs: retryIn }, "reconcile failed: trying again later");
          await this.store.retryLater(preview.id, this.worker, generation, {
            at,
            attempts: attempt.number,
            error: `${message} (attempt ${attempt.number} of ${attempt.of}; trying again at ${new Date(at).toISOString()})`,
          });
          this.countEnd(preview, "retry");
          // The pool's poll claims it again once `at` has passed.
          return;
        }
        this.log.error({ err: error, ...where }, "reconcile failed");
        const gaveUp = attempts > 0 ? ` (gave up after ${attempts + 1} attempts)` : "";
        const reason = internalErrorReason(`${message}${gaveUp}`);
        await this.store.finish(preview.id, this.worker, generation, { status: "failed", status_at: Date.now(), last_error: reason });
        this.countEnd(preview, "failed");
        const now = await this.store.getById(preview.id);
        if (now) await reportGivenUp(now, generation, this.runDeps, reason).catch((e) => this.log.warn({ err: e, ...where }, "could not report the failure on GitHub"));
      } catch (e) {
        this.log.error({ err: e }, "could not record the failure");
      }
      this.completed++;
    }
  }

  /**
   * A run that threw ended here: the pool decided whether it is tried again later or
   * failed. (A deploy run that ends by itself is counted by its deploy steps (deploy-steps.ts), with its timings.)
   */
  private countEnd(preview: { desired_action: string; installation_id: number }, end: "retry" | "failed"): void {
    const metrics = this.deps.metrics;
    if (preview.desired_action === "destroy") metrics?.destroyEnded(end, preview.installation_id);
    else metrics?.deployEnded(end === "retry" ? "transient_retry" : "failed", { installationId: preview.installation_id });
  }

  /** A destroy run ended by itself: the row says whether the app is gone or the reaper tries again. */
  private async countDestroy(id: number, generation: number, installationId: number): Promise<void> {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const row = await this.store.getById(id).catch(() => undefined);
    // A run that handed its desire back (the installation is gone) ended nothing.
    if (row?.observed_generation !== generation) return;
    if (row.status === "destroyed") metrics.destroyEnded("destroyed", installationId);
    else if (row.status === "failed") metrics.destroyEnded("failed", installationId);
  }

  /**
   * How long to wait before trying again work that failed with `error` after
   * `attempts` retries, for deploys and commands alike: undefined when the error would
   * fail again or no retry is left. Never sooner than GitHub's `retry-after`.
   */
  private retryDelay(error: unknown, attempts: number): number | undefined {
    const delay = this.retryDelaysMs[attempts];
    if (delay === undefined || !worthRetrying(error)) return undefined;
    return Math.max(delay, retryAfterMs(error) ?? 0);
  }

  /** Renews leases, and stops runs whose preview was given a newer desire. */
  private async checkRunning(): Promise<void> {
    for (const run of [...this.running.values()]) {
      if (run.controller.signal.aborted) continue;
      try {
        const row = await this.store.renew(run.id, this.worker, this.leaseMs);
        if (!row) {
          run.controller.abort(new Error("lease lost to another worker"));
        } else if (row.desired_generation > run.generation) {
          run.controller.abort(new Superseded(row));
        }
      } catch (error) {
        this.log.warn({ err: error }, "could not renew a lease");
      }
    }
  }
}

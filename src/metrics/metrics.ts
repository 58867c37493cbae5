import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { FlyError } from "../fly/errors.js";
import type { Timings } from "../github/check-run.js";
import { failedDestroys, leasesHeld, oldestPendingDesireAt, previewsByStatus, queuedWrites } from "../store/metrics-queries.js";
import type { Store } from "../store/store.js";

// What operators scrape at /metrics (docs/operations.md, "Metrics", describes each).
// Every name starts fly_preview_ and says its unit. No label names a pull request, a
// repository or an app: their series would never expire. The installation id is a label
// only when METRICS_INSTALLATION_LABEL asks for it.

/** What became of a webhook delivery: its desire or command recorded, a redelivery dropped, nothing for us, or the handler threw. */
export type WebhookOutcome = "recorded" | "duplicate" | "ignored" | "error";
/**
 * How a deploy run ended. `transient_retry`: Fly.io, GitHub or the network failed for a
 * passing reason and the pool tries again later; `failed`: any other failure.
 */
export const DEPLOY_OUTCOMES = ["success", "build_failure", "health_failure", "superseded", "transient_retry", "failed"] as const;
export type DeployOutcome = (typeof DEPLOY_OUTCOMES)[number];
/** `failed`: the reaper asks for it again; `retry`: GitHub or the network failed, the pool tries again later. */
export const DESTROY_OUTCOMES = ["destroyed", "failed", "retry"] as const;
export type DestroyOutcome = (typeof DESTROY_OUTCOMES)[number];
export type GitHubRequestResult = "ok" | "client_error" | "rate_limited" | "server_error" | "network_error";
/** What the write queue did with one write: sent; `stale` (a replaced desire's step, dropped); retried later; given up; dropped with its installation. */
export type GitHubWriteResult = "sent" | "stale" | "retry" | "given_up" | "dropped";
export type CommandOutcome = "done" | "refused" | "pending" | "failed" | "retry";
/** What was done to a preview's own database: made or adopted before a deploy, reset by `/preview reset-db`, dropped. */
export type DatabaseOperation = "ensure" | "reset" | "drop";
export type DatabaseResult = "ok" | "refused" | "transient" | "failed";

export interface MetricsOptions {
  /** The store whose rows the gauges count at each scrape; without it there are no store gauges. */
  store?: Store;
  /** METRICS_INSTALLATION_LABEL: label per-installation series with the installation id. */
  installationLabel?: boolean;
  /** The time the store's timestamps are in (tests move it). */
  clock?: () => number;
  /** Node's process metrics (memory, CPU, event loop lag) as well; on by default. */
  processMetrics?: boolean;
}

const s = (ms: number) => ms / 1000;

/**
 * One app's metrics, on a registry of its own (never prom-client's global one), so that
 * several apps in one process (tests) count apart. Code that has something to count
 * calls one of the named methods; the gauges read the store when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly byInstallation: boolean;
  private readonly clock: () => number;

  private readonly webhooks: Counter;
  private readonly webhookAck: Histogram;
  private readonly deploys: Counter;
  private readonly destroys: Counter;
  private readonly flyctlCalls: Counter;
  private readonly githubRequests: Counter;
  private readonly rateLimitPauses: Counter;
  private readonly githubWrites: Counter;
  private readonly commands: Counter;
  private readonly hooks: Counter;
  private readonly databases: Counter;
  private readonly webhookToFlyctl: Histogram;
  private readonly sourceDownload: Histogram;
  private readonly build: Histogram;
  private readonly deploy: Histogram;
  private readonly healthWait: Histogram;
  private readonly timeToReady: Histogram;

  constructor(options: MetricsOptions = {}) {
    this.byInstallation = options.installationLabel ?? false;
    this.clock = options.clock ?? Date.now;
    const registers = [this.registry];
    const perInstallation = (labels: string[]) => (this.byInstallation ? [...labels, "installation"] : labels);
    const counter = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers });
    const seconds = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });

    this.webhooks = counter("fly_preview_webhooks_total", "Webhook deliveries by event and what became of them.", perInstallation(["event", "outcome"]));
    this.webhookAck = seconds(
      "fly_preview_webhook_ack_seconds",
      "Time a webhook's handler held GitHub's answer (GitHub gives up after 10 s).",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.deploys = counter("fly_preview_deploys_total", "Deploy runs by how they ended.", perInstallation(["result"]));
    this.destroys = counter("fly_preview_destroys_total", "Destroy runs by how they ended.", perInstallation(["result"]));
    this.flyctlCalls = counter("fly_preview_flyctl_calls_total", "flyctl processes run, by command and result (ok, or the failure's kind).", ["command", "result"]);
    this.githubRequests = counter(
      "fly_preview_github_requests_total",
      "HTTP requests to GitHub's API as installations, each attempt, by kind (read or write) and result.",
      perInstallation(["kind", "result"]),
    );
    this.rateLimitPauses = counter(
      "fly_preview_github_rate_limit_pauses_total",
      "Answers from GitHub asking to slow down (a primary or secondary rate limit).",
      perInstallation([]),
    );
    this.githubWrites = counter(
      "fly_preview_github_writes_total",
      "Writes the GitHub write queue handled, by surface and result.",
      perInstallation(["surface", "result"]),
    );
    this.commands = counter("fly_preview_commands_total", "Commands (/preview …, check run buttons) carried out, by name and outcome.", perInstallation(["command", "outcome"]));
    this.hooks = counter("fly_preview_hook_runs_total", "Hooks of .preview.yml run in a one-off machine (postdeploy, predestroy), by result: ok, failed (non-zero exit), timeout, error (flyctl could not run it).", perInstallation(["hook", "result"]));
    this.databases = counter(
      "fly_preview_database_operations_total",
      "Operations on previews' own databases (database: in .preview.yml), by provider, operation (ensure, reset, drop) and result: ok, refused, transient, failed.",
      ["provider", "operation", "result"],
    );
    this.webhookToFlyctl = seconds(
      "fly_preview_webhook_to_flyctl_seconds",
      "From the desire (webhook or command) to flyctl deploy starting, waits for a slot or a retry included.",
      [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    );
    this.sourceDownload = seconds("fly_preview_source_download_seconds", "Downloading and extracting a commit's source.", [0.5, 1, 2, 5, 10, 30, 60, 120]);
    this.build = seconds("fly_preview_build_seconds", "flyctl deploy from its start to the image pushed (builds only).", [15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600]);
    this.deploy = seconds("fly_preview_deploy_seconds", "flyctl deploy from its start to its end: build (if any) and release.", [15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600]);
    this.healthWait = seconds("fly_preview_health_wait_seconds", "Waiting for the health URL to answer 2xx after a deploy.", [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300]);
    this.timeToReady = seconds(
      "fly_preview_time_to_ready_seconds",
      "From the desire (webhook or command) to the preview ready.",
      [30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600],
    );

    // Every result at 0 from the start, so that rate() and alerts see a series before its first event.
    if (!this.byInstallation) {
      for (const result of DEPLOY_OUTCOMES) this.deploys.inc({ result }, 0);
      for (const result of DESTROY_OUTCOMES) this.destroys.inc({ result }, 0);
    }
    if (options.store) this.storeGauges(options.store, perInstallation);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The Prometheus text format of every metric, the store's gauges read now. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  webhookHandled(event: string, outcome: WebhookOutcome, durationMs: number, installationId?: number): void {
    this.webhooks.inc(this.labels({ event, outcome }, installationId));
    this.webhookAck.observe(s(durationMs));
  }

  /** A webhook no handler of ours takes (GitHub sends every event the App subscribes to). */
  webhookIgnored(event: string, installationId?: number): void {
    this.webhooks.inc(this.labels({ event, outcome: "ignored" }, installationId));
  }

  /**
   * A deploy run ended. With `timings` (the run's, as its check run shows them) their
   * histograms are observed; with `desiredAt` and success, the time to ready.
   */
  deployEnded(result: DeployOutcome, details: { installationId?: number; timings?: Timings; desiredAt?: number } = {}): void {
    this.deploys.inc(this.labels({ result }, details.installationId));
    const { timings } = details;
    if (timings?.sourceMs !== undefined) this.sourceDownload.observe(s(timings.sourceMs));
    if (timings?.deployMs !== undefined) this.deploy.observe(s(timings.deployMs));
    if (timings?.healthMs !== undefined) this.healthWait.observe(s(timings.healthMs));
    if (result === "success" && details.desiredAt !== undefined) this.timeToReady.observe(s(Math.max(0, this.clock() - details.desiredAt)));
  }

  /**
   * The timing of one deploy run, for src/preview/deploy-steps.ts: created when the run
   * starts deploying, told when flyctl starts and when the image is pushed, and how
   * the run ended.
   */
  deployTimer(preview: { desired_at: number; installation_id: number }): DeployTimer {
    let flyctlAt: number | undefined;
    let building = false;
    let first = true;
    const details = (timings: Timings) => ({ installationId: preview.installation_id, timings, desiredAt: preview.desired_at });
    return {
      flyctlStarted: (build: boolean) => {
        flyctlAt = this.clock();
        building = build;
        if (first) this.webhookToFlyctl.observe(s(Math.max(0, flyctlAt - preview.desired_at)));
        first = false;
      },
      imagePushed: () => {
        if (building && flyctlAt !== undefined) this.build.observe(s(this.clock() - flyctlAt));
        building = false;
      },
      ended: (result, timings) => this.deployEnded(result, details(timings)),
      failed: (error, timings) => this.deployEnded(deployFailure(error, timings), details(timings)),
    };
  }

  destroyEnded(result: DestroyOutcome, installationId?: number): void {
    this.destroys.inc(this.labels({ result }, installationId));
  }

  hookRan(hook: "postdeploy" | "predestroy", result: "ok" | "failed" | "timeout" | "error", installationId?: number): void {
    this.hooks.inc(this.labels({ hook, result }, installationId));
  }

  databaseOperation(provider: "neon" | "fly_postgres", operation: DatabaseOperation, result: DatabaseResult): void {
    this.databases.inc({ provider, operation, result });
  }

  flyctlCall(command: string, result: string): void {
    this.flyctlCalls.inc({ command, result });
  }

  githubRequest(kind: "read" | "write", result: GitHubRequestResult, installationId?: number): void {
    this.githubRequests.inc(this.labels({ kind, result }, installationId));
    if (result === "rate_limited") this.rateLimitPauses.inc(this.labels({}, installationId));
  }

  githubWrite(surface: string, result: GitHubWriteResult, installationId?: number): void {
    // `check:SHA` names one commit's check run: the label keeps only the kind.
    this.githubWrites.inc(this.labels({ surface: surface.split(":")[0], result }, installationId));
  }

  commandEnded(command: string, outcome: CommandOutcome, installationId?: number): void {
    this.commands.inc(this.labels({ command, outcome }, installationId));
  }

  private labels<T extends Record<string, string>>(labels: T, installationId: number | undefined): T | (T & { installation: string }) {
    return this.byInstallation ? { ...labels, installation: installationId === undefined ? "" : String(installationId) } : labels;
  }

  /**
   * Gauges the store answers at each scrape, all from one read of it. A store that does
   * not answer sets fly_preview_store_up to 0 and leaves the others empty, rather than
   * failing the scrape and losing this process's counters with it.
   */
  private storeGauges(store: Store, perInstallation: (labels: string[]) => string[]): void {
    const registers = [this.registry];
    let reading: Promise<StoreSnapshot | undefined> | undefined;
    // Every gauge's collect starts in the same turn of one scrape: they share a read.
    const snapshot = () => {
      reading ??= readStore(store, this.clock()).finally(() => (reading = undefined));
      return reading;
    };
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, snap: StoreSnapshot) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const snap = await snapshot();
          this.reset();
          if (snap) fill(this, snap);
        },
      });

    new Gauge({
      name: "fly_preview_store_up",
      help: "1 when the store answered this scrape's queries, else 0 (the other store gauges are then empty).",
      registers,
      async collect() {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
    gauge("fly_preview_previews", "Previews by status (destroyed ones included), in the whole store.", perInstallation(["status"]), (g, snap) => {
      for (const row of snap.previews) g.inc(this.labels({ status: row.status }, row.installationId), row.count);
    });
    gauge(
      "fly_preview_oldest_pending_desire_age_seconds",
      "Age of the oldest desire not yet carried out (0 when none): work waiting for a worker, or for a retry.",
      [],
      (g, snap) => g.set(snap.oldestPendingAt === undefined ? 0 : s(Math.max(0, snap.now - snap.oldestPendingAt))),
    );
    gauge("fly_preview_failed_destroys", "Previews whose destroy failed, waiting for the reaper to try again.", [], (g, snap) => g.set(snap.failedDestroys));
    gauge("fly_preview_leases_held", "Unexpired leases, of every process: previews being worked on, commands being carried out.", ["kind"], (g, snap) => {
      g.set({ kind: "preview" }, snap.leases.previews);
      g.set({ kind: "command" }, snap.leases.commands);
    });
    gauge(
      "fly_preview_databases_to_sweep",
      "Databases fly-preview made whose preview is gone, not dropped yet: the reaper's to drop (the provider may bill them meanwhile).",
      ["provider"],
      (g, snap) => {
        for (const row of snap.databasesToSweep) g.inc({ provider: row.provider });
      },
    );
    gauge("fly_preview_github_writes_queued", "GitHub writes waiting in the write queue, of every process.", perInstallation([]), (g, snap) => {
      for (const row of snap.queuedWrites) g.inc(this.labels({}, row.installationId), row.count);
    });
  }
}

export interface DeployTimer {
  /** flyctl deploy starts; `build`: it builds an image (not the release of an earlier one). */
  flyctlStarted(build: boolean): void;
  /** flyctl said the image is pushed: the build is over. */
  imagePushed(): void;
  ended(result: DeployOutcome, timings: Timings): void;
  /** The run failed with `error`: classified by `deployFailure`. */
  failed(error: unknown, timings: Timings): void;
}

/**
 * The result class of a deploy that failed for good: flyctl's build or health-check
 * failure by its kind; after the deploy, our own health wait (its time is known)
 * failing; anything else (a transient failure with no attempt left included) `failed`.
 */
export function deployFailure(error: unknown, timings: Timings): DeployOutcome {
  if (error instanceof FlyError && error.kind === "build") return "build_failure";
  if (error instanceof FlyError && error.kind === "health") return "health_failure";
  if (timings.healthMs !== undefined) return "health_failure";
  return "failed";
}

interface StoreSnapshot {
  now: number;
  previews: Awaited<ReturnType<typeof previewsByStatus>>;
  oldestPendingAt?: number;
  failedDestroys: number;
  leases: { previews: number; commands: number };
  queuedWrites: Awaited<ReturnType<typeof queuedWrites>>;
  databasesToSweep: Awaited<ReturnType<Store["databasesToSweep"]>>;
}

async function readStore(store: Store, now: number): Promise<StoreSnapshot | undefined> {
  try {
    const [previews, oldestPendingAt, failed, leases, writes, databases] = await Promise.all([
      previewsByStatus(store.db),
      oldestPendingDesireAt(store.db),
      failedDestroys(store.db),
      leasesHeld(store.db, now),
      queuedWrites(store.db),
      // The sweep's own rule (src/store/preview-databases.ts), so the gauge counts what the reaper would drop.
      store.databasesToSweep(),
    ]);
    return { now, previews, oldestPendingAt, failedDestroys: failed, leases, queuedWrites: writes, databasesToSweep: databases };
  } catch {
    return undefined;
  }
}

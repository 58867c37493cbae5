import type { ApplicationFunction, Probot } from "probot";
import { Flyctl, type FlyctlOptions } from "./fly/index.js";
import { registerCheckRunHandlers } from "./handlers/check-run.js";
import { registerInstallationHandlers } from "./handlers/installation.js";
import { registerIssueCommentHandlers } from "./handlers/issue-comment.js";
import { countIgnored } from "./handlers/outcomes.js";
import { registerPullRequestHandlers } from "./handlers/pull-request.js";
import { Metrics } from "./metrics/metrics.js";
import { RunPool, type PoolOptions } from "./preview/pool.js";
import { reap } from "./preview/reaper.js";
import { resync, RESYNC_QUIET_MS } from "./preview/resync.js";
import { SecretStore } from "./secrets/index.js";
import { observeRequests } from "./github/observe-requests.js";
import { paceWrites } from "./github/write-pace.js";
import { healthz } from "./server/healthz.js";
import { metricsRoute } from "./server/metrics.js";
import { rootWebhooks } from "./server/webhooks.js";
import type { Settings } from "./settings.js";
import { openStore, type Store } from "./store/store.js";

export interface AppOptions {
  settings: Settings;
  /** An already-open store; by default the one DATABASE_URL names. */
  store?: Store;
  /** false: only record desires (the Lambda webhook); workers run elsewhere. */
  worker?: boolean;
  pool?: Partial<PoolOptions>;
  flyctl?: Partial<Pick<FlyctlOptions, "retry" | "killGraceMs">>;
  /** Used for health checks of deployed previews. */
  fetch?: typeof fetch;
  healthIntervalMs?: number;
  /** Resync timing (tests shorten it): see src/preview/resync.ts. */
  resync?: { quietMs?: number; firstAfterMs?: number };
  clock?: () => number;
  /** Where this app counts; by default one of its own, on `store` (see metricsFor). */
  metrics?: Metrics;
  onStarted?: (runtime: Runtime) => void;
}

export interface Runtime {
  store: Store;
  pool: RunPool;
  flyctl: Flyctl;
  metrics: Metrics;
  /** The repositories' secrets: what a reaper pass of its own needs to drop a Neon branch keyed by one. */
  secrets: SecretStore;
}

/** The metrics of one app: a registry of its own, whose gauges read `store`. */
export function metricsFor(store: Store, options: Pick<AppOptions, "settings" | "clock">): Metrics {
  return new Metrics({ store, installationLabel: options.settings.metricsInstallationLabel, clock: options.clock });
}

/**
 * The workers: a pool that carries out desires and commands, and the reaper. They need
 * a Probot only to authenticate as the App's installations.
 */
export async function startWorker(app: Probot, store: Store, options: AppOptions): Promise<Runtime> {
  const { settings } = options;
  const metrics = options.metrics ?? metricsFor(store, options);
  const secrets = new SecretStore(store.db, settings.secretsKey, options.clock);
  // Stored secrets with no key, or the wrong key, stop start-up with a message.
  await secrets.check();
  // SQLite is the one-process shape: a lease still held at start-up belongs to a
  // previous run of this server that died mid-deploy, so its work resumes now instead
  // of after the lease expires. On PostgreSQL other processes hold live leases.
  if (store.dialect === "sqlite") {
    const resumed = await store.releaseAllLeases();
    if (resumed > 0) app.log.info({ resumed }, "resuming work left by a previous run");
  }
  if (!settings.flyApiToken) app.log.warn("FLY_API_TOKEN is not set: every deploy will fail until it is");
  const flyctl = new Flyctl({
    path: settings.flyctlPath,
    token: settings.flyApiToken,
    org: settings.flyOrg,
    log: app.log.child({ name: "flyctl" }),
    onCall: (command, result) => metrics.flyctlCall(command, result),
    ...options.flyctl,
  });
  const paceLog = app.log.child({ name: "write-pace" });
  // Counted at the network, under the pace: see observeRequests.
  const github = async (installationId: number) =>
    observeRequests(
      paceWrites(await app.auth(installationId), installationId, { pace: store, spacingMs: settings.writeSpacingMs, log: paceLog }),
      (kind, result) => metrics.githubRequest(kind, result, installationId),
    );
  const pool = new RunPool(
    {
      appId: await appIdOf(app),
      store,
      settings,
      flyctl,
      github,
      secrets,
      log: app.log,
      fetch: options.fetch,
      clock: options.clock,
      healthIntervalMs: options.healthIntervalMs,
      metrics,
    },
    { concurrency: settings.concurrency, leaseMs: settings.leaseMs, ...options.pool },
  );
  pool.start();
  // Webhooks GitHub could not deliver (this process was down or restarting) are found
  // by resync: once they are past its quiet time, then after every reaper pass.
  const quietMs = options.resync?.quietMs ?? RESYNC_QUIET_MS;
  const resyncPass = () =>
    resync({ store, github, log: app.log.child({ name: "resync" }), clock: options.clock, quietMs })
      .then(() => pool.wake())
      .catch((error) => app.log.error({ err: error }, "resync pass failed"));
  const firstResync = setTimeout(resyncPass, options.resync?.firstAfterMs ?? quietMs).unref();
  const reaper = setInterval(() => {
    reap({ store, flyctl, log: app.log.child({ name: "reaper" }), clock: options.clock, settings, secrets, metrics }, { dryRun: false })
      .then(() => pool.wake())
      .catch((error) => app.log.error({ err: error }, "reaper pass failed"))
      .then(resyncPass);
  }, settings.reapIntervalMs);
  reaper.unref();
  pool.onStop(() => {
    clearTimeout(firstResync);
    clearInterval(reaper);
  });
  const runtime = { store, pool, flyctl, metrics, secrets };
  options.onStarted?.(runtime);
  return runtime;
}

/**
 * The id of the App this Probot authenticates as (APP_ID): what our own comments
 * carry in `performed_via_github_app`. Read from Probot's app authentication, which
 * knows it without a request, so it is the id Probot signs with whatever the source.
 */
async function appIdOf(app: Probot): Promise<number> {
  const octokit = await app.auth();
  const { appId } = (await octokit.auth({ type: "app" })) as { appId: number };
  return appId;
}

/** The Probot app: webhook handlers that record desires and, by default, the workers that carry them out. */
export function flyPreview(options: AppOptions): ApplicationFunction {
  return async (app: Probot, { addHandler }) => {
    const store = options.store ?? (await openStore(options.settings.databaseUrl, options.clock));
    const metrics = options.metrics ?? metricsFor(store, options);
    const runtime = options.worker === false ? undefined : await startWorker(app, store, { ...options, metrics });
    const handlerDeps = { store, wake: (what?: { commands?: boolean }) => runtime?.pool.wake(what), metrics };
    registerPullRequestHandlers(app, handlerDeps);
    registerIssueCommentHandlers(app, handlerDeps);
    registerCheckRunHandlers(app, handlerDeps);
    registerInstallationHandlers(app, handlerDeps);
    countIgnored(app, metrics);
    try {
      addHandler(healthz(store));
      addHandler(metricsRoute(metrics, options.settings.metricsToken));
      addHandler(await rootWebhooks(app));
    } catch {
      // Loaded without an HTTP server (tests, Lambda): no routes to add.
    }
  };
}

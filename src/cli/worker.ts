import type { Server } from "node:http";
import { createProbot, type Probot } from "probot";
import { metricsFor, startWorker, type Runtime } from "../app.js";
import { checkAppWithGitHub, readAppCredentials } from "../credentials.js";
import { flyctlProblem } from "../fly/flyctl-version.js";
import { serveMetrics } from "../server/metrics.js";
import { DEFAULT_LOG_LEVEL, SettingsError, type Settings } from "../settings.js";
import { openStore } from "../store/store.js";
import { CliError, type CliCommand } from "./command.js";

export const worker: CliCommand = {
  name: "worker",
  args: [],
  flags: [],
  summary: "run the workers without the webhook server, until SIGTERM or SIGINT",
  details:
    "Carries out desires and commands recorded by the webhook servers (or the Lambda webhook) that share DATABASE_URL, " +
    "and runs the reaper. Start as many as you like on PostgreSQL: leases keep each pull request with one worker. " +
    "Needs the server's variables, the GitHub App's credentials (APP_ID, PRIVATE_KEY) included. " +
    "With METRICS_PORT it serves /metrics and /healthz on that port.",
  async run(_args, ctx) {
    let runtime;
    try {
      runtime = await startWorkerProcess(ctx.settings(), ctx.env);
    } catch (error) {
      if (error instanceof SettingsError) throw error;
      throw new CliError((error as Error).message);
    }
    ctx.print(`workers started (${ctx.settings().concurrency} at once); stop with SIGTERM`);
    // `on`, not `once`: execa's exit hook re-raises a signal no other listener is left
    // to handle, which would kill the process before the leases are released.
    await new Promise<void>((resolve) => {
      process.on("SIGTERM", () => resolve());
      process.on("SIGINT", () => resolve());
    });
    // Running flyctl processes are stopped and their leases released, so another
    // worker picks their previews up at once.
    await runtime.pool.stop();
    await new Promise((resolve) => (runtime.metricsServer ? runtime.metricsServer.close(resolve) : resolve(undefined)));
    await runtime.store.close();
    ctx.print("workers stopped");
  },
};

/**
 * A worker without the webhook server, for the shapes where webhooks arrive elsewhere
 * (several processes on PostgreSQL, or Lambda). The Probot here never listens: it only
 * authenticates as the App's installations (APP_ID, PRIVATE_KEY, GHE_HOST from `env`).
 */
export async function startWorkerProcess(settings: Settings, env: NodeJS.ProcessEnv): Promise<Runtime & { metricsServer?: Server }> {
  if (!readAppCredentials(env)) {
    throw new SettingsError("workers need the GitHub App's credentials: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH)");
  }
  if (!settings.databaseUrl.startsWith("postgres")) {
    // The server on a SQLite file runs its own workers and owns every lease in it.
    throw new Error("workers of their own need PostgreSQL (DATABASE_URL=postgres://…); with SQLite, `npm start` runs the workers");
  }
  const probot = workerProbot(env);
  await probot.ready();
  await checkAppWithGitHub(probot, probot.log);
  const problem = await flyctlProblem(settings.flyctlPath);
  if (problem) probot.log.warn(problem);
  const store = await openStore(settings.databaseUrl);
  const metrics = metricsFor(store, { settings });
  // Before any work is claimed: a port already taken stops start-up with nothing to undo.
  let metricsServer: Server | undefined;
  if (settings.metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics({ port: settings.metricsPort, host: env.HOST, metrics, store, token: settings.metricsToken });
    } catch (error) {
      await store.close();
      throw new Error(`cannot serve /metrics on METRICS_PORT=${settings.metricsPort}: ${(error as Error).message}`);
    }
    probot.log.info(`serving /metrics and /healthz on port ${settings.metricsPort}`);
  }
  try {
    return { ...(await startWorker(probot, store, { settings, store, metrics })), metricsServer };
  } catch (error) {
    metricsServer?.close();
    throw error;
  }
}

/**
 * createProbot's LOG_LEVEL default is "warn", the server's (Probot's run()) is "info":
 * the workers log as the server does, so one LOG_LEVEL means the same in both.
 */
export function workerProbot(env: NodeJS.ProcessEnv): Probot {
  return createProbot({ env: { ...env, LOG_LEVEL: env.LOG_LEVEL || DEFAULT_LOG_LEVEL } });
}

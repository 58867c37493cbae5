// The worker function for AWS Lambda (docs/deploy-lambda.md), for a schedule or an
// asynchronous invoke: carries out pending work for a while, then hands what is left
// to the next invocation through the leases.
import { createProbot, type Probot } from "probot";
import { startWorker } from "../app.js";
import { reap } from "../preview/reaper.js";
import { resync } from "../preview/resync.js";
import { readSettings } from "../settings.js";
import { openStore } from "../store/store.js";
import { requirePostgres } from "./webhook.js";

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export interface DrainSummary {
  carriedOut: number;
  stillPending: number;
}

// Time kept back at the end of an invocation to stop flyctl and release leases.
const MARGIN_MS = 30_000;

export async function drain(
  env: NodeJS.ProcessEnv,
  context: LambdaContext,
  opts: { pollMs?: number; probot?: Probot } = {},
): Promise<DrainSummary> {
  const settings = readSettings(env);
  requirePostgres(settings.databaseUrl);
  const drainMs = Number(env.PREVIEW_DRAIN_SECONDS ?? 600) * 1000;
  const claimUntil = Date.now() + Math.min(drainMs, context.getRemainingTimeInMillis() - MARGIN_MS);
  const probot = opts.probot ?? createProbot({ env });
  await probot.ready();
  const store = await openStore(settings.databaseUrl);
  const { pool, flyctl, secrets } = await startWorker(probot, store, { settings, store });
  // An invocation is too short for the server's reaper and resync timers: run one pass of each every time.
  // With the secret store: a Neon branch keyed by a repository secret is dropped here too.
  await reap({ store, flyctl, log: probot.log.child({ name: "reaper" }), settings, secrets }, { dryRun: false }).catch((error) =>
    probot.log.error({ err: error }, "reaper pass failed"),
  );
  await resync({ store, github: (id) => probot.auth(id), log: probot.log.child({ name: "resync" }) }).catch((error) =>
    probot.log.error({ err: error }, "resync pass failed"),
  );
  const pollMs = opts.pollMs ?? 500;
  try {
    // Claim while there is work and time (GitHub writes still to send included); stop early when nothing is left.
    for (;;) {
      await new Promise((r) => setTimeout(r, pollMs));
      const pending = await store.pending();
      if (Date.now() >= claimUntil || (pool.busy === 0 && pending.previews + pending.commands + pending.writes === 0)) break;
    }
    pool.stopClaiming();
    // Let running deploys finish while the invocation has time for it.
    const hardStop = new Promise((r) => setTimeout(r, Math.max(0, context.getRemainingTimeInMillis() - MARGIN_MS)).unref());
    await Promise.race([pool.settled(), hardStop]);
  } finally {
    await pool.stop();
  }
  const after = await store.pending();
  await store.close();
  const summary = { carriedOut: pool.completed, stillPending: after.previews + after.commands + after.writes };
  probot.log.info(summary, "drain finished");
  return summary;
}

/** The Lambda entry: `dist/lambda/worker.handler`. */
export async function handler(_event: unknown, context: LambdaContext): Promise<DrainSummary> {
  return drain(process.env, context);
}

import { createProbot } from "probot";
import { startWorkers, type Runtime } from "./app.js";
import type { Settings } from "./settings.js";
import { openStore } from "./store/store.js";

/**
 * Workers without the webhook server, for the shapes where webhooks arrive elsewhere
 * (several processes on PostgreSQL, or Lambda). The Probot here never listens: it only
 * authenticates as the App's installations (APP_ID, PRIVATE_KEY, GHE_HOST from `env`).
 */
export async function runWorkers(settings: Settings, env: NodeJS.ProcessEnv): Promise<Runtime> {
  if (!env.APP_ID || !(env.PRIVATE_KEY || env.PRIVATE_KEY_PATH)) {
    throw new Error("workers need the GitHub App's credentials: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH)");
  }
  if (!settings.databaseUrl.startsWith("postgres")) {
    // The server on a SQLite file runs its own workers and owns every lease in it.
    throw new Error("workers of their own need PostgreSQL (DATABASE_URL=postgres://…); with SQLite, `npm start` runs the workers");
  }
  const probot = createProbot({ env });
  await probot.ready();
  const store = await openStore(settings.databaseUrl);
  return startWorkers(probot, store, { settings, store });
}

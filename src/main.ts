import { run } from "probot";
import { flyPreview, type Runtime } from "./app.js";
import { SecretsError } from "./secrets/index.js";
import { readSettings, SettingsError } from "./settings.js";

// `npm start`: Probot's own server. Without APP_ID it serves the setup page that
// registers the GitHub App from app.yml; with it, our handlers and workers run.
let runtime: Runtime | undefined;
try {
  const settings = readSettings();
  await run(flyPreview({ settings, onStarted: (started) => (runtime = started) }));
} catch (error) {
  if (error instanceof SettingsError || error instanceof SecretsError) {
    console.error(`fly-preview: configuration error: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

// SIGTERM (a deploy, a restart): stop flyctl and release the leases, so the next
// process (or, on PostgreSQL, another one) resumes the work at once. `on`, not `once`:
// execa's exit hook re-raises a signal that no other listener is left to handle,
// which would kill the process before the leases are released.
process.on("SIGTERM", () => {
  void (runtime?.pool.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});

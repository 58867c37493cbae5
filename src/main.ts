import { run } from "probot";
import { flyPreview, type Runtime } from "./app.js";
import { checkAppWithGitHub, readAppCredentials } from "./credentials.js";
import { DotEnvError, keepShellValues, loadDotEnv } from "./env.js";
import { flyctlProblem } from "./fly/flyctl-version.js";
import { SecretsError } from "./secrets/index.js";
import { reportBadSignaturesInOneLine } from "./server/signature-log.js";
import { readSettings, SettingsError } from "./settings.js";

// `npm start`: Probot's own server. Without APP_ID it serves the setup page that
// registers the GitHub App from app.yml; with it, our handlers and workers run.
let runtime: Runtime | undefined;
let server: Awaited<ReturnType<typeof run>> | undefined;
const before = new Set(process.listeners("SIGINT"));
try {
  const { shadowed } = loadDotEnv();
  const settings = readSettings();
  // Checked here, before Probot reads them: Probot would print a stack for a bad key
  // and serve the setup page, or start and fail on every webhook.
  readAppCredentials();
  const app = flyPreview({ settings, onStarted: (started) => (runtime = started) });
  server = await run(
    async (probot, options) => {
      keepShellValues(shadowed);
      reportBadSignaturesInOneLine(probot.log);
      await checkAppWithGitHub(probot, probot.log);
      const problem = await flyctlProblem(settings.flyctlPath);
      if (problem) probot.log.warn(problem);
      await app(probot, options);
    },
    // Probot's own settings from the environment just merged, where the shell wins.
    { env: { ...process.env } },
  );
  keepShellValues(shadowed);
} catch (error) {
  if (error instanceof SettingsError || error instanceof SecretsError || error instanceof DotEnvError) {
    console.error(`fly-preview: configuration error: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

// SIGTERM (a deploy, a restart) or SIGINT (Fly's default kill signal, Ctrl-C): stop
// flyctl and release the leases, so the next process (or, on PostgreSQL, another one)
// resumes the work at once. A second signal exits at once. `on`, not `once`: execa's
// exit hook re-raises a signal that no other listener is left to handle, which would
// kill the process before the leases are released.
// Probot's run() adds a SIGINT listener that exits as soon as its HTTP server closes,
// before the workers could stop: ours replaces it.
for (const listener of process.listeners("SIGINT")) {
  if (!before.has(listener)) process.removeListener("SIGINT", listener);
}
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void (runtime?.pool.stop() ?? Promise.resolve())
      .then(() => server?.stop())
      .finally(() => process.exit(0));
  });
}

// A worker process for the scale-out tests: the same startWorker as `fly-preview
// worker`, with the write spacing off, Octokit's and the shared pace (one write a second
// per installation would make fifty deploys take minutes), and JSON logs on stdout for
// the test to count.
import { Probot, ProbotOctokit } from "probot";
import { startWorker } from "../src/app.js";
import { readSettings } from "../src/settings.js";
import { openStore } from "../src/store/store.js";

const settings = readSettings({ PREVIEW_WRITE_SPACING: "0", ...process.env });
const probot = new Probot({
  appId: process.env.APP_ID,
  privateKey: process.env.PRIVATE_KEY,
  baseUrl: `http://${process.env.GHE_HOST}/api/v3`,
  logLevel: "info",
  logFormat: "json",
  Octokit: ProbotOctokit.defaults((options: any) => ({ ...options, throttle: { ...options.throttle, enabled: false } })),
});
await probot.ready();
const store = await openStore(settings.databaseUrl);
const runtime = await startWorker(probot, store, { settings, store, pool: { pollMs: 50, settleMs: 0 }, healthIntervalMs: 50 });
process.on("SIGTERM", () => {
  void runtime.pool.stop().then(() => process.exit(0));
});

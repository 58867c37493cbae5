// The baseline: Probot with nothing of fly-preview in it, started by the same
// `run()` fly-preview's src/main.ts uses, so the difference between the two runs
// is what fly-preview's handler adds to a webhook (store writes, logging, waking
// the pool), not Probot's own signature check, parsing and dispatch.
import { run } from "probot";

await run((app) => {
  app.on("pull_request", async () => {});
});

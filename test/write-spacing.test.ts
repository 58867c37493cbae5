// GitHub asks Apps to space content-changing requests at least a second apart per
// installation. Two `fly-preview worker` processes on one PostgreSQL database, with
// Probot's real throttling (nothing turned off), carry out a few deploys in one
// installation; the fake GitHub records when each write arrived.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../src/store/store.js";
import { isContentWrite } from "../bench/surfaces.js";
import { freshPostgres, TEST_DATABASE_URL } from "./databases.js";
import { createFakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub } from "./fake-github/server.js";
import { DOCKERFILE, helloWorldPr, REPO, sha, TEST_PRIVATE_KEY, until } from "./harness.js";
import { listen } from "./server-process.js";

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const PULL_REQUESTS = 4;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

const pr = helloWorldPr;

describe.skipIf(!TEST_DATABASE_URL)("two worker processes on PostgreSQL", () => {
  it("never send one installation's GitHub writes less than a second apart", async () => {
    const database = await freshPostgres();
    const gh = await startFakeGitHub();
    const fly = await createFakeFly();
    const preview = createServer((_req, res) => res.end("ok"));
    const previewPort = await listen(preview);
    const store = await openStore(database.url);
    cleanups.push(() => database.drop(), () => gh.close(), () => fly.cleanup(), () => new Promise((r) => preview.close(r)), () => fly.killRunning(), () => store.close());
    fly.setBehavior({ url: `http://127.0.0.1:${previewPort}/`, deployDelayMs: 100 });
    for (let n = 1; n <= PULL_REQUESTS; n++) gh.setCommit(REPO, sha(n), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });

    const env = {
      ...process.env,
      APP_ID: "1",
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      GHE_HOST: gh.host,
      GHE_PROTOCOL: "http",
      DATABASE_URL: database.url,
      FLY_API_TOKEN: "fo1_test_token_value",
      FLYCTL_PATH: fly.path,
      FAKE_FLYCTL_STATE: fly.stateDir,
      LOG_LEVEL: "warn" as const,
    };
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), CLI, "worker"], { env, stdio: ["ignore", "ignore", "inherit"] });
      cleanups.push(() => child.kill("SIGKILL"));
    }
    for (let n = 1; n <= PULL_REQUESTS; n++) await store.desireDeploy(pr(n));

    await until(
      "every preview ready, and GitHub told",
      async () => (await store.list()).filter((p) => p.status === "ready").length === PULL_REQUESTS && (await store.surfaceWrites.pending()) === 0,
      120_000,
    );

    const times = gh.requests.filter(isContentWrite).map((r) => r.at).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(times.length).toBeGreaterThan(PULL_REQUESTS);
    // A little under a second: the fake records when a request arrived, a few ms after it left.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(950);
  }, 150_000);
});

// Several processes on one PostgreSQL database (docs/scaling.md).
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { migrationsFor } from "../src/store/migrations.js";
import { openStore, type Store } from "../src/store/store.js";
import { freshPostgres, TEST_DATABASE_URL } from "./databases.js";
import { createFakeFly, type FakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/server.js";
import { DOCKERFILE, helloWorldPr, REPO, sha, TEST_PRIVATE_KEY, until } from "./harness.js";
import { listen } from "./server-process.js";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

const pr = helloWorldPr;

interface Worker {
  child: ChildProcess;
  output(): string;
}

async function world() {
  const database = await freshPostgres();
  const gh: FakeGitHub = await startFakeGitHub();
  const fly: FakeFly = await createFakeFly();
  const preview = createServer((_req, res) => res.end("ok"));
  const previewPort = await listen(preview);
  const store: Store = await openStore(database.url);
  cleanups.push(
    () => database.drop(),
    () => gh.close(),
    () => fly.cleanup(),
    () => new Promise((r) => preview.close(r)),
    () => fly.killRunning(),
    () => store.close(),
  );
  const url = `http://127.0.0.1:${previewPort}/`;
  const env = {
    ...process.env,
    APP_ID: "1",
    PRIVATE_KEY: TEST_PRIVATE_KEY,
    GHE_HOST: gh.host,
    DATABASE_URL: database.url,
    FLY_API_TOKEN: "fo1_test_token_value",
    FLYCTL_PATH: fly.path,
    FAKE_FLYCTL_STATE: fly.stateDir,
    PREVIEW_CONCURRENCY: "4",
  };
  const startWorker = (extra: Record<string, string> = {}): Worker => {
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL("./worker-process.ts", import.meta.url))], {
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    cleanups.push(() => child.kill("SIGKILL"));
    return { child, output: () => output };
  };
  return { gh, fly, store, url, startWorker };
}

const readyCount = (worker: Worker) => worker.output().split("\n").filter((line) => line.includes('"msg":"preview ready"')).length;

describe.skipIf(!TEST_DATABASE_URL)("several processes on PostgreSQL", () => {
  it("migrate safely when they start at once", async () => {
    const database = await freshPostgres();
    cleanups.push(() => database.drop());
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(database.url)));
    cleanups.push(() => Promise.all(stores.map((s) => s.close())));
    const applied = await stores[0].db.selectFrom("kysely_migration" as never).selectAll().execute();
    // Each migration once, none twice.
    expect((applied as Array<{ name: string }>).map((m) => m.name).sort()).toEqual(Object.keys(migrationsFor("postgres")).sort());
  });

  it("two workers racing over 50 pull requests carry out each desire exactly once", async () => {
    const { gh, fly, store, url, startWorker } = await world();
    fly.setBehavior({ url, deployDelayMs: 100 });
    for (let n = 1; n <= 50; n++) gh.setCommit(REPO, sha(n), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });
    for (let n = 1; n <= 50; n++) await store.desireDeploy(pr(n));
    const workers = [startWorker(), startWorker()];

    await until(
      "50 previews ready, and GitHub told",
      async () => (await store.list()).filter((p) => p.status === "ready").length === 50 && (await store.surfaceWrites.pending()) === 0,
      120_000,
    );

    const deploys = fly.calls().filter((c) => c.argv[0] === "deploy" && c.exitCode !== undefined);
    const perApp = new Map<string, number>();
    for (const call of deploys) {
      const app = call.argv[call.argv.indexOf("-a") + 1];
      perApp.set(app, (perApp.get(app) ?? 0) + 1);
    }
    expect(perApp.size).toBe(50);
    expect([...perApp.values()].every((n) => n === 1)).toBe(true);
    expect(fly.calls().filter((c) => c.argv[0] === "apps" && c.argv[1] === "create")).toHaveLength(50);
    expect(gh.checkRuns).toHaveLength(50);
    expect(gh.checkRuns.every((c) => c.conclusion === "success")).toBe(true);
    // Both took a share of the work, and together exactly all of it.
    const shares = workers.map(readyCount);
    expect(shares.every((n) => n > 0)).toBe(true);
    expect(shares[0] + shares[1]).toBe(50);
  }, 150_000);

  it("a worker killed mid-deploy: another finishes its work once the lease expires", async () => {
    const { gh, fly, store, url, startWorker } = await world();
    gh.setCommit(REPO, sha(7), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });
    fly.setBehavior({ url, deployDelayMs: 60_000 });
    const doomed = startWorker({ PREVIEW_LEASE: "2s" });
    await store.desireDeploy(pr(7));
    await until("the deploy to start", () => fly.calls().some((c) => c.argv[0] === "deploy"), 30_000);
    doomed.child.kill("SIGKILL");
    await fly.killRunning();
    fly.setBehavior({ url });

    const heir = startWorker({ PREVIEW_LEASE: "2s" });
    const row = await until(
      "the other worker to finish",
      async () => {
        const p = await store.get("Codertocat", "Hello-World", 7);
        return p?.status === "ready" && (await store.surfaceWrites.pending()) === 0 ? p : undefined;
      },
      // Seconds when the machine is quiet; a CI run sharing it with other test runs once took longer than a minute.
      150_000,
    );

    expect(row.deployed_sha).toBe(sha(7));
    expect(readyCount(heir)).toBe(1);
    expect(gh.checkRuns).toHaveLength(1);
    expect(gh.checkRuns[0].conclusion).toBe("success");
    expect(Object.keys(fly.apps())).toEqual(["pr-7-codertocat-hello-world"]);
  }, 200_000);
});

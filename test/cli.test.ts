import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI_COMMANDS, runCli, type CliDeps } from "../src/cli/run.js";
import type { ReapReport } from "../src/preview/reaper.js";
import { SecretStore } from "../src/secrets/index.js";
import { openStore, type PullRequestInfo, type Store } from "../src/store/store.js";
import { workerProbot } from "../src/cli/worker.js";
import { prInfo, TEST_PRIVATE_KEY } from "./harness.js";

const KEY = "11".repeat(32);
const T0 = Date.UTC(2025, 0, 15, 9, 30);
const SHA = "0123456789abcdef0123456789abcdef01234567";

let dir: string;
let databaseUrl: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fly-preview-cli-"));
  databaseUrl = `file:${join(dir, "previews.db")}`;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; deps?: CliDeps } = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(
    argv,
    {
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      stdin: async () => opts.stdin ?? "",
      env: { DATABASE_URL: databaseUrl, ...opts.env },
    },
    opts.deps,
  );
  return { code, stdout, stderr };
}

const pr = (over: Partial<PullRequestInfo> = {}) => prInfo({ headSha: SHA, ...over });

/**
 * Previews as the server would have left them: one ready, one failed deploy, one failed
 * destroy. With `running`, the ready one's Fly app is recorded as created (the reaper
 * would expire it, its activity being long past), so both it and the failed destroy's app are priced.
 */
async function seed(): Promise<void> {
  let now = T0;
  const store = await openStore(databaseUrl, () => now);
  const run = async (patch: Parameters<Store["finish"]>[3]) => {
    const claim = await store.claim("worker-1", 60_000, 0);
    await store.finish(claim!.preview.id, "worker-1", claim!.generation, patch);
    now += 60_000;
  };
  await store.desireDeploy(pr());
  // Deployed at T0 with `ttl: 2d`: it expires two days later.
  const small = { machine_cpu_kind: "shared", machine_cpus: 1, machine_memory_mb: 512 } as const;
  await run({ status: "ready", deployed_sha: SHA, url: "https://pr-7-acme-web.fly.dev", check_run_id: 501, comment_id: 601, app_created: 1, config_ttl_ms: 2 * 86_400_000, ...small });

  await store.desireDeploy(pr({ repo: "api", number: 3, appName: "pr-3-acme-api" }));
  await run({ status: "failed", last_error: "The image failed to build:\nnpm ERR! missing script: build", app_created: 1 });
  await store.pin((await store.get("acme", "api", 3))!.id, "maintainer-mo");

  await store.desireDeploy(pr({ owner: "globex", repo: "shop", number: 12, appName: "pr-12-globex-shop", installationId: 2 }));
  const large = { machine_cpu_kind: "performance", machine_cpus: 1, machine_memory_mb: 2048 } as const;
  await run({ status: "ready", deployed_sha: "fedcba9876543210fedcba9876543210fedcba98", url: "https://pr-12-globex-shop.fly.dev", app_created: 1, ...large });
  await store.desireDestroy("globex", "shop", 12, { reason: "closed" });
  await run({ status: "failed", last_error: "flyctl apps destroy: 503 Service Unavailable" });
  await store.close();
}

/**
 * A pull request with two apps (`apps:` in .preview.yml) as the server would leave it: its
 * own row (no Fly app of its own) made their Neon branch and handed them their desires;
 * api is up on a small machine, web was created and failed to build.
 */
async function seedApps(): Promise<void> {
  let now = T0 + 10 * 60_000;
  const store = await openStore(databaseUrl, () => now);
  await store.desireDeploy(pr({ repo: "shop", number: 42, appName: "pr-42-acme-shop" }));
  const own = (await store.claim("worker-1", 60_000, 0))!;
  const branch = { provider: "neon", home: "proud-fog-123456", name: "preview/pr-42" } as const;
  await store.databaseWanted(own.preview.id, { ...branch, parent: "main" });
  await store.databaseReady(branch);
  await store.desireApps(own.preview, SHA, [
    { appKey: "web", appName: "pr-42-web-acme-shop", rebuild: true },
    { appKey: "api", appName: "pr-42-api-acme-shop", rebuild: true },
  ]);
  await store.finish(own.preview.id, "worker-1", own.generation, { status: "ready", config_ttl_ms: 3 * 86_400_000, comment_id: 701 });
  for (let i = 0; i < 2; i++) {
    now += 60_000;
    const claim = (await store.claim("worker-1", 60_000, 0))!;
    expect(claim.preview.app_key).not.toBe("");
    const ran =
      claim.preview.app_key === "api"
        ? { status: "ready", status_at: now, deployed_sha: SHA, url: "https://pr-42-api-acme-shop.fly.dev", check_run_id: 801, machine_cpu_kind: "shared", machine_cpus: 1, machine_memory_mb: 512 }
        : { status: "failed", status_at: now, last_error: "The image failed to build:\nnpm ERR! missing script: build", check_run_id: 802 };
    await store.finish(claim.preview.id, "worker-1", claim.generation, { app_created: 1, ...ran } as Parameters<Store["finish"]>[3]);
  }
  await store.close();
}

describe("fly-preview list", () => {
  it("shows every preview as a table, newest first, with a failed destroy plain to see", async () => {
    await seed();
    const { code, stdout, stderr } = await cli(["list"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "PREVIEW         APP                STATUS          COMMIT   URL                                DATABASE  EXPIRES                  COST/MONTH  UPDATED               LAST ERROR
      globex/shop#12  pr-12-globex-shop  destroy failed  fedcba9  https://pr-12-globex-shop.fly.dev  -         -                        $32.19      2025-01-15T09:33:00Z  flyctl apps destroy: 503 Service Unavailable
      acme/api#3      pr-3-acme-api      failed          -        -                                  -         pinned by maintainer-mo  -           2025-01-15T09:31:00Z  The image failed to build: npm ERR! missing script: build
      acme/web#7      pr-7-acme-web      ready           0123456  https://pr-7-acme-web.fly.dev      -         2025-01-17T09:30:00Z     $3.32       2025-01-15T09:30:00Z
      2 running: about $0.049 an hour, $35.51 a month if always on (Fly's iad prices of 2026-06-07); idle machines stop and cost nothing for compute
      installation 1: 1 running: about $0.0045 an hour, $3.32 a month if always on (Fly's iad prices of 2026-06-07); idle machines stop and cost nothing for compute
      installation 2: 1 running: about $0.044 an hour, $32.19 a month if always on (Fly's iad prices of 2026-06-07); idle machines stop and cost nothing for compute
      "
    `);
  });

  it("prints JSON with --json", async () => {
    await seed();
    const { code, stdout } = await cli(["list", "--json"]);
    expect(code).toBe(0);
    const previews = JSON.parse(stdout);
    expect(previews).toHaveLength(3);
    expect(previews[0]).toEqual({
      repo: "globex/shop",
      number: 12,
      app: "pr-12-globex-shop",
      status: "failed",
      desired: "destroy",
      deployedSha: "fedcba9876543210fedcba9876543210fedcba98",
      url: "https://pr-12-globex-shop.fly.dev",
      lastError: "flyctl apps destroy: 503 Service Unavailable",
      pinnedBy: null,
      expiresAt: null,
      updatedAt: "2025-01-15T09:33:00Z",
      database: null,
      costPerMonth: 32.19,
    });
    expect(previews.map((p: { costPerMonth: number | null }) => p.costPerMonth)).toEqual([32.19, null, 3.32]);
    expect(previews.map((p: { pinnedBy: string | null; expiresAt: string | null }) => [p.pinnedBy, p.expiresAt])).toEqual([
      [null, null],
      ["maintainer-mo", null],
      [null, "2025-01-17T09:30:00Z"],
    ]);
  });

  it("prices with the operator's table (PREVIEW_PRICES) and totals what runs", async () => {
    await seed();
    const table = JSON.parse(readFileSync(new URL("../prices/fly-prices.json", import.meta.url), "utf8"));
    const path = join(dir, "prices.json");
    writeFileSync(path, JSON.stringify({ ...table, date: "2027-01-01", region: "ams", presets: table.presets.map((p: { per_month: number }) => ({ ...p, per_month: p.per_month * 2 })) }));
    const { code, stdout } = await cli(["list"], { env: { PREVIEW_PRICES: path } });
    expect(code).toBe(0);
    // 2 × $2.02 + 256 MB at $5.20/GB (the memory price is the table's, not doubled), and 2 × $32.19.
    expect(stdout).toContain("$5.34");
    expect(stdout).toContain("$64.38");
    expect(stdout).toContain(
      "2 running: about $0.096 an hour, $69.72 a month if always on (Fly's ams prices of 2027-01-01); idle machines stop and cost nothing for compute",
    );
  });

  it("refuses a price table it cannot use, naming PREVIEW_PRICES", async () => {
    const path = join(dir, "prices.json");
    writeFileSync(path, JSON.stringify({ source: "x", date: "yesterday" }));
    const { code, stderr } = await cli(["list"], { env: { PREVIEW_PRICES: path } });
    expect(code).not.toBe(0);
    expect(stderr).toContain("PREVIEW_PRICES");
    expect(stderr).toContain('"presets" must be a non-empty array');
  });

  it("narrows to one repository with --repo", async () => {
    await seed();
    const table = await cli(["list", "--repo", "acme/web"]);
    expect(table.stdout).toContain("acme/web#7");
    expect(table.stdout).not.toContain("acme/api");
    expect(table.stdout).not.toContain("globex");
    const json = await cli(["list", "--repo=globex/shop", "--json"]);
    expect(JSON.parse(json.stdout).map((p: { repo: string }) => p.repo)).toEqual(["globex/shop"]);
  });

  it("says so when there is nothing", async () => {
    expect(await cli(["list"])).toEqual({ code: 0, stdout: "no previews\n", stderr: "" });
    expect((await cli(["list", "--repo", "acme/web"])).stdout).toBe("no previews for acme/web\n");
    expect((await cli(["list", "--json"])).stdout).toBe("[]\n");
  });
});

describe("fly-preview status", () => {
  it("shows everything about one preview", async () => {
    await seed();
    const { code, stdout } = await cli(["status", "acme/web#7"]);
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "preview:    acme/web#7
      app:        pr-7-acme-web
      status:     ready (since 2025-01-15T09:30:00Z)
      desired:    deploy at 0123456789abcdef0123456789abcdef01234567 (generation 1, since 2025-01-15T09:30:00Z)
      observed:   generation 1, caught up
      commit:     0123456789abcdef0123456789abcdef01234567
      url:        https://pr-7-acme-web.fly.dev
      database:   none
      head:       0123456789abcdef0123456789abcdef01234567 (feature → main)
      check run:  501
      comment:    601
      deployment: none
      last error: none
      lease:      none
      expires:    2025-01-17T09:30:00Z, the ttl (2d) after the last push or redeploy
      paused:     no
      updated:    2025-01-15T09:30:00Z
      "
    `);
  });

  it("shows a failed destroy, its reason and its error", async () => {
    await seed();
    const { stdout } = await cli(["status", "globex/shop#12"]);
    expect(stdout).toMatch(/^status: +destroy failed/m);
    expect(stdout).toMatch(/^desired: +destroy \(generation 2, since .*, reason: closed\)$/m);
    expect(stdout).toMatch(/^last error: +flyctl apps destroy: 503 Service Unavailable$/m);
  });

  it("prints JSON with --json", async () => {
    await seed();
    const { stdout } = await cli(["status", "acme/web#7", "--json"]);
    expect(JSON.parse(stdout)).toMatchObject({
      repo: "acme/web",
      number: 7,
      status: "ready",
      desired: "deploy",
      desiredSha: SHA,
      desiredGeneration: 1,
      observedGeneration: 1,
      checkRunId: 501,
      commentId: 601,
      leaseOwner: null,
    });
  });

  it("fails for a preview it does not know", async () => {
    await seed();
    expect(await cli(["status", "acme/web#99"])).toEqual({ code: 1, stdout: "", stderr: "fly-preview: no preview for acme/web#99\n" });
  });
});

describe("a preview's own database in fly-preview status and list", () => {
  /** acme/web#7 with a Neon branch Neon confirmed; acme/api#3 with a Fly Postgres database asked for, never confirmed. */
  async function seedDatabases(): Promise<void> {
    await seed();
    const store = await openStore(databaseUrl, () => T0);
    const web = (await store.get("acme", "web", 7))!;
    const neon = { provider: "neon", home: "proud-fog-123456", name: "preview/pr-7" } as const;
    await store.databaseWanted(web.id, { ...neon, parent: null, secretName: "NEON_API_KEY" });
    await store.databaseReady(neon, "main");
    const api = (await store.get("acme", "api", 3))!;
    await store.databaseWanted(api.id, { provider: "fly_postgres", home: "acme-preview-db", name: "pr_3_acme_api", parent: "acme-preview-db" });
    await store.close();
  }

  it("status names where it lives, what it was copied from, and whether the provider confirmed it", async () => {
    await seedDatabases();
    expect((await cli(["status", "acme/web#7"])).stdout).toMatch(/^database: +Neon branch preview\/pr-7 of project proud-fog-123456, copied from main$/m);
    expect((await cli(["status", "acme/api#3"])).stdout).toMatch(
      /^database: +database pr_3_acme_api on Fly Postgres cluster acme-preview-db \(asked for, not confirmed\)$/m,
    );
    expect(JSON.parse((await cli(["status", "acme/web#7", "--json"])).stdout).database).toEqual({
      provider: "neon",
      home: "proud-fog-123456",
      name: "preview/pr-7",
      parent: "main",
      createdAt: "2025-01-15T09:30:00Z",
      ready: true,
    });
    expect(JSON.parse((await cli(["status", "globex/shop#12", "--json"])).stdout).database).toBeNull();
  });

  it("list has it in the DATABASE column and in --json", async () => {
    await seedDatabases();
    const lines = (await cli(["list"])).stdout.split("\n");
    const column = (line: string | undefined) => line?.split(/ {2,}/)[5];
    expect(column(lines.find((l) => l.startsWith("acme/web#7")))).toBe("neon:preview/pr-7");
    expect(column(lines.find((l) => l.startsWith("acme/api#3")))).toBe("fly_postgres:acme-preview-db/pr_3_acme_api");
    expect(column(lines.find((l) => l.startsWith("globex/shop#12")))).toBe("-");
    const json = JSON.parse((await cli(["list", "--json"])).stdout) as Array<{ repo: string; database: string | null }>;
    expect(json.map((p) => [p.repo, p.database])).toEqual([
      ["globex/shop", null],
      ["acme/api", "fly_postgres:acme-preview-db/pr_3_acme_api"],
      ["acme/web", "neon:preview/pr-7"],
    ]);
  });
});

describe("fly-preview destroy", () => {
  it("records a destroy desire for the running server to carry out", async () => {
    await seed();
    const { code, stdout } = await cli(["destroy", "acme/web#7"]);
    expect(code).toBe(0);
    expect(stdout).toBe(
      "destroy of acme/web#7 (app pr-7-acme-web) recorded; the running fly-preview server carries it out\n",
    );
    const store = await openStore(databaseUrl);
    expect(await store.get("acme", "web", 7)).toMatchObject({
      desired_action: "destroy",
      desired_generation: 2,
      observed_generation: 1,
      destroy_reason: "operator",
      paused: 1,
    });
    await store.close();
    expect((await cli(["list", "--repo", "acme/web"])).stdout).toContain("ready, destroy pending");
    expect((await cli(["destroy", "acme/web#7"])).stdout).toContain("is already being destroyed");
  });

  it("points at gc for a destroy that failed", async () => {
    await seed();
    const { code, stdout } = await cli(["destroy", "globex/shop#12"]);
    expect(code).toBe(0);
    expect(stdout).toContain("failed earlier: flyctl apps destroy: 503 Service Unavailable");
    expect(stdout).toContain("fly-preview gc");
  });

  it("fails for a preview it does not know", async () => {
    expect(await cli(["destroy", "acme/web#1"])).toMatchObject({ code: 1, stderr: "fly-preview: no preview for acme/web#1\n" });
  });
});

describe("a pull request with several apps", () => {
  it("list shows its line, with no Fly app of its own, then a line per app; the total counts Fly apps", async () => {
    await seed();
    await seedApps();
    const { code, stdout, stderr } = await cli(["list"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "PREVIEW           APP                  STATUS             COMMIT   URL                                  DATABASE            EXPIRES                  COST/MONTH  UPDATED               LAST ERROR
      acme/shop#42      2 apps               1 ready; 1 failed  -        -                                    neon:preview/pr-42  2025-01-18T09:40:00Z     -           2025-01-15T09:40:00Z
      acme/shop#42 api  pr-42-api-acme-shop  ready              0123456  https://pr-42-api-acme-shop.fly.dev  -                   2025-01-18T09:40:00Z     $3.32       2025-01-15T09:42:00Z
      acme/shop#42 web  pr-42-web-acme-shop  failed             -        -                                    -                   2025-01-18T09:40:00Z     -           2025-01-15T09:41:00Z  The image failed to build: npm ERR! missing script: build
      globex/shop#12    pr-12-globex-shop    destroy failed     fedcba9  https://pr-12-globex-shop.fly.dev    -                   -                        $32.19      2025-01-15T09:33:00Z  flyctl apps destroy: 503 Service Unavailable
      acme/api#3        pr-3-acme-api        failed             -        -                                    -                   pinned by maintainer-mo  -           2025-01-15T09:31:00Z  The image failed to build: npm ERR! missing script: build
      acme/web#7        pr-7-acme-web        ready              0123456  https://pr-7-acme-web.fly.dev        -                   2025-01-17T09:30:00Z     $3.32       2025-01-15T09:30:00Z
      3 running: about $0.053 an hour, $38.83 a month if always on (Fly's iad prices of 2026-06-07); idle machines stop and cost nothing for compute
      installation 1: 2 running: about $0.0091 an hour, $6.64 a month if always on (Fly's iad prices of 2026-06-07); idle machines stop and cost nothing for compute
      installation 2: 1 running: about $0.044 an hour, $32.19 a month if always on (Fly's iad prices of 2026-06-07); idle machines stop and cost nothing for compute
      "
    `);
  });

  it("list --json gives it no app of its own, an object per app, and what they cost together", async () => {
    await seed();
    await seedApps();
    const previews = JSON.parse((await cli(["list", "--json"])).stdout);
    expect(previews).toHaveLength(4);
    expect(previews[0]).toMatchInlineSnapshot(`
      {
        "app": null,
        "apps": [
          {
            "app": "pr-42-api-acme-shop",
            "costPerMonth": 3.32,
            "deployedSha": "0123456789abcdef0123456789abcdef01234567",
            "desired": "deploy",
            "lastError": null,
            "name": "api",
            "status": "ready",
            "updatedAt": "2025-01-15T09:42:00Z",
            "url": "https://pr-42-api-acme-shop.fly.dev",
          },
          {
            "app": "pr-42-web-acme-shop",
            "costPerMonth": null,
            "deployedSha": null,
            "desired": "deploy",
            "lastError": "The image failed to build:
      npm ERR! missing script: build",
            "name": "web",
            "status": "failed",
            "updatedAt": "2025-01-15T09:41:00Z",
            "url": null,
          },
        ],
        "costPerMonth": 3.32,
        "database": "neon:preview/pr-42",
        "deployedSha": null,
        "desired": "deploy",
        "expiresAt": "2025-01-18T09:40:00Z",
        "lastError": null,
        "number": 42,
        "pinnedBy": null,
        "repo": "acme/shop",
        "status": "ready",
        "updatedAt": "2025-01-15T09:40:00Z",
        "url": null,
      }
    `);
    // Summed over the array, each Fly app counts once: the total line's $38.83.
    expect(previews.reduce((sum: number, p: { costPerMonth: number | null }) => sum + (p.costPerMonth ?? 0), 0)).toBeCloseTo(38.83, 2);
    // One app alone stays as it was.
    expect(previews[1]).not.toHaveProperty("apps");
  });

  it("status lists its apps under its own row", async () => {
    await seedApps();
    const { code, stdout } = await cli(["status", "acme/shop#42"]);
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "preview:    acme/shop#42
      apps:       api, web: below; \`fly-preview status acme/shop#42 APP\` shows one
      status:     1 ready; 1 failed
      desired:    deploy at 0123456789abcdef0123456789abcdef01234567 (generation 1, since 2025-01-15T09:40:00Z)
      observed:   generation 1, caught up
      database:   Neon branch preview/pr-42 of project proud-fog-123456, copied from main
      head:       0123456789abcdef0123456789abcdef01234567 (feature → main)
      check run:  none
      comment:    701
      last error: none
      lease:      none
      expires:    2025-01-18T09:40:00Z, the ttl (3d) after the last push or redeploy
      paused:     no
      updated:    2025-01-15T09:40:00Z

      APP  FLY APP              STATUS  COMMIT   URL                                  COST/MONTH  UPDATED               LAST ERROR
      api  pr-42-api-acme-shop  ready   0123456  https://pr-42-api-acme-shop.fly.dev  $3.32       2025-01-15T09:42:00Z
      web  pr-42-web-acme-shop  failed  -        -                                    -           2025-01-15T09:41:00Z  The image failed to build: npm ERR! missing script: build
      "
    `);
  });

  it("status with an app's name shows that app in full, with its pull request's expiry, database and comment", async () => {
    await seedApps();
    const { code, stdout } = await cli(["status", "acme/shop#42", "API"]);
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "preview:    acme/shop#42 api
      app:        pr-42-api-acme-shop
      status:     ready (since 2025-01-15T09:42:00Z)
      desired:    deploy at 0123456789abcdef0123456789abcdef01234567 (generation 1, since 2025-01-15T09:40:00Z)
      observed:   generation 1, caught up
      commit:     0123456789abcdef0123456789abcdef01234567
      url:        https://pr-42-api-acme-shop.fly.dev
      database:   Neon branch preview/pr-42 of project proud-fog-123456, copied from main, the pull request's, shared by its apps
      head:       0123456789abcdef0123456789abcdef01234567 (feature → main)
      check run:  801
      comment:    701 (the pull request's)
      deployment: none
      last error: none
      lease:      none
      expires:    2025-01-18T09:40:00Z, the ttl (3d) after the last push or redeploy
      paused:     no
      updated:    2025-01-15T09:42:00Z
      "
    `);
    const json = JSON.parse((await cli(["status", "acme/shop#42", "web", "--json"])).stdout);
    expect(json).toMatchObject({ name: "web", app: "pr-42-web-acme-shop", status: "failed", checkRunId: 802, commentId: 701, expiresAt: "2025-01-18T09:40:00Z" });
    expect(json.database).toMatchObject({ provider: "neon", name: "preview/pr-42" });

    // `/preview pin` pins the pull request's own row: every app shows it.
    const store = await openStore(databaseUrl, () => T0 + 3_600_000);
    await store.pin((await store.get("acme", "shop", 42))!.id, "maintainer-mo");
    await store.close();
    expect((await cli(["status", "acme/shop#42", "api"])).stdout).toMatch(/^expires: +never while the pull request is open: pinned by maintainer-mo at 2025-01-15T10:30:00Z$/m);
    expect(JSON.parse((await cli(["status", "acme/shop#42", "api", "--json"])).stdout)).toMatchObject({ pinnedBy: "maintainer-mo", pinnedAt: "2025-01-15T10:30:00Z", expiresAt: null });
    expect((await cli(["list"])).stdout).toMatch(/^acme\/shop#42 web +pr-42-web-acme-shop +failed +- +- +- +pinned by maintainer-mo /m);
  });

  it("status --json lists the apps", async () => {
    await seedApps();
    const json = JSON.parse((await cli(["status", "acme/shop#42", "--json"])).stdout);
    expect(json).toMatchObject({ repo: "acme/shop", number: 42, app: null, status: "ready", commentId: 701, expiresAt: "2025-01-18T09:40:00Z" });
    expect(json.apps.map((a: { name: string; app: string; status: string; costPerMonth: number | null }) => [a.name, a.app, a.status, a.costPerMonth])).toEqual([
      ["api", "pr-42-api-acme-shop", "ready", 3.32],
      ["web", "pr-42-web-acme-shop", "failed", null],
    ]);
  });

  it("status refuses an app the pull request does not have, and a name that is no app's", async () => {
    await seed();
    await seedApps();
    expect(await cli(["status", "acme/shop#42", "worker"])).toEqual({ code: 1, stdout: "", stderr: "fly-preview: acme/shop#42 has no app worker: its apps are api, web\n" });
    expect(await cli(["status", "acme/web#7", "api"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "fly-preview: acme/web#7 has no apps (no apps: in its .preview.yml): run `fly-preview status acme/web#7`\n",
    });
    expect(await cli(["status", "acme/shop#42", "web_api"])).toMatchObject({ code: 2, stderr: expect.stringContaining('"web_api" is not an app\'s name') });
  });

  it("destroy asks for the pull request's destroy, naming every Fly app it takes", async () => {
    await seedApps();
    const { code, stdout } = await cli(["destroy", "acme/shop#42"]);
    expect(code).toBe(0);
    expect(stdout).toBe(
      "destroy of acme/shop#42 (apps pr-42-api-acme-shop, pr-42-web-acme-shop) recorded; the running fly-preview server carries it out\n",
    );
    const store = await openStore(databaseUrl);
    expect(await store.get("acme", "shop", 42)).toMatchObject({ desired_action: "destroy", destroy_reason: "operator", paused: 1 });
    await store.close();
    expect((await cli(["destroy", "acme/shop#42"])).stdout).toBe(
      "acme/shop#42 (apps pr-42-api-acme-shop, pr-42-web-acme-shop) is already being destroyed; the running fly-preview server carries it out\n",
    );
  });

  it("destroy points at gc for an app whose destroy failed, though the pull request's own row is destroyed", async () => {
    await seedApps();
    let now = T0 + 60 * 60_000;
    const store = await openStore(databaseUrl, () => now);
    await store.desireDestroy("acme", "shop", 42, { reason: "closed" });
    // The pull request's run passes the destroy on to its apps; web's fails on Fly.
    const own = (await store.claim("worker-1", 60_000, 0))!;
    await store.destroyApps(own.preview, { reason: "closed" });
    await store.finish(own.preview.id, "worker-1", own.generation, { status: "destroyed" });
    for (let i = 0; i < 2; i++) {
      now += 60_000;
      const claim = (await store.claim("worker-1", 60_000, 0))!;
      const ran = claim.preview.app_key === "api" ? { status: "destroyed", app_created: 0 } : { status: "failed", last_error: "flyctl apps destroy: 503 Service Unavailable" };
      await store.finish(claim.preview.id, "worker-1", claim.generation, ran as Parameters<Store["finish"]>[3]);
    }
    await store.close();
    const { code, stdout } = await cli(["destroy", "acme/shop#42"]);
    expect(code).toBe(0);
    expect(stdout).toBe(
      "the destroy of acme/shop#42 web (app pr-42-web-acme-shop) failed earlier: flyctl apps destroy: 503 Service Unavailable\nrun `fly-preview gc` to ask for it again\n",
    );
    expect((await cli(["list"])).stdout).toMatch(/^acme\/shop#42 web +pr-42-web-acme-shop +destroy failed /m);
  });
});

describe("fly-preview gc", () => {
  const report: ReapReport = {
    orphans: [{ app: "pr-4-acme-web", repo: "acme/web", number: 4, reason: "its pull request was closed" }],
    retried: [{ app: "pr-12-globex-shop", repo: "globex/shop", number: 12 }],
    expired: [{ app: "pr-9-acme-api", repo: "acme/api", number: 9, idleMs: (8 * 24 + 2) * 3_600_000 }],
    reminded: [{ app: "pr-5-acme-api", repo: "acme/api", number: 5, expiresAt: Date.UTC(2026, 11, 9, 14) }],
    databases: [{ provider: "neon", home: "proud-fog-123456", name: "preview/pr-4", repo: "acme/web", number: 4 }],
  };

  it("prints what it cleaned up", async () => {
    const calls: Array<{ dryRun: boolean }> = [];
    const reap: CliDeps["reap"] = async (deps, options) => {
      expect(deps.store).toBeDefined();
      calls.push(options);
      return report;
    };
    const { code, stdout } = await cli(["gc"], { deps: { reap } });
    expect(code).toBe(0);
    expect(calls).toEqual([{ dryRun: false }]);
    expect(stdout).toMatchInlineSnapshot(`
      "destroyed orphaned app pr-4-acme-web (acme/web#4): its pull request was closed
      retrying the failed destroy of globex/shop#12 (app pr-12-globex-shop)
      expired acme/api#9 (app pr-9-acme-api), idle for 8d 2h
      reminded acme/api#5 (app pr-5-acme-api) that it expires at 2026-12-09T14:00:00Z
      dropped Neon branch preview/pr-4 of project proud-fog-123456 (acme/web#4): its preview is destroyed
      the running fly-preview server carries out the destroys asked for
      "
    `);
  });

  it("with --dry-run says what it would do", async () => {
    const calls: Array<{ dryRun: boolean }> = [];
    const reap: CliDeps["reap"] = async (_deps, options) => {
      calls.push(options);
      return report;
    };
    const { code, stdout } = await cli(["gc", "--dry-run"], { deps: { reap } });
    expect(code).toBe(0);
    expect(calls).toEqual([{ dryRun: true }]);
    expect(stdout).toMatchInlineSnapshot(`
      "would destroy orphaned app pr-4-acme-web (acme/web#4): its pull request was closed
      would retry the failed destroy of globex/shop#12 (app pr-12-globex-shop)
      would expire acme/api#9 (app pr-9-acme-api), idle for 8d 2h
      would remind acme/api#5 (app pr-5-acme-api) that it expires at 2026-12-09T14:00:00Z
      would drop Neon branch preview/pr-4 of project proud-fog-123456 (acme/web#4): its preview is destroyed
      dry run: nothing was changed
      "
    `);
  });

  it("with --dry-run and no Fly token shows what the store knows and says what it could not check", async () => {
    await seed();
    const run = await cli(["gc", "--dry-run"]);
    // The seed is long past acme/web#7's `ttl: 2d`, and acme/api#3's default 7d; but #3 is pinned.
    expect(run).toEqual({
      code: 1,
      stdout: expect.stringMatching(
        /^would retry the failed destroy of globex\/shop#12 \(app pr-12-globex-shop\)\nwould expire acme\/web#7 \(app pr-7-acme-web\), idle for \d+d \d+h\ndry run: nothing was changed\n$/,
      ),
      stderr: "fly-preview: could not list Fly apps (FLY_API_TOKEN is not set on the fly-preview server): orphaned apps not checked\n",
    });
    expect((await cli(["status", "globex/shop#12", "--json"])).stdout).toContain('"desiredGeneration": 2');
  });

  it("names a pull request with several apps by the Fly apps it holds, not by its own row, which has none", async () => {
    await seedApps();
    const run = await cli(["gc", "--dry-run"]);
    // Long past its `ttl: 3d`: the pull request expires as one.
    expect(run.stdout).toMatch(/^would expire acme\/shop#42 \(apps pr-42-api-acme-shop, pr-42-web-acme-shop\), idle for \d+d \d+h\ndry run: nothing was changed\n$/);
    expect(run.stdout).not.toContain("pr-42-acme-shop");
    const reaped = { app: "pr-42-acme-shop", repo: "acme/shop", number: 42 };
    const reap: CliDeps["reap"] = async () => ({
      orphans: [],
      retried: [{ ...reaped, apps: [] }],
      expired: [],
      reminded: [{ ...reaped, apps: ["pr-42-api-acme-shop"], expiresAt: Date.UTC(2026, 11, 9, 14) }],
      databases: [],
    });
    expect((await cli(["gc"], { deps: { reap } })).stdout).toBe(
      "retrying the failed destroy of acme/shop#42 (no Fly app left)\n" +
        "reminded acme/shop#42 (app pr-42-api-acme-shop) that it expires at 2026-12-09T14:00:00Z\n" +
        "the running fly-preview server carries out the destroys asked for\n",
    );
  });

  it("says when there is nothing to clean up", async () => {
    const reap: CliDeps["reap"] = async () => ({ orphans: [], retried: [], expired: [], reminded: [], databases: [] });
    expect(await cli(["gc"], { deps: { reap } })).toEqual({ code: 0, stdout: "nothing to clean up\n", stderr: "" });
  });

  it("reports a reaper that fails", async () => {
    const reap: CliDeps["reap"] = async () => {
      throw new Error("flyctl apps list: unauthorized");
    };
    expect(await cli(["gc"], { deps: { reap } })).toMatchObject({ code: 1, stderr: "fly-preview: flyctl apps list: unauthorized\n" });
  });
});

describe("fly-preview secrets", () => {
  const env = { PREVIEW_SECRETS_KEY: KEY };

  it("sets a value from stdin, lists names only, and unsets", async () => {
    const pem = "-----BEGIN KEY-----\nline-one-of-the-key\nline-two-of-the-key\n-----END KEY-----";
    const set = await cli(["secrets", "set", "acme/web", "SIGNING_KEY"], { env, stdin: `${pem}\n` });
    expect(set).toEqual({ code: 0, stdout: "secret SIGNING_KEY set for acme/web\n", stderr: "" });
    await cli(["secrets", "set", "acme/web", "TOKEN"], { env, stdin: "token-value-123" });

    const store = await openStore(databaseUrl);
    expect(await new SecretStore(store.db, Buffer.from(KEY, "hex")).resolve("acme", "web", ["SIGNING_KEY", "TOKEN"])).toEqual({
      values: { SIGNING_KEY: pem, TOKEN: "token-value-123" },
      missing: [],
    });
    await store.close();

    const listed = await cli(["secrets", "list", "acme/web"], { env });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +UPDATED\nSIGNING_KEY +\d{4}-\d\d-\d\dT[\d:]+Z\nTOKEN +\d{4}-/);
    expect(listed.stdout).not.toContain("line-one");
    expect(listed.stdout).not.toContain("token-value");

    expect(await cli(["secrets", "unset", "acme/web", "TOKEN"], { env })).toEqual({
      code: 0,
      stdout: "secret TOKEN removed from acme/web\n",
      stderr: "",
    });
    expect(await cli(["secrets", "unset", "acme/web", "TOKEN"], { env })).toMatchObject({
      code: 1,
      stderr: "fly-preview: acme/web has no secret TOKEN\n",
    });
    expect((await cli(["secrets", "list", "acme/other"], { env })).stdout).toBe("no secrets for acme/other\n");
  });

  it("strips exactly one trailing newline", async () => {
    await cli(["secrets", "set", "acme/web", "TWO_NEWLINES"], { env, stdin: "value\n\n" });
    const store = await openStore(databaseUrl);
    expect((await new SecretStore(store.db, Buffer.from(KEY, "hex")).resolve("acme", "web", ["TWO_NEWLINES"])).values).toEqual({
      TWO_NEWLINES: "value\n",
    });
    await store.close();
  });

  it("refuses a value that cannot reach Fly.io unchanged, saying why, and stores nothing", async () => {
    // One trailing newline is dropped; the one left still ends the value in whitespace.
    const run = await cli(["secrets", "set", "acme/web", "NOTE"], { env, stdin: 'x"#y\nz\n\n' });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `fly-preview: the value of NOTE cannot reach Fly.io unchanged, so it was not stored: flyctl secrets import would alter it (its first line has a "#" after an odd number of '"') and flyctl secrets set would trim or refuse it (it begins or ends with whitespace)\n`,
    );
    expect((await cli(["secrets", "list", "acme/web"], { env })).stdout).toBe("no secrets for acme/web\n");
  });

  it("refuses an empty value", async () => {
    const run = await cli(["secrets", "set", "acme/web", "TOKEN"], { env, stdin: "\n" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("no value on standard input for TOKEN");
  });

  it("needs PREVIEW_SECRETS_KEY to set and unset, the right one once secrets are stored", async () => {
    const noKey = await cli(["secrets", "set", "acme/web", "TOKEN"], { stdin: "v" });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/^fly-preview: PREVIEW_SECRETS_KEY is not set.*openssl rand -hex 32/);

    await cli(["secrets", "set", "acme/web", "TOKEN"], { env, stdin: "v" });
    expect(await cli(["secrets", "unset", "acme/web", "TOKEN"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "fly-preview: secrets are stored but PREVIEW_SECRETS_KEY is not set: set it to the key they were encrypted with\n",
    });
    expect(await cli(["secrets", "set", "acme/web", "OTHER"], { env: { PREVIEW_SECRETS_KEY: "22".repeat(32) }, stdin: "v" })).toMatchObject({
      code: 1,
      stderr: "fly-preview: PREVIEW_SECRETS_KEY does not match the key the stored secrets were encrypted with\n",
    });
    expect(await cli(["secrets", "list", "acme/web"], { env: { PREVIEW_SECRETS_KEY: "short" } })).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^fly-preview: configuration error: PREVIEW_SECRETS_KEY must be 32 bytes/),
    });
  });

  it("lists names without the key, which only values need", async () => {
    await cli(["secrets", "set", "acme/web", "TOKEN"], { env, stdin: "v" });
    const listed = await cli(["secrets", "list", "acme/web"]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +UPDATED\nTOKEN +\d{4}-/);
    expect((await cli(["secrets", "list", "acme/web"], { env: { PREVIEW_SECRETS_KEY: "22".repeat(32) } })).code).toBe(0);
  });

  it("leaves the other commands working without the key", async () => {
    await cli(["secrets", "set", "acme/web", "TOKEN"], { env, stdin: "v" });
    expect((await cli(["list"])).code).toBe(0);
    expect((await cli(["status", "acme/web#1"])).stderr).toBe("fly-preview: no preview for acme/web#1\n");
    expect((await cli(["migrate"])).code).toBe(0);
  });

  it("refuses a bad secret name as a usage error", async () => {
    const run = await cli(["secrets", "set", "acme/web", "BAD-NAME"], { env, stdin: "v" });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'fly-preview: "BAD-NAME" is not a secret name: letters, digits and _, not starting with a digit (e.g. DATABASE_URL)\nusage: fly-preview secrets set owner/repo NAME\n',
    );
  });
});

describe("fly-preview migrate", () => {
  it("brings the database up to date and says where it is", async () => {
    expect(await cli(["migrate"])).toEqual({
      code: 0,
      stdout: `database is up to date (SQLite at ${join(dir, "previews.db")})\n`,
      stderr: "",
    });
  });
});

describe("help", () => {
  it("lists the commands with --help, and when called with none", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatchInlineSnapshot(`
      "usage: fly-preview <command> [arguments] [flags]

      Operates a fly-preview server: its previews, their cleanup and per-repository secrets.
      Reads the server's settings, from the environment and .env (the environment wins): DATABASE_URL, FLY_API_TOKEN, FLY_ORG, FLYCTL_PATH, PREVIEW_SECRETS_KEY.

      commands:
        list           every preview, newest first
        status         everything fly-preview knows about one preview
        destroy        ask the running server to destroy a preview
        gc             destroy orphaned Fly apps and databases, retry failed destroys, expire idle previews
        secrets set    store a secret for a repository's previews (the value is read from stdin)
        secrets list   the names of a repository's secrets and when they changed (never values)
        secrets unset  remove a secret from a repository
        migrate        bring the database's schema up to date (the server also does this at start-up)
        worker         run the workers without the webhook server, until SIGTERM or SIGINT
        doctor         check the settings, the GitHub App, the database, flyctl and the secrets key
        validate       check a .preview.yml as the server does, and show the fly.toml a preview gets (needs no server)

      Run \`fly-preview <command> --help\` for a command's arguments and flags.
      "
    `);
    expect(await cli([])).toEqual({ code: 2, stdout: "", stderr: help.stdout });
  });

  it.each(CLI_COMMANDS.map((c) => c.name))("explains %s with --help, touching nothing", async (name) => {
    // A DATABASE_URL that cannot be opened proves --help reads no store.
    const run = await cli([...name.split(" "), "--help"], { env: { DATABASE_URL: "postgres://x" } });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(new RegExp(`^usage: fly-preview ${name}[ \n]`));
    expect(run.stdout).toContain("--help");
  });

  it("explains a command in full", async () => {
    expect((await cli(["list", "--help"])).stdout).toMatchInlineSnapshot(`
      "usage: fly-preview list [--repo owner/repo] [--json]

      Every preview, newest first.
      A destroy that failed shows as "destroy failed": its Fly app may still run; \`fly-preview gc\` asks for it again. A pull request with several apps (\`apps:\` in .preview.yml) has a line of its own, with no Fly app, then a line per app (OWNER/REPO#N NAME). COST/MONTH is what a Fly app's machine costs a month if always on, from the price table (PREVIEW_PRICES); the last line totals the Fly apps that exist.

      flags:
        --repo owner/repo  only this repository's previews
        --json             a JSON array instead of a table
        --help             show this help
      "
    `);
  });

  it("lists the secrets commands for `secrets --help`", async () => {
    const run = await cli(["secrets", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("secrets set");
    expect(run.stdout).not.toContain("  migrate");
  });
});

describe("a wrong invocation", () => {
  const cases: Array<[string, string[], string]> = [
    ["an unknown command", ["deploy"], 'fly-preview: unknown command "deploy"; run `fly-preview --help` for the commands\nusage: fly-preview <command> [arguments] [flags]\n'],
    ["an unknown flag", ["list", "--all"], "fly-preview: unknown flag --all\nusage: fly-preview list [--repo owner/repo] [--json]\n"],
    ["a switch given a value", ["list", "--json=yes"], "fly-preview: --json takes no value\nusage: fly-preview list [--repo owner/repo] [--json]\n"],
    ["a flag without its value", ["list", "--repo"], "fly-preview: --repo needs a value: --repo owner/repo\nusage: fly-preview list [--repo owner/repo] [--json]\n"],
    ["a malformed repository", ["list", "--repo", "acme"], 'fly-preview: "acme" is not a repository: write owner/repo, e.g. acme/web\nusage: fly-preview list [--repo owner/repo] [--json]\n'],
    ["a pull request without its number", ["status", "acme/web"], 'fly-preview: "acme/web" is not a pull request: write owner/repo#N, e.g. acme/web#42\nusage: fly-preview status owner/repo#N [APP] [--json]\n'],
    ["a pull request without a repository", ["destroy", "acme#4"], 'fly-preview: "acme#4" is not a pull request: write owner/repo#N, e.g. acme/web#42\nusage: fly-preview destroy owner/repo#N\n'],
    ["a missing argument", ["status"], "fly-preview: missing owner/repo#N\nusage: fly-preview status owner/repo#N [APP] [--json]\n"],
    ["an extra argument", ["migrate", "now"], 'fly-preview: unexpected argument "now"\nusage: fly-preview migrate\n'],
    ["a missing secret name", ["secrets", "unset", "acme/web"], "fly-preview: missing NAME\nusage: fly-preview secrets unset owner/repo NAME\n"],
    ["an unknown secrets command", ["secrets", "get", "acme/web"], 'fly-preview: unknown command "secrets get"\nusage: fly-preview secrets set owner/repo NAME\nusage: fly-preview secrets list owner/repo\nusage: fly-preview secrets unset owner/repo NAME\n'],
    ["an unknown flag of gc", ["gc", "--force"], "fly-preview: unknown flag --force\nusage: fly-preview gc [--dry-run]\n"],
  ];

  it.each(cases)("exits 2 and says what to fix: %s", async (_what, argv, stderr) => {
    expect(await cli(argv)).toEqual({ code: 2, stdout: "", stderr });
  });

  it("worker exits 1 without the GitHub App's credentials, saying which", async () => {
    expect(await cli(["worker"], { env: { DATABASE_URL: databaseUrl, APP_ID: "" } })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("set APP_ID and PRIVATE_KEY"),
    });
  });

  it("worker with a PRIVATE_KEY that is not a key exits 1 with a configuration error naming it", async () => {
    expect(await cli(["worker"], { env: { DATABASE_URL: databaseUrl, APP_ID: "1", PRIVATE_KEY: "not-a-key" } })).toEqual({
      code: 1,
      stdout: "",
      stderr: expect.stringMatching(/^fly-preview: configuration error: PRIVATE_KEY is not a PEM private key: [^\n]*\n$/),
    });
  });

  it("the worker logs at the server's default level, info, unless LOG_LEVEL says otherwise", async () => {
    const probot = workerProbot({ APP_ID: "1", PRIVATE_KEY: TEST_PRIVATE_KEY });
    await probot.ready();
    expect(probot.log.level).toBe("info");
    const quiet = workerProbot({ APP_ID: "1", PRIVATE_KEY: TEST_PRIVATE_KEY, LOG_LEVEL: "error" });
    await quiet.ready();
    expect(quiet.log.level).toBe("error");
  });

  it("worker refuses SQLite, whose leases belong to the server", async () => {
    expect(await cli(["worker"], { env: { DATABASE_URL: databaseUrl, APP_ID: "1", PRIVATE_KEY: TEST_PRIVATE_KEY } })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("workers of their own need PostgreSQL"),
    });
  });

  it("exits 1 on a bad setting, naming it", async () => {
    expect(await cli(["list"], { env: { DATABASE_URL: "mysql://db" } })).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^fly-preview: configuration error: DATABASE_URL must be file:PATH/),
    });
  });
});

describe("the fly-preview executable", () => {
  it("reads .env in its working directory, and a variable set in the shell wins over it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "fly-preview-cli-cwd-"));
    const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
    const run = (env: Record<string, string>) =>
      execa(process.execPath, ["--import", import.meta.resolve("tsx"), main, "list"], { cwd, env, extendEnv: false, reject: false });
    writeFileSync(join(cwd, ".env"), `DATABASE_URL=file:${join(cwd, "from-dotenv.db")}\n`);
    expect((await run({})).exitCode).toBe(0);
    expect(existsSync(join(cwd, "from-dotenv.db"))).toBe(true);

    writeFileSync(join(cwd, ".env"), "DATABASE_URL=mysql://from-dotenv\n");
    const bad = await run({});
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^fly-preview: configuration error: DATABASE_URL must be file:PATH/);
    expect((await run({ DATABASE_URL: databaseUrl })).exitCode).toBe(0);
  });

  it("runs as a program with the process's streams and exit code", async () => {
    await seed();
    const env = { DATABASE_URL: databaseUrl };
    const list = await execa("node", ["--import", "tsx", "src/cli/main.ts", "list"], { env, reject: false });
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toContain("acme/web#7");

    const wrong = await execa("node", ["--import", "tsx", "src/cli/main.ts", "status", "acme"], { env, reject: false });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain('"acme" is not a pull request');

    const set = await execa("node", ["--import", "tsx", "src/cli/main.ts", "secrets", "set", "acme/web", "TOKEN"], {
      env: { ...env, PREVIEW_SECRETS_KEY: KEY },
      input: "from-a-pipe\n",
      reject: false,
    });
    expect(set.exitCode).toBe(0);
    expect(set.stdout).toBe("secret TOKEN set for acme/web");
  });
});

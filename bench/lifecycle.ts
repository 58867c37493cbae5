// The lifecycle part of `npm run bench`: how soon a pull request's preview starts
// deploying and how soon GitHub shows it, with the real server (src/main.ts) as a
// child process and Probot's real write throttling (one content write a second per
// installation), against the fake GitHub and the fake flyctl (deploys take 200 ms).
// See docs/benchmarks.md, "Lifecycle".
import { createHash, createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import SQLite from "better-sqlite3";
import pg from "pg";
import { createFakeFly, type FakeFly } from "../test/fake-flyctl/control.js";
import { startFakeGitHub, type FakeGitHub } from "../test/fake-github/server.js";
import { DOCKERFILE, pullRequest, REPO } from "../test/harness.js";
import { freePort, listen } from "../test/server-process.js";
import { startChild, waitReady, type Child } from "./child.js";
import { runPart } from "./run-part.js";
import { round } from "./stats.js";
import { minimumGap, surfacesOf, writesOf, type Wanted, type Write } from "./surfaces.js";

const DEPLOY_DELAY_MS = 200;
/** The pool's settle time (settleMs in src/preview/pool.ts, not configurable): a desire waits this long before it is claimed. */
const SETTLE_MS = 1000;
const LIFECYCLES = wholeFromEnv("BENCH_LIFECYCLES", 5, 1, 20);
const BURST_PRS = 20;
const BURST_PUSHES = 100;
/** A burst still unsettled this long after its last push is reported as such. */
const BURST_DEADLINE_MS = wholeFromEnv("BENCH_BURST_DEADLINE_S", 200, 10, 600) * 1000;
/** After every surface is final, no write for this long means the servers are done writing. */
const QUIET_MS = 3000;
/** The whole part gives up (and still cleans up) after this long. */
const DEADLINE_MS = 15 * 60_000;
const SECRET = "bench-webhook-secret";
const PREVIEW_YML = "health:\n  timeout: 10s\n";
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

const TARGETS = {
  webhookToFlyctlMs: SETTLE_MS + 300,
  flyctlEndToCheckMs: 300,
  flyctlEndToAgreeMs: 1500,
  burstChecksMs: 25_000,
  burstAllMs: 90_000,
  minimumGapMs: 1000,
};

function wholeFromEnv(name: string, fallback: number, min: number, max: number): number {
  const value = process.env[name] ?? String(fallback);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
    process.exit(2);
  }
  return n;
}

const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** A distinct, realistic commit id per pull request and push (their short forms differ too). */
const commit = (pr: number, push: number) => createHash("sha1").update(`bench-${pr}-${push}`).digest("hex");
const appName = (pr: number) => `pr-${pr}-codertocat-hello-world`;

const live = new Set<Child>();
const cleanups: Array<() => unknown> = [];
let stopping = false;

async function cleanUp(): Promise<void> {
  for (const child of live) await child.kill();
  live.clear();
  while (cleanups.length) await cleanups.pop()!();
}

interface World {
  gh: FakeGitHub;
  fly: FakeFly;
  env: Record<string, string>;
  /** Commit → pull request, for every commit the bench pushes. */
  prOfSha: Map<string, number>;
  done(): Promise<void>;
}

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

/** A fake GitHub, a fake flyctl and a preview for its health check, new for each measurement so their logs hold only it. */
async function world(): Promise<World> {
  const undo: Array<() => unknown> = [];
  const done = async () => {
    while (undo.length) await undo.pop()!();
  };
  cleanups.push(done);
  const gh = await startFakeGitHub();
  undo.push(() => gh.close());
  const fly = await createFakeFly();
  undo.push(() => fly.cleanup(), () => fly.killRunning());
  // The deploy announces this server's URL, so the health check (real fetch, in the
  // server process) reaches something that answers at once.
  const preview = createServer((_req, res) => res.end("ok"));
  const previewPort = await listen(preview);
  undo.push(() => new Promise((r) => preview.close(r)));
  fly.setBehavior({ deployDelayMs: DEPLOY_DELAY_MS, url: `http://127.0.0.1:${previewPort}/` });
  const env: Record<string, string> = {
    APP_ID: "1",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: SECRET,
    HOST: "127.0.0.1",
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    GHE_HOST: gh.host,
    GHE_PROTOCOL: "http",
    FLYCTL_PATH: fly.path,
    FAKE_FLYCTL_STATE: fly.stateDir,
    FLY_API_TOKEN: "fo1_bench_token",
  };
  return { gh, fly, env, prOfSha: new Map(), done };
}

/** The real server, Probot's default Octokit (throttling on), on `databaseUrl`. */
async function startServer(w: World, databaseUrl: string): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  if (stopping) throw new Error("interrupted");
  const child = startChild(MAIN, { ...w.env, DATABASE_URL: databaseUrl, PORT: String(port) });
  live.add(child);
  await waitReady(child, port, "/healthz");
  return { child, port };
}

async function stopServer(server: { child: Child }): Promise<void> {
  await server.child.kill();
  live.delete(server.child);
}

/** A signed pull_request delivery; resolves when the server has acknowledged it. */
async function deliver(port: number, payload: unknown): Promise<void> {
  const body = JSON.stringify(payload);
  const response = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": randomBytes(8).toString("hex"),
      "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
    },
    body,
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`the server answered a delivery with ${response.status}`);
}

async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(25);
  }
}

function allFinal(w: World, pr: number, sha: string, wanted: Wanted) {
  const s = surfacesOf(w.gh, writesOf(w.gh, (x) => w.prOfSha.get(x)), REPO, pr, sha, wanted);
  return s.check !== undefined && s.deployment !== undefined && s.comment !== undefined ? s : undefined;
}

function sqliteSettled(file: string): boolean {
  const db = new SQLite(file, { readonly: true });
  try {
    const row = db.prepare("select count(*) as n from previews where desired_generation != observed_generation or lease_owner is not null").get() as { n: number };
    return Number(row.n) === 0;
  } finally {
    db.close();
  }
}

interface Lifecycle {
  pr: number;
  webhookToFirstFlyctlMs: number;
  webhookToDeployStartMs: number;
  flyctlEndToCheckMs: number;
  flyctlEndToDeploymentMs: number;
  flyctlEndToCommentMs: number;
  flyctlEndToAgreeMs: number;
  writesToReady: number;
  writesToDestroyed: number;
  writesBySurface: Record<string, number>;
  minimumGapMs?: number;
}

const countBy = (writes: readonly Write[]) => {
  const by: Record<string, number> = {};
  for (const w of writes) {
    const key = `${w.surface} ${w.method === "POST" && !/statuses$|reactions$/.test(w.path) ? "create" : w.method === "POST" ? "add" : "update"}`;
    by[key] = (by[key] ?? 0) + 1;
  }
  return by;
};

/** One pull request opened, ready, closed, destroyed, one after another, on one server. */
async function lifecycles(): Promise<Lifecycle[]> {
  const w = await world();
  const tmp = mkdtempSync(join(os.tmpdir(), "fly-preview-bench-life-"));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const file = join(tmp, "lifecycle.db");
  const server = await startServer(w, `file:${file}`);
  const results: Lifecycle[] = [];
  try {
    for (let i = 0; i < LIFECYCLES; i++) {
      const pr = i + 1;
      const sha = commit(pr, 0);
      w.prOfSha.set(sha, pr);
      w.gh.setCommit(REPO, sha, { Dockerfile: DOCKERFILE, ".preview.yml": PREVIEW_YML });
      w.gh.setPull(REPO, pr, { headSha: sha });
      console.log(`lifecycle ${i + 1} of ${LIFECYCLES}: PR #${pr} opened…`);
      const sent = Date.now();
      await deliver(server.port, pullRequest("opened", { sha, number: pr }));
      const ready = await waitFor(`PR #${pr}'s surfaces to say ready`, () => allFinal(w, pr, sha, "ready"), 60_000);
      w.gh.setPull(REPO, pr, { headSha: sha, state: "closed" });
      await deliver(server.port, pullRequest("closed", { sha, number: pr }));
      await waitFor(`PR #${pr}'s preview to be destroyed`, () => allFinal(w, pr, sha, "destroyed") && sqliteSettled(file), 60_000);

      const calls = w.fly.calls().filter((c) => c.argv.includes(appName(pr)) && Date.parse(c.startedAt) >= sent);
      const deploy = calls.find((c) => c.argv[0] === "deploy");
      if (!deploy?.endedAt) throw new Error(`PR #${pr}: no finished flyctl deploy was recorded`);
      const deployEnd = Date.parse(deploy.endedAt);
      const writes = writesOf(w.gh, (x) => w.prOfSha.get(x)).filter((x) => x.pr === pr);
      const readyAt = Math.max(ready.check!, ready.deployment!, ready.comment!);
      results.push({
        pr,
        webhookToFirstFlyctlMs: Math.min(...calls.map((c) => Date.parse(c.startedAt))) - sent,
        webhookToDeployStartMs: Date.parse(deploy.startedAt) - sent,
        flyctlEndToCheckMs: ready.check! - deployEnd,
        flyctlEndToDeploymentMs: ready.deployment! - deployEnd,
        flyctlEndToCommentMs: ready.comment! - deployEnd,
        flyctlEndToAgreeMs: readyAt - deployEnd,
        writesToReady: writes.filter((x) => x.at <= readyAt).length,
        writesToDestroyed: writes.length,
        writesBySurface: countBy(writes),
        minimumGapMs: minimumGap(writes)?.ms,
      });
      // The installation's write lane is idle again before the next pull request opens.
      await sleep(1500);
    }
    return results;
  } finally {
    await stopServer(server);
    await w.done();
  }
}

interface Burst {
  database: "sqlite" | "postgresql";
  processes: number;
  state: "measured" | "not run" | "skipped";
  reason?: string;
  pushSeconds?: number;
  /** From the last push's acknowledgement: the slowest PR's check run showing its final commit ready. */
  checksFinalMs?: number;
  /** …and all three surfaces of every PR final. */
  allFinalMs?: number;
  /** PRs whose surfaces were not all final by the deadline. */
  unsettled?: number;
  writesPerPr?: { mean: number; min: number; max: number };
  totalWrites?: number;
  deploys?: number;
  minimumGapMs?: number;
  /** The two writes that came closest together, as "METHOD path". */
  closestWrites?: string[];
  gapsUnder1s?: number;
}

/** 20 PRs × 100 pushes, rounds of one push to every PR, on `processes` servers sharing `databaseUrl`. */
async function burst(database: Burst["database"], databaseUrl: string, processes: number): Promise<Burst> {
  const w = await world();
  const finalShas = new Map<number, string>();
  for (let pr = 1; pr <= BURST_PRS; pr++) {
    for (let push = 0; push < BURST_PUSHES; push++) {
      const sha = commit(pr, push);
      w.prOfSha.set(sha, pr);
      w.gh.setCommit(REPO, sha, { Dockerfile: DOCKERFILE, ".preview.yml": PREVIEW_YML });
    }
    finalShas.set(pr, commit(pr, BURST_PUSHES - 1));
  }
  const servers: Array<{ child: Child; port: number }> = [];
  try {
    for (let i = 0; i < processes; i++) servers.push(await startServer(w, databaseUrl));
    console.log(`burst on ${database}, ${processes} process${processes > 1 ? "es" : ""}: ${BURST_PRS} PRs × ${BURST_PUSHES} pushes…`);
    const started = Date.now();
    let k = 0;
    for (let push = 0; push < BURST_PUSHES; push++) {
      // A round at a time: a PR's pushes arrive in order, as GitHub sends them.
      await Promise.all(
        Array.from({ length: BURST_PRS }, (_, i) => {
          const pr = i + 1;
          const sha = commit(pr, push);
          w.gh.setPull(REPO, pr, { headSha: sha });
          const server = servers[k++ % servers.length];
          return deliver(server.port, pullRequest(push === 0 ? "opened" : "synchronize", { sha, number: pr }));
        }),
      );
    }
    const lastPush = Date.now();
    const deadline = lastPush + BURST_DEADLINE_MS;
    const finalOf = () => [...finalShas].map(([pr, sha]) => surfacesOf(w.gh, writesOf(w.gh, (x) => w.prOfSha.get(x)), REPO, pr, sha, "ready"));
    let settled = false;
    while (Date.now() < deadline) {
      const all = finalOf();
      if (all.every((s) => s.check !== undefined && s.deployment !== undefined && s.comment !== undefined)) {
        settled = true;
        break;
      }
      await sleep(250);
    }
    // Writes after the last surface became final (older commits' check runs ended, say) still count.
    if (settled) {
      while (Date.now() < deadline) {
        const last = w.gh.requests.filter((r) => r.method !== "GET").at(-1)?.at ?? 0;
        if (Date.now() - last >= QUIET_MS) break;
        await sleep(250);
      }
    }
    const all = finalOf();
    const writes = writesOf(w.gh, (x) => w.prOfSha.get(x));
    const perPr = Array.from({ length: BURST_PRS }, (_, i) => writes.filter((x) => x.pr === i + 1).length);
    const unsettled = all.filter((s) => s.check === undefined || s.deployment === undefined || s.comment === undefined).length;
    const gaps = writes.map((x) => x.at).sort((a, b) => a - b);
    const closest = minimumGap(writes);
    return {
      database,
      processes,
      state: "measured",
      pushSeconds: round((lastPush - started) / 1000, 1),
      checksFinalMs: all.every((s) => s.check !== undefined) ? Math.max(...all.map((s) => s.check!)) - lastPush : undefined,
      allFinalMs: unsettled === 0 ? Math.max(...all.flatMap((s) => [s.check!, s.deployment!, s.comment!])) - lastPush : undefined,
      unsettled,
      writesPerPr: { mean: perPr.reduce((a, b) => a + b, 0) / perPr.length, min: Math.min(...perPr), max: Math.max(...perPr) },
      totalWrites: writes.length,
      deploys: w.fly.calls().filter((c) => c.argv[0] === "deploy").length,
      minimumGapMs: closest?.ms,
      closestWrites: closest?.between.map((x) => `${x.method} ${x.path.replace(/^\/api\/v3\/repos\/[^/]+\/[^/]+/, "")}`),
      gapsUnder1s: gaps.slice(1).filter((t, i) => t - gaps[i] < 1000).length,
    };
  } finally {
    for (const server of servers) await stopServer(server);
    await w.done();
  }
}

async function postgresBurst(): Promise<Burst> {
  const base = { database: "postgresql" as const, processes: 2 };
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (!adminUrl) return { ...base, state: "not run", reason: "neither BENCH_DATABASE_URL nor TEST_DATABASE_URL is set" };
  // Our own random hex name: safe to put in the statement as an identifier.
  const name = `bench_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    await admin.end().catch(() => {});
    return { ...base, state: "skipped", reason: `could not create a database: ${(error as Error).message}` };
  }
  const drop = async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => console.error(`warning: could not drop database ${name}; drop it by hand`));
    await admin.end().catch(() => {});
  };
  cleanups.push(drop);
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return await burst("postgresql", url.toString(), 2);
  } finally {
    cleanups.splice(cleanups.indexOf(drop), 1);
    await drop();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(" | ")} |`;
  return [line(rows[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "–" : String(Math.round(v)));
const met = (ok: boolean | undefined) => (ok === undefined ? "–" : ok ? "MET" : "MISSED");

function report(runs: Lifecycle[], bursts: Burst[], started: Date, loadAtStart: number): void {
  const figure = (pick: (l: Lifecycle) => number) => median(runs.map(pick));
  const life = {
    webhookToFirstFlyctlMs: figure((l) => l.webhookToFirstFlyctlMs),
    webhookToDeployStartMs: figure((l) => l.webhookToDeployStartMs),
    flyctlEndToCheckMs: figure((l) => l.flyctlEndToCheckMs),
    flyctlEndToDeploymentMs: figure((l) => l.flyctlEndToDeploymentMs),
    flyctlEndToCommentMs: figure((l) => l.flyctlEndToCommentMs),
    flyctlEndToAgreeMs: figure((l) => l.flyctlEndToAgreeMs),
    writesToReady: figure((l) => l.writesToReady),
    writesToDestroyed: figure((l) => l.writesToDestroyed),
  };
  const each = (pick: (l: Lifecycle) => number) => runs.map((l) => ms(pick(l))).join(", ");
  const rows = [
    ["one pull request (SQLite, one process)", "target", "median", "each lifecycle", "met?"],
    ["webhook → first flyctl starts, ms", `≤ ${TARGETS.webhookToFlyctlMs}`, ms(life.webhookToFirstFlyctlMs), each((l) => l.webhookToFirstFlyctlMs), met(life.webhookToFirstFlyctlMs <= TARGETS.webhookToFlyctlMs)],
    ["webhook → flyctl deploy starts, ms", "–", ms(life.webhookToDeployStartMs), each((l) => l.webhookToDeployStartMs), "–"],
    ["flyctl deploy ends → check run completed, ms", `< ${TARGETS.flyctlEndToCheckMs}`, ms(life.flyctlEndToCheckMs), each((l) => l.flyctlEndToCheckMs), met(life.flyctlEndToCheckMs < TARGETS.flyctlEndToCheckMs)],
    ["flyctl deploy ends → deployment success, ms", "–", ms(life.flyctlEndToDeploymentMs), each((l) => l.flyctlEndToDeploymentMs), "–"],
    ["flyctl deploy ends → comment ready, ms", "–", ms(life.flyctlEndToCommentMs), each((l) => l.flyctlEndToCommentMs), "–"],
    ["flyctl deploy ends → all three agree, ms", `≤ ${TARGETS.flyctlEndToAgreeMs}`, ms(life.flyctlEndToAgreeMs), each((l) => l.flyctlEndToAgreeMs), met(life.flyctlEndToAgreeMs <= TARGETS.flyctlEndToAgreeMs)],
    ["writes, open → ready", "–", ms(life.writesToReady), each((l) => l.writesToReady), "–"],
    ["writes, open → ready → close (destroyed)", "–", ms(life.writesToDestroyed), each((l) => l.writesToDestroyed), "–"],
  ];
  const burstRows = [["burst: 20 PRs × 100 pushes, one installation", "pushes took s", "check runs final, s", "all surfaces final, s", "unsettled PRs", "writes per PR (min–max)", "flyctl deploys", "min gap between writes, ms", "gaps < 1 s", "met?"]];
  for (const b of bursts) {
    const name = `${b.database}, ${b.processes} process${b.processes > 1 ? "es" : ""}`;
    if (b.state !== "measured") {
      burstRows.push([name, "–", "–", "–", "–", "–", "–", "–", "–", `${b.state}: see below`]);
      continue;
    }
    const secs = (v: number | undefined) => (v === undefined ? `not settled in ${BURST_DEADLINE_MS / 1000}` : (v / 1000).toFixed(1));
    const checks = [
      b.checksFinalMs !== undefined && b.checksFinalMs <= TARGETS.burstChecksMs,
      b.allFinalMs !== undefined && b.allFinalMs <= TARGETS.burstAllMs,
      b.minimumGapMs !== undefined && b.minimumGapMs >= TARGETS.minimumGapMs - 50,
    ];
    burstRows.push([
      name,
      String(b.pushSeconds),
      secs(b.checksFinalMs),
      secs(b.allFinalMs),
      String(b.unsettled),
      `${b.writesPerPr!.mean.toFixed(1)} (${b.writesPerPr!.min}–${b.writesPerPr!.max})`,
      String(b.deploys),
      ms(b.minimumGapMs),
      String(b.gapsUnder1s),
      checks.every(Boolean) ? "yes, all" : `no: ${[["checks ≤ 25 s", checks[0]], ["all ≤ 90 s", checks[1]], ["gap ≥ 1 s", checks[2]]].filter(([, ok]) => !ok).map(([t]) => t).join(", ")}`,
    ]);
  }
  console.log("");
  console.log(table(rows));
  console.log("");
  console.log(table(burstRows));
  console.log("");
  for (const b of bursts) {
    if (b.state !== "measured") console.log(`burst on ${b.database}: ${b.state}: ${b.reason}`);
    else if (b.closestWrites) console.log(`burst on ${b.database}: the two writes closest together (${ms(b.minimumGapMs)} ms): ${b.closestWrites.join(", then ")}`);
  }
  for (const l of runs) console.log(`PR #${l.pr}: writes by kind ${JSON.stringify(l.writesBySurface)}; minimum gap between its writes ${ms(l.minimumGapMs)} ms`);
  console.log("");
  console.log(
    `Times are from the fake GitHub's record of each request (when it arrived) and the fake flyctl's startedAt/endedAt; ` +
      `"writes" are content-changing requests (POST/PATCH/PUT/DELETE, installation tokens left out). The fake deploy takes ${DEPLOY_DELAY_MS} ms; ` +
      `the server's settle time is ${SETTLE_MS} ms and PREVIEW_CONCURRENCY is its default.`,
  );
  const cpus = os.cpus().length;
  console.log(`Load average (1 min) when the bench started: ${loadAtStart.toFixed(2)} on ${cpus} CPUs.`);
  if (loadAtStart > cpus / 2) console.log("WARNING: the machine was busy when the bench started; figures are slower and noisier than on a quiet machine.");
  console.log("");
  console.log(
    JSON.stringify(
      {
        part: "lifecycle",
        date: started.toISOString(),
        machine: { node: process.version, cpus, cpuModel: os.cpus()[0]?.model, loadAverage1mAtStart: round(loadAtStart) },
        settings: { lifecycles: LIFECYCLES, deployDelayMs: DEPLOY_DELAY_MS, settleMs: SETTLE_MS, burst: { prs: BURST_PRS, pushes: BURST_PUSHES, deadlineS: BURST_DEADLINE_MS / 1000 } },
        targets: TARGETS,
        lifecycle: { medians: life, each: runs },
        bursts,
      },
      null,
      2,
    ),
  );
}

async function main(): Promise<{ runs: Lifecycle[]; bursts: Burst[] }> {
  try {
    const runs = await lifecycles();
    const tmp = mkdtempSync(join(os.tmpdir(), "fly-preview-bench-burst-"));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    const bursts = [await burst("sqlite", `file:${join(tmp, "burst.db")}`, 1), await postgresBurst()];
    return { runs, bursts };
  } finally {
    await cleanUp();
  }
}

await runPart({
  name: "lifecycle bench",
  deadlineMs: DEADLINE_MS,
  main,
  report: ({ runs, bursts }, started, loadAtStart) => report(runs, bursts, started, loadAtStart),
  stop: async () => {
    stopping = true;
    await cleanUp();
  },
});

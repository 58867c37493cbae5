// `npm run bench`: how long the running server takes to acknowledge a signed
// pull_request delivery, on SQLite, on PostgreSQL when one is offered, and for a
// bare Probot app as the baseline. See docs/benchmarks.md for how to read it.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import SQLite from "better-sqlite3";
import pg from "pg";
import { createFakeFly } from "../test/fake-flyctl/control.js";
import { startFakeGitHub, type FakeGitHub } from "../test/fake-github/server.js";
import { freePort } from "../test/server-process.js";
import { ChildExited, startChild, waitReady, type Child } from "./child.js";
import { buildDeliveries, drive, keepAliveAgent, type Delivery } from "./load.js";
import { runPart } from "./run-part.js";
import { round, summarize, type Summary } from "./stats.js";

const DELIVERIES = 2_000;
/** Each server is measured this many times, the servers taking turns; figures are medians. */
const ROUNDS = roundsFromEnv();
const WARMUP = 200;
/** Sent after the timed deliveries, one at a time: the latency of a webhook that does not queue. */
const ONE_AT_A_TIME = 300;
const CONCURRENCY = 50;
const PULL_REQUESTS = 200;
const TARGET_P99_MS = 25;
const TARGET_RATIO = 1.5;
/** The whole bench gives up (and still cleans up) after this long. */
const DEADLINE_MS = 10 * 60_000;
const SECRET = "bench-webhook-secret";
const WEBHOOK_PATH = "/api/github/webhooks";

function roundsFromEnv(): number {
  const value = process.env.BENCH_ROUNDS ?? "5";
  const rounds = Number(value);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    console.error(`BENCH_ROUNDS must be a whole number from 1 to 20, not "${value}"`);
    process.exit(2);
  }
  return rounds;
}

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const BARE = fileURLToPath(new URL("./bare-probot.ts", import.meta.url));
const FLOOR = fileURLToPath(new URL("./floor-server.ts", import.meta.url));

interface Measured {
  summary: Summary;
  /** The same server answering deliveries one at a time: no queueing, only its own work. */
  alone: Summary;
  throughputPerS: number;
  statuses: Record<string, number>;
  /** The server's CPU time per timed delivery (user + system), when the OS tells. */
  serverCpuMsPerDelivery?: number;
  /** Requests the server's workers made to the fake GitHub while deliveries were being timed. */
  workerRequestsDuringRun: number;
  /** What the store holds afterwards: proof each delivery recorded a desire. */
  recorded?: { deliveries: number; previews: number; desiredGenerations: number } | { error: string };
}

interface RunResult {
  name: string;
  kind: "fly-preview" | "bare" | "floor";
  database?: "sqlite" | "postgresql";
  state: "measured" | "skipped" | "not run";
  reason?: string;
  /** One measurement per round, by round number. */
  rounds: Measured[];
  /** The medians over the rounds. */
  measured?: Measured;
}

type Config = Omit<RunResult, "rounds" | "measured" | "state" | "reason">;

/** Children still running, so an interrupt or a deadline can still kill them. */
const live = new Set<Child>();
/** Set by an interrupt or the deadline: from then on no new server starts. */
let stopping = false;
/** The fake GitHub, fake flyctl and temp dir: undone in reverse, exactly once. */
const cleanups: Array<() => unknown> = [];

async function cleanUp(): Promise<void> {
  for (const child of live) await child.kill();
  live.clear();
  while (cleanups.length) await cleanups.pop()!();
}

/**
 * Registers `undo` with the bench-wide clean-up and returns a function that runs it
 * now instead: a run undoes its own things when it ends, and an interrupt or the
 * deadline still undoes them if it never does.
 */
function deferred(undo: () => Promise<void>): () => Promise<void> {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    // Not there when cleanUp() popped it; splice(-1) would remove another one.
    const at = cleanups.indexOf(once);
    if (at >= 0) cleanups.splice(at, 1);
    await undo();
  };
  cleanups.push(once);
  return once;
}

function mergeStatuses(all: Array<Record<string, number>>): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const one of all) for (const [status, n] of Object.entries(one)) statuses[status] = (statuses[status] ?? 0) + n;
  return statuses;
}

async function measure(name: string, entry: string, env: Record<string, string>, readyPath: string, deliveries: readonly Delivery[], gh: FakeGitHub): Promise<Measured> {
  const port = await freePort();
  // Checked right before the spawn, with no await in between, so a child can never
  // start after the clean-up has killed the live ones.
  if (stopping) throw new Error("interrupted");
  const child = startChild(entry, { ...env, PORT: String(port) }, name);
  live.add(child);
  const agent = keepAliveAgent(CONCURRENCY);
  try {
    await waitReady(child, port, readyPath);
    const target = { port, path: WEBHOOK_PATH };
    // Warm-up: opens the keep-alive sockets and lets V8 optimise the hot path, the
    // state a long-running server is in when GitHub delivers.
    const warm = await drive(agent, target, deliveries.slice(0, WARMUP), CONCURRENCY);
    const warmFailures = Object.entries(warm.statuses).filter(([status]) => !status.startsWith("2"));
    if (warmFailures.length > 0) {
      throw new Error(`warm-up deliveries failed: ${JSON.stringify(Object.fromEntries(warmFailures))}; server output:\n${child.stderr().slice(-2000)}`);
    }
    await child.profile();
    const from = Date.now();
    const cpuBefore = child.cpuSeconds();
    const result = await drive(agent, target, deliveries.slice(WARMUP, WARMUP + DELIVERIES), CONCURRENCY);
    const cpuAfter = child.cpuSeconds();
    const to = Date.now();
    await child.profile();
    const alone = await drive(agent, target, deliveries.slice(WARMUP + DELIVERIES), 1);
    const workerRequestsDuringRun = gh.requests.filter((r) => r.at >= from && r.at <= to).length;
    return {
      summary: summarize(result.samplesNs),
      alone: summarize(alone.samplesNs),
      throughputPerS: DELIVERIES / (Number(result.wallNs) / 1e9),
      statuses: mergeStatuses([result.statuses, alone.statuses]),
      serverCpuMsPerDelivery: cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) * 1000) / DELIVERIES,
      workerRequestsDuringRun,
    };
  } finally {
    agent.destroy();
    await child.kill();
    live.delete(child);
  }
}

const COUNT_DELIVERIES = "select count(*) as n from deliveries";
const COUNT_PREVIEWS = "select count(*) as n, coalesce(sum(desired_generation), 0) as g from previews";

function recordedInSqlite(file: string): Measured["recorded"] {
  try {
    const db = new SQLite(file, { readonly: true });
    try {
      const d = db.prepare(COUNT_DELIVERIES).get() as { n: number };
      const p = db.prepare(COUNT_PREVIEWS).get() as { n: number; g: number };
      return { deliveries: Number(d.n), previews: Number(p.n), desiredGenerations: Number(p.g) };
    } finally {
      db.close();
    }
  } catch (error) {
    return { error: String(error) };
  }
}

async function recordedInPostgres(url: string): Promise<Measured["recorded"]> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const d = await client.query(COUNT_DELIVERIES);
    const p = await client.query(COUNT_PREVIEWS);
    return { deliveries: Number(d.rows[0].n), previews: Number(p.rows[0].n), desiredGenerations: Number(p.rows[0].g) };
  } catch (error) {
    return { error: String(error) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** A URL fit to print: the password is never shown. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

type Outcome = { state: "measured"; measured: Measured } | { state: "skipped" | "not run"; reason: string };

async function postgresRun(env: Record<string, string>, deliveries: readonly Delivery[], gh: FakeGitHub): Promise<Outcome> {
  const base = { state: "not run" as const };
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (!adminUrl) return { ...base, reason: "neither BENCH_DATABASE_URL nor TEST_DATABASE_URL is set" };
  // Our own random hex name: safe to put in the statement as an identifier.
  const name = `bench_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    await admin.end().catch(() => {});
    return { state: "skipped", reason: `could not create a database through ${redact(adminUrl)}: ${(error as Error).message}` };
  }
  const drop = deferred(async () => {
    await dropDatabase(admin, name);
    await admin.end().catch(() => {});
  });
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    try {
      const measured = await measure("postgresql", MAIN, { ...env, DATABASE_URL: url.toString() }, "/healthz", deliveries, gh);
      measured.recorded = await recordedInPostgres(url.toString());
      return { state: "measured", measured };
    } catch (error) {
      // A server that refuses the URL (one built without PostgreSQL support) is an
      // outcome to report, not a failure of the bench.
      if (error instanceof ChildExited) return { state: "skipped", reason: `the server refused it: ${error.reason}` };
      throw error;
    }
  } finally {
    await drop();
  }
}

async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  // The killed server's connections may take a moment to go; FORCE (PostgreSQL 13+)
  // ends any that remain, and the plain form is the fallback for older servers.
  for (const statement of [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, `DROP DATABASE IF EXISTS ${name}`]) {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await admin.query(statement);
        return;
      } catch (error) {
        if ((error as { code?: string }).code === "42601") break; // syntax: no FORCE here
        await sleep(200);
      }
    }
  }
  console.error(`warning: could not drop database ${name}; drop it by hand`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of each figure over the rounds; counts are summed. */
function medianOf(rounds: Measured[]): Measured {
  const of = (figure: (m: Measured) => number | undefined) => {
    const values = rounds.map(figure).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  const summaryOf = (which: (m: Measured) => Summary): Summary => ({
    count: rounds.reduce((sum, m) => sum + which(m).count, 0) / rounds.length,
    p50: of((m) => which(m).p50)!,
    p99: of((m) => which(m).p99)!,
    mean: of((m) => which(m).mean)!,
    max: of((m) => which(m).max)!,
    min: of((m) => which(m).min)!,
  });
  return {
    summary: summaryOf((m) => m.summary),
    alone: summaryOf((m) => m.alone),
    throughputPerS: of((m) => m.throughputPerS)!,
    statuses: mergeStatuses(rounds.map((m) => m.statuses)),
    serverCpuMsPerDelivery: of((m) => m.serverCpuMsPerDelivery),
    workerRequestsDuringRun: rounds.reduce((sum, m) => sum + m.workerRequestsDuringRun, 0),
  };
}

/**
 * Ratios to bare Probot are taken round by round (the two ran minutes apart at most)
 * and their median reported: steadier than a ratio of medians on a shared machine.
 */
function targetsOf(run: RunResult, bare?: RunResult): { ratioP50?: number; ratioP99?: number; checks: Array<{ target: string; met: boolean }> } {
  if (!run.measured || run.kind !== "fly-preview") return { checks: [] };
  const s = run.measured.summary;
  const paired = bare ? run.rounds.flatMap((m, i) => (m && bare.rounds[i] ? [[m.summary, bare.rounds[i].summary] as const] : [])) : [];
  const ratioP50 = paired.length ? median(paired.map(([a, b]) => a.p50 / b.p50)) : undefined;
  const ratioP99 = paired.length ? median(paired.map(([a, b]) => a.p99 / b.p99)) : undefined;
  const checks: Array<{ target: string; met: boolean }> = [];
  if (run.database === "sqlite") checks.push({ target: `p99 < ${TARGET_P99_MS} ms`, met: s.p99 < TARGET_P99_MS });
  if (ratioP50 !== undefined) checks.push({ target: `p50 ratio < ${TARGET_RATIO}`, met: ratioP50 < TARGET_RATIO });
  if (ratioP99 !== undefined) checks.push({ target: `p99 ratio < ${TARGET_RATIO}`, met: ratioP99 < TARGET_RATIO });
  const failed = Object.entries(run.measured.statuses).some(([status]) => !status.startsWith("2"));
  // Latencies of failed deliveries are not in the figures, so they could look good
  // for the wrong reason: such a run meets nothing.
  if (failed) for (const c of checks) c.met = false;
  return { ratioP50, ratioP99, checks };
}

function verdictOf(run: RunResult, checks: Array<{ target: string; met: boolean }>): string {
  if (run.kind === "bare") return "baseline";
  if (run.kind === "floor") return "reference";
  if (checks.length === 0) return "–";
  const missed = checks.filter((c) => !c.met).map((c) => c.target);
  return missed.length === 0 ? "yes, all" : `no: ${missed.join(", ")} missed`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(" | ")} |`;
  return [line(rows[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

function report(runs: RunResult[], started: Date, loadAtStart: number): void {
  const bare = runs.find((r) => r.kind === "bare" && r.measured);
  const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(2));
  const fmt3 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(3));
  const rows = [["run", "deliveries", "concurrency", "req/s", "server CPU ms/delivery", "p50 ms", "p99 ms", "mean ms", "max ms", "p50 ÷ bare", "p99 ÷ bare", "alone p50 ms", "alone p99 ms", "target met?"]];
  const json: unknown[] = [];
  for (const run of runs) {
    const t = targetsOf(run, bare);
    const m = run.measured;
    if (!m) {
      rows.push([run.name, "–", "–", "–", "–", "–", "–", "–", "–", "–", "–", "–", "–", `${run.state}: see below`]);
    } else {
      rows.push([run.name, `${ROUNDS} × ${m.summary.count}`, String(CONCURRENCY), m.throughputPerS.toFixed(0), fmt3(m.serverCpuMsPerDelivery), fmt(m.summary.p50), fmt(m.summary.p99), fmt(m.summary.mean), fmt(m.summary.max), fmt(t.ratioP50), fmt(t.ratioP99), fmt(m.alone.p50), fmt(m.alone.p99), verdictOf(run, t.checks)]);
    }
    json.push({
      run: run.name,
      kind: run.kind,
      database: run.database,
      state: run.state,
      reason: run.reason,
      ...(m && {
        rounds: ROUNDS,
        deliveriesPerRound: m.summary.count,
        concurrency: CONCURRENCY,
        throughputPerS: round(m.throughputPerS, 1),
        serverCpuMsPerDelivery: m.serverCpuMsPerDelivery === undefined ? undefined : round(m.serverCpuMsPerDelivery, 3),
        p50Ms: round(m.summary.p50, 3),
        p99Ms: round(m.summary.p99, 3),
        meanMs: round(m.summary.mean, 3),
        maxMs: round(m.summary.max, 3),
        minMs: round(m.summary.min, 3),
        aloneP50Ms: round(m.alone.p50, 3),
        aloneP99Ms: round(m.alone.p99, 3),
        p50RatioToBare: t.ratioP50 === undefined ? undefined : round(t.ratioP50, 3),
        p99RatioToBare: t.ratioP99 === undefined ? undefined : round(t.ratioP99, 3),
        targets: t.checks,
        statuses: m.statuses,
        workerRequestsDuringRun: m.workerRequestsDuringRun,
        perRound: run.rounds.map((r) => ({
          p50Ms: round(r.summary.p50, 3),
          p99Ms: round(r.summary.p99, 3),
          throughputPerS: round(r.throughputPerS, 1),
          serverCpuMsPerDelivery: r.serverCpuMsPerDelivery === undefined ? undefined : round(r.serverCpuMsPerDelivery, 3),
          recorded: r.recorded,
        })),
      }),
    });
  }

  console.log("");
  console.log(table(rows));
  console.log("");
  for (const run of runs) if (!run.measured) console.log(`${run.name}: ${run.state}: ${run.reason}`);
  for (const run of runs) {
    const m = run.measured;
    if (!m) continue;
    const bad = Object.entries(m.statuses).filter(([s]) => !s.startsWith("2"));
    if (bad.length) console.log(`${run.name}: WARNING: deliveries not acknowledged with 2xx: ${JSON.stringify(Object.fromEntries(bad))}`);
    const each = run.rounds.map((r) => `${fmt(r.summary.p50)}/${fmt(r.summary.p99)}`).join(", ");
    console.log(`${run.name}: p50/p99 ms by round: ${each}`);
    for (const [i, r] of run.rounds.entries()) {
      if (r.recorded && "error" in r.recorded) console.log(`  round ${i + 1}: could not read the store afterwards: ${r.recorded.error}`);
      else if (r.recorded) {
        const rec = r.recorded;
        console.log(
          `  round ${i + 1}: the store recorded ${rec.deliveries} delivery ids and ${rec.previews} pull requests with ${rec.desiredGenerations} desires in all ` +
            `(warm-up and one-at-a-time deliveries included); its workers made ${r.workerRequestsDuringRun} requests to the fake GitHub while deliveries were timed`,
        );
      }
    }
  }
  console.log("");
  console.log("Targets (the bench reports them; it does not fail on them):");
  for (const run of runs) {
    for (const c of targetsOf(run, bare).checks) console.log(`  ${c.met ? "MET   " : "MISSED"}  ${run.name}: ${c.target}`);
    if (run.kind === "fly-preview" && run.measured && !bare) console.log(`  ?       ${run.name}: ratios need the bare Probot run, which did not complete`);
  }
  console.log("");
  console.log(
    `Deliveries are pull_request.synchronize pushes of new commits to ${PULL_REQUESTS} pull requests; the fake GitHub has no .preview.yml ` +
      "at those commits, so the server's workers find nothing to deploy and what is timed is the webhook path (signature, parsing, handler, store writes).",
  );
  const cpus = os.cpus().length;
  console.log(`Load average (1 min) when the bench started: ${loadAtStart.toFixed(2)} on ${cpus} CPUs.`);
  // Client, fake GitHub and server share these CPUs; anything else running slows
  // all of them and makes the figures worse and noisier than on a quiet machine.
  if (loadAtStart > cpus / 2) {
    console.log("WARNING: the machine was busy when the bench started (other work, or a bench run just before); figures are slower and noisier than on a quiet machine.");
  }
  const pgVariable = process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL" : process.env.TEST_DATABASE_URL ? "TEST_DATABASE_URL" : undefined;
  console.log("");
  console.log(
    JSON.stringify(
      {
        date: started.toISOString(),
        command: pgVariable ? `${pgVariable}=${redact(process.env[pgVariable]!)} npm run bench` : "npm run bench",
        machine: {
          node: process.version,
          cpus,
          cpuModel: os.cpus()[0]?.model,
          platform: `${os.platform()} ${os.release()} ${os.arch()}`,
          memoryGiB: round(os.totalmem() / 2 ** 30, 1),
          loadAverage1mAtStart: round(loadAtStart),
        },
        settings: { rounds: ROUNDS, deliveries: DELIVERIES, warmup: WARMUP, oneAtATime: ONE_AT_A_TIME, concurrency: CONCURRENCY, pullRequests: PULL_REQUESTS, client: "node:http Agent, keepAlive, maxSockets 50" },
        runs: json,
      },
      null,
      2,
    ),
  );
}

async function main(): Promise<RunResult[]> {
  const tmp = mkdtempSync(join(os.tmpdir(), "fly-preview-bench-"));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const gh = await startFakeGitHub();
  cleanups.push(() => gh.close());
  const fly = await createFakeFly();
  cleanups.push(() => fly.cleanup());
  try {
    const { privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
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
    // The same bodies and ids for every run (each run has a fresh store), so the
    // runs differ only in the server that answers.
    const deliveries = buildDeliveries(WARMUP + DELIVERIES + ONE_AT_A_TIME, PULL_REQUESTS, SECRET, `bench-${randomBytes(4).toString("hex")}`);
    const dbFile = (round: number) => join(tmp, `bench-${round}.db`);
    const configs: Array<Config & { run(round: number): Promise<Outcome> }> = [
      {
        name: "fly-preview, SQLite",
        kind: "fly-preview",
        database: "sqlite",
        run: async (round) => {
          const measured = await measure("sqlite", MAIN, { ...env, DATABASE_URL: `file:${dbFile(round)}` }, "/healthz", deliveries, gh);
          measured.recorded = recordedInSqlite(dbFile(round));
          return { state: "measured", measured };
        },
      },
      { name: "fly-preview, PostgreSQL", kind: "fly-preview", database: "postgresql", run: () => postgresRun(env, deliveries, gh) },
      { name: "bare Probot", kind: "bare", run: async () => ({ state: "measured", measured: await measure("bare", BARE, env, "/ping", deliveries, gh) }) },
      {
        name: "floor: node:http, no app",
        kind: "floor",
        run: async () => ({ state: "measured", measured: await measure("floor", FLOOR, env, "/ping", deliveries, gh) }),
      },
    ];
    const runs: RunResult[] = configs.map(({ run: _, ...config }) => ({ ...config, state: "measured", rounds: [] }));
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with a different server, so none always runs first (or last).
      for (let k = 0; k < configs.length; k++) {
        const at = (round + k) % configs.length;
        const run = runs[at];
        if (run.state !== "measured") continue;
        console.log(`round ${round + 1} of ${ROUNDS}: ${run.name}: ${WARMUP} warm-up + ${DELIVERIES} deliveries at concurrency ${CONCURRENCY}…`);
        const outcome = await configs[at].run(round);
        if (outcome.state === "measured") run.rounds[round] = outcome.measured;
        else Object.assign(run, { state: outcome.state, reason: outcome.reason, rounds: [] });
      }
    }
    for (const run of runs) if (run.state === "measured") run.measured = medianOf(run.rounds);
    return runs;
  } finally {
    await cleanUp();
  }
}

await runPart({
  name: "bench",
  deadlineMs: DEADLINE_MS,
  main,
  report,
  stop: async () => {
    stopping = true;
    await cleanUp();
  },
});

// The shared pace of GitHub writes: each installation's next write slot lives in the
// store, so processes sharing it keep GitHub's one-write-a-second pace together, and a
// rate-limit answer to one process pauses them all. Two stores opened on one database
// stand for two processes; Probot's throttling is on, as in production.
import { getEventListeners } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { isContentWrite } from "../bench/surfaces.js";
import { httpStatus } from "../src/github/octokit.js";
import { MAX_WAIT_MS, paceWrites, pauseOf, writeSlotFree } from "../src/github/write-pace.js";
import { openStore, type Store } from "../src/store/store.js";
import { DIALECTS, type TestDatabase } from "./databases.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/server.js";
import { sha, TEST_PRIVATE_KEY, until } from "./harness.js";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

/** A database that several stores can open, as several processes would. */
async function sharedDatabase(database: TestDatabase): Promise<string> {
  if (database.dialect === "postgres") {
    const created = await database.create();
    cleanups.push(() => created.drop());
    return created.url;
  }
  const dir = await mkdtemp(join(tmpdir(), "fly-preview-pace-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return `file:${join(dir, "pace.db")}`;
}

async function open(url: string): Promise<Store> {
  const store = await openStore(url);
  cleanups.push(() => store.close());
  return store;
}

const log = pino({ level: "silent" });

/** One process's installation Octokit: its own Probot (and throttling), its own store. */
async function processOctokit(gh: FakeGitHub, store: Store, { retry = true } = {}) {
  const Octokit = ProbotOctokit.defaults((options: any) => ({ ...options, retry: { enabled: retry } }));
  const probot = new Probot({ appId: 1, privateKey: TEST_PRIVATE_KEY, baseUrl: `${gh.url}/api/v3`, log, Octokit });
  return paceWrites(await probot.auth(1), 1, { pace: store, spacingMs: 1000, log });
}

const where = { owner: "Codertocat", repo: "Hello-World" };
const comment = (n: number) => ({ ...where, issue_number: 2, body: `comment ${n}` });
const checkRun = (n: number) => ({ ...where, name: "preview", head_sha: sha(n), status: "queued" as const });

const writeTimes = (gh: FakeGitHub) => gh.requests.filter(isContentWrite).map((r) => r.at).sort((a, b) => a - b);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

describe.each(DIALECTS)("the GitHub write pace on $dialect", (database) => {
  it("gives concurrent write claims of one installation slots a second apart, and another installation its own", async () => {
    const url = await sharedDatabase(database);
    const [a, b] = [await open(url), await open(url)];
    const waits = await Promise.all([a, b, a, b, a].map((store) => store.claimWriteSlot(1, 1000, 60_000)));
    const other = await b.claimWriteSlot(2, 1000, 60_000);

    // Each wait is from its own claim's moment, a few ms apart: slot k is k seconds out.
    expect(waits.map((w) => Math.round((w ?? NaN) / 1000)).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(other).toBe(0);
  });

  it("claims no slot further away than the caller would wait", async () => {
    const store = await open(await sharedDatabase(database));
    await store.pauseWrites(1, 5000);

    expect(await store.claimWriteSlot(1, 1000, 3000)).toBeUndefined();
    expect(await store.claimWriteSlot(1, 1000, 3000)).toBeUndefined();
    // The refused claims took nothing: the next slot is still the one the pause left.
    const wait = await store.claimWriteSlot(1, 1000, 60_000);
    expect(wait).toBeGreaterThan(4000);
    expect(wait).toBeLessThanOrEqual(5000);
  });

  it("tells how long until an installation's next slot is free without claiming it", async () => {
    const url = await sharedDatabase(database);
    const [a, b] = [await open(url), await open(url)];
    expect(await a.writeSlotWait(1)).toBe(0);
    expect(await a.claimWriteSlot(1, 1000, 60_000)).toBe(0);
    const wait = await b.writeSlotWait(1);
    expect(wait).toBeGreaterThan(900);
    expect(wait).toBeLessThanOrEqual(1000);
    expect(await b.writeSlotWait(1)).toBeLessThanOrEqual(wait);
    // Reading took nothing: the next claim gets that slot, not the one after.
    expect(Math.round((await a.claimWriteSlot(1, 1000, 60_000))! / 1000)).toBe(1);
    await a.pauseWrites(1, 5000);
    expect(await b.writeSlotWait(1)).toBeGreaterThan(4900);
    expect(await b.writeSlotWait(2)).toBe(0);
  });

  it("holds an installation's next slot until a pause ends, and a shorter pause does not cut it", async () => {
    const url = await sharedDatabase(database);
    const [a, b] = [await open(url), await open(url)];
    await a.pauseWrites(1, 5000);
    await a.pauseWrites(1, 10);

    expect(await b.claimWriteSlot(1, 1000, 60_000)).toBeGreaterThan(4900);
    expect(await b.claimWriteSlot(2, 1000, 60_000)).toBe(0);
  });

  it("sends one installation's writes from two processes a second apart, each a second after the last", async () => {
    const gh = await startFakeGitHub();
    cleanups.push(() => gh.close());
    const url = await sharedDatabase(database);
    const [one, two] = [await processOctokit(gh, await open(url)), await processOctokit(gh, await open(url))];

    // Comments go through a slower lane of Probot's throttling than other writes, so
    // alone it lets a comment and a check run leave together.
    await Promise.all([
      one.rest.issues.createComment(comment(1)),
      one.rest.checks.create(checkRun(1)),
      two.rest.issues.createComment(comment(2)),
      two.rest.checks.create(checkRun(2)),
      two.rest.checks.create(checkRun(3)),
    ]);

    const times = writeTimes(gh);
    expect(times).toHaveLength(5);
    // A little under a second: the fake records when a request arrived, a few ms after it left.
    expect(Math.min(...gaps(times))).toBeGreaterThanOrEqual(950);
    // The pace and Probot's lanes do not add up: five writes take about four seconds, not eight.
    expect(times[4] - times[0]).toBeLessThan(5000);
  }, 30_000);

  it("pauses every process's writes for an installation when GitHub answers one with a secondary rate limit, then resumes", async () => {
    const gh = await startFakeGitHub();
    cleanups.push(() => gh.close());
    const url = await sharedDatabase(database);
    const [one, two] = [await processOctokit(gh, await open(url)), await processOctokit(gh, await open(url))];
    // GitHub's answer to a secondary rate limit ("Rate limits for the REST API").
    gh.failNext("POST", "/api/v3/repos/Codertocat/Hello-World/check-runs", 403, 1, {
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      headers: { "retry-after": "2" },
    });

    // Probot's throttling does not retry a secondary limit: the write fails, and the
    // pool or the write queue tries it again later (`worthRetrying`, src/github/octokit.ts).
    const refused = one.rest.checks.create(checkRun(1)).then(() => undefined, (error: unknown) => error);
    const limited = await until("the rate-limited write", () => gh.requests.find(isContentWrite));
    expect(await refused).toMatchObject({ status: 403 });
    await Promise.all([one.rest.checks.create(checkRun(1)), two.rest.checks.create(checkRun(2)), two.rest.issues.createComment(comment(1))]);

    const after = writeTimes(gh).filter((at) => at > limited.at);
    expect(after).toHaveLength(3);
    expect(after[0] - limited.at).toBeGreaterThanOrEqual(1950);
    // The slots are a second apart; arrival times at the fake also carry the event loop's
    // delays of a loaded machine (943 ms seen once during a full parallel run).
    expect(Math.min(...gaps(after))).toBeGreaterThanOrEqual(900);
    expect(gh.checkRuns.map((r) => r.head_sha).sort()).toEqual([sha(1), sha(2)]);
  }, 30_000);

  it("gives up a write whose slot is more than a minute away unsent, as a failure the worker retries", async () => {
    const gh = await startFakeGitHub();
    cleanups.push(() => gh.close());
    const store = await open(await sharedDatabase(database));
    // Without Probot's retries (1, 4 and 9 s later), which would each be refused alike.
    const octokit = await processOctokit(gh, store, { retry: false });
    await store.pauseWrites(1, MAX_WAIT_MS + 5000);

    const error = await octokit.rest.checks.create(checkRun(1)).then(() => undefined, (e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/GitHub writes of installation 1 are paused or queued more than 60 s ahead/);
    // Octokit reports a request that never got an answer as a 500: a passing failure
    // to the worker pool (src/preview/pool.ts, isPassing), which tries it again later.
    expect(httpStatus(error)).toBe(500);
    expect(gh.requests.filter(isContentWrite)).toEqual([]);
  });
});

// GitHub's "Rate limits for the REST API", "Exceeding the rate limit": a rate limit is
// answered with 403 or 429; wait `retry-after` seconds when sent, else until
// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0, else at least a minute.
describe("how long GitHub's answer asks an installation's writes to pause", () => {
  const answer = (status: number, headers: Record<string, string> = {}, message = "") =>
    new Response(JSON.stringify({ message }), { status, headers: { "content-type": "application/json", ...headers } });

  it("429 and 403 with retry-after: that long; 429 without: a minute", async () => {
    expect(await pauseOf(answer(429, { "retry-after": "7" }))).toBe(7000);
    expect(await pauseOf(answer(403, { "retry-after": "3" }))).toBe(3000);
    expect(await pauseOf(answer(429))).toBe(60_000);
  });

  it("a spent primary limit: until its reset, and a second more", async () => {
    const reset = Math.floor(Date.now() / 1000) + 30;
    const pause = await pauseOf(answer(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }));
    expect(pause).toBeGreaterThan(29_000);
    expect(pause).toBeLessThanOrEqual(31_000);
  });

  it("a 403 naming the secondary limit: a minute; any other 403, or another status, is no pause", async () => {
    expect(await pauseOf(answer(403, {}, "You have exceeded a secondary rate limit."))).toBe(60_000);
    expect(await pauseOf(answer(403, {}, "Resource not accessible by integration"))).toBeUndefined();
    expect(await pauseOf(answer(502, { "retry-after": "5" }))).toBeUndefined();
    expect(await pauseOf(answer(201))).toBeUndefined();
  });

  it("a 429 answer to one process pushes the installation's next write slot past its retry-after for every process", async () => {
    const gh = await startFakeGitHub();
    cleanups.push(() => gh.close());
    const dir = await mkdtemp(join(tmpdir(), "fly-preview-pace-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const url = `file:${join(dir, "pace.db")}`;
    const [one, other] = [await open(url), await open(url)];
    gh.failNext("POST", "/api/v3/repos/Codertocat/Hello-World/check-runs", 429, 1, { message: "Too many requests", headers: { "retry-after": "20" } });

    const octokit = await processOctokit(gh, one, { retry: false });
    const error = await octokit.rest.checks.create(checkRun(1)).then(() => undefined, (e: unknown) => e);

    expect(httpStatus(error)).toBe(429);
    const wait = await other.claimWriteSlot(1, 1000, 60_000);
    expect(wait).toBeGreaterThan(19_000);
    expect(wait).toBeLessThanOrEqual(20_000);
  });
});

describe("waiting for an installation's next write slot without claiming it", () => {
  /** A pace whose next slot is `waits[i]` ms away at the i-th look. */
  const pace = (waits: number[]) => {
    const looks: number[] = [];
    return { looks, writeSlotWait: async () => (looks.push(Date.now()), waits[Math.min(looks.length - 1, waits.length - 1)]) };
  };

  it("waits until the slot is free, again when another process took it meanwhile; leaves nothing on the signal", async () => {
    const p = pace([150, 100, 0]);
    const signal = new AbortController().signal;
    const started = Date.now();
    await writeSlotFree(p, 1, signal);
    expect(p.looks).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    // The queue's signal lives until it stops: a wait that ended keeps no listener on it.
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
  });

  it("does not wait for a slot further away than a write may wait (the write's claim refuses it)", async () => {
    const p = pace([MAX_WAIT_MS + 1]);
    const started = Date.now();
    await writeSlotFree(p, 1);
    expect(p.looks).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it("stops waiting as soon as the signal aborts", async () => {
    const stop = new AbortController();
    const waiting = writeSlotFree(pace([30_000]), 1, stop.signal).then(() => "slot", (e: Error) => e.message);
    setTimeout(() => stop.abort(new Error("stopped")), 50);
    const started = Date.now();
    expect(await waiting).toBe("stopped");
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

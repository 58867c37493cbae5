// One fake world per test: a fake GitHub over HTTP, a fake flyctl on disk, a real
// Probot with our app loaded, a real SQLite store in a temp dir, and a health-check
// fetch that answers for *.fly.dev as the test says.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Probot, ProbotOctokit } from "probot";
import { flyPreview, type AppOptions, type Runtime } from "../src/app.js";
import type { PoolOptions } from "../src/preview/pool.js";
import { readSettings, type Settings } from "../src/settings.js";
import { openStore, type PullRequestInfo } from "../src/store/store.js";
import { createFakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub } from "./fake-github/server.js";

export const REPO = "Codertocat/Hello-World";
export const { privateKey: TEST_PRIVATE_KEY } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

export const DOCKERFILE = 'FROM nginx:alpine\nEXPOSE 8080\n';
/** The store's view of a pull request (acme/web#7 by default), for tests that write the store directly. */
export function prInfo(over: Partial<PullRequestInfo> = {}): PullRequestInfo {
  const number = over.number ?? 7;
  return {
    installationId: 1,
    owner: "acme",
    repo: "web",
    number,
    appName: `pr-${number}-acme-web`,
    headSha: "a".repeat(40),
    headRef: "feature",
    baseRef: "main",
    draft: false,
    labels: [],
    fork: false,
    ...over,
  };
}

/** PR #`number` of the fixtures' repository (Codertocat/Hello-World) at sha(number). */
export function helloWorldPr(number: number): PullRequestInfo {
  return prInfo({
    owner: "Codertocat",
    repo: "Hello-World",
    number,
    appName: `pr-${number}-codertocat-hello-world`,
    headSha: sha(number),
    headRef: `feature-${number}`,
    baseRef: "master",
  });
}

export const PREVIEW_YML = "port: 8080\nhealth:\n  path: /healthz\n  timeout: 2s\n";

type Action = "opened" | "synchronize" | "closed" | "reopened" | "labeled" | "unlabeled" | "ready_for_review" | "converted_to_draft";

export function fixture(action: Action): any {
  return JSON.parse(readFileSync(new URL(`./fixtures/pull_request.${action}.json`, import.meta.url), "utf8"));
}

/** A real pull_request payload with the commit, number and labels a test needs. */
export function pullRequest(
  action: Action,
  over: { sha: string; number?: number; labels?: string[]; draft?: boolean; owner?: string; repo?: string; fork?: boolean },
): any {
  const payload = fixture(action);
  const pr = payload.pull_request;
  pr.head.sha = over.sha;
  if (over.fork) pr.head.repo = { ...pr.head.repo, full_name: "stranger/Hello-World", owner: { ...pr.head.repo.owner, login: "stranger" } };
  if (over.number !== undefined) {
    pr.number = over.number;
    payload.number = over.number;
  }
  if (over.labels) pr.labels = over.labels.map((name, i) => ({ ...pr.labels[0], id: i + 1, name }));
  if (over.draft !== undefined) pr.draft = over.draft;
  if (over.owner) payload.repository.owner.login = over.owner;
  if (over.repo) payload.repository.name = over.repo;
  payload.repository.full_name = `${payload.repository.owner.login}/${payload.repository.name}`;
  return payload;
}

export function load(name: string): any {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8"));
}

/** A real issue_comment payload, on PR #2 unless `onIssue`, written by `user`. */
export function issueComment(
  body: string,
  over: { user?: string; userType?: "User" | "Bot"; action?: "created" | "edited"; onIssue?: boolean; id?: number } = {},
): any {
  const payload = load(`issue_comment.${over.action ?? "created"}`);
  payload.installation ??= { id: 1, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" };
  payload.issue.number = 2;
  if (over.onIssue) delete payload.issue.pull_request;
  else payload.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/2" };
  payload.comment.body = body;
  payload.comment.id = over.id ?? Math.floor(Math.random() * 1e9);
  const user = { ...payload.sender, login: over.user ?? "Codertocat", type: over.userType ?? "User" };
  payload.comment.user = user;
  payload.sender = user;
  payload.repository = fixture("opened").repository;
  return payload;
}

/** A real check_run payload for our check run of `previewId`, pressed by `user`. */
export function checkRun(
  action: "requested_action" | "rerequested",
  over: { previewId: number; identifier?: string; user?: string; headSha?: string },
): any {
  const payload = load(`check_run.${action}`);
  payload.check_run.name = "Fly Preview";
  if (over.headSha) payload.check_run.head_sha = over.headSha;
  payload.check_run.external_id = String(over.previewId);
  payload.check_run.pull_requests = [];
  if (over.identifier) payload.requested_action = { identifier: over.identifier };
  payload.sender = { ...payload.sender, login: over.user ?? "Codertocat", type: "User" };
  payload.repository = fixture("opened").repository;
  payload.installation = { id: 1, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" };
  return payload;
}

export function sha(n: number): string {
  return n.toString(16).padStart(40, "a");
}

export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface LogRecord {
  level: string;
  msg?: string;
  [key: string]: unknown;
}

/** A pino-shaped logger that keeps every record, with its bindings, for assertions. */
function recordingLogger(records: LogRecord[], bindings: Record<string, unknown> = {}): any {
  const write = (level: string) => (first?: unknown, second?: unknown) => {
    const fields = typeof first === "object" && first !== null ? (first as Record<string, unknown>) : {};
    const msg = typeof first === "string" ? first : typeof second === "string" ? second : undefined;
    records.push({ ...bindings, ...fields, level, msg });
  };
  return {
    level: "trace",
    child: (more: Record<string, unknown>) => recordingLogger(records, { ...bindings, ...more }),
    trace: write("trace"),
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    fatal: write("fatal"),
    isLevelEnabled: () => true,
  };
}

export interface WorldOptions {
  env?: Record<string, string | undefined>;
  pool?: Partial<PoolOptions>;
  resync?: AppOptions["resync"];
  /** The status *.fly.dev answers with; default 200. */
  health?: (url: string) => number;
  killGraceMs?: number;
  /** The time the app sees (TTL tests move it forward). */
  clock?: () => number;
}

export type World = Awaited<ReturnType<typeof startWorld>>;

export async function startWorld(options: WorldOptions = {}) {
  const gh = await startFakeGitHub();
  const fly = await createFakeFly();
  const dir = await mkdtemp(join(tmpdir(), "fly-preview-test-"));
  const settings: Settings = readSettings({
    FLY_API_TOKEN: "fo1_test_token_value",
    FLYCTL_PATH: fly.path,
    DATABASE_URL: `file:${join(dir, "test.db")}`,
    PREVIEW_CONCURRENCY: "2",
    // Like Probot's throttling below: a second per write would make every test slow.
    PREVIEW_WRITE_SPACING: "0",
    ...options.env,
  });
  const store = await openStore(settings.databaseUrl, options.clock);
  const healthCalls: string[] = [];
  const logs: LogRecord[] = [];
  const fakeFetch = (async (input: string | URL | Request) => {
    const url = String(input instanceof Request ? input.url : input);
    healthCalls.push(url);
    return new Response("ok", { status: options.health?.(url) ?? 200 });
  }) as typeof fetch;

  const probot = new Probot({
    appId: 1,
    privateKey: TEST_PRIVATE_KEY,
    baseUrl: `${gh.url}/api/v3`,
    log: recordingLogger(logs),
    // A function, not an object: Probot layers its own throttle options over object
    // defaults, and the one-write-per-second spacing would make every test slow.
    Octokit: ProbotOctokit.defaults((options: any) => ({
      ...options,
      throttle: { ...options.throttle, enabled: false },
      retry: { enabled: false },
    })),
  });
  let runtime!: Runtime;
  await probot.load(
    flyPreview({
      settings,
      store,
      pool: { pollMs: 25, settleMs: 40, leaseMs: 3000, ...options.pool },
      flyctl: { retry: { attempts: 3, baseDelayMs: 10 }, killGraceMs: options.killGraceMs ?? 500 },
      fetch: fakeFetch,
      healthIntervalMs: 20,
      resync: options.resync,
      clock: options.clock,
      onStarted: (r) => (runtime = r),
    }),
  );

  const world = {
    gh,
    fly,
    probot,
    store,
    settings,
    healthCalls,
    logs,
    get pool() {
      return runtime.pool;
    },
    get flyctl() {
      return runtime.flyctl;
    },
    get metrics() {
      return runtime.metrics;
    },
    /** Files of a commit of the test repository (Dockerfile and .preview.yml by default). */
    commit(commitSha: string, files: Record<string, string> = { Dockerfile: DOCKERFILE, ".preview.yml": PREVIEW_YML }, repo = REPO) {
      gh.setCommit(repo, commitSha, files);
    },
    async deliver(payload: any, id: string = randomUUID()) {
      await probot.receive({ id, name: "pull_request", payload } as any);
    },
    async deliverEvent(
      name: "issue_comment" | "check_run" | "installation" | "installation_repositories",
      payload: any,
      id: string = randomUUID(),
    ) {
      await probot.receive({ id, name, payload } as any);
    },
    /** Every command recorded so far has been carried out. */
    async commandsDone() {
      return until("commands to be carried out", async () => {
        const pending = await store.db.selectFrom("commands").select("id").where("done_at", "is", null).execute();
        return pending.length === 0;
      });
    },
    reactionsTo(commentId: number) {
      return gh.reactions.filter((r) => r.commentId === commentId).map((r) => r.content);
    },
    /** The preview row, once the worker has caught up with every desire and GitHub shows it. */
    async settled(number = 2, owner = "Codertocat", repo = "Hello-World") {
      return until(`preview #${number} to settle`, async () => {
        const row = await store.get(owner, repo, number);
        if (!row || row.observed_generation !== row.desired_generation || row.lease_owner !== null) return undefined;
        // …and GitHub has been told: the write queue has nothing left to send for it.
        return (await store.surfaceWrites.pending(row.id)) === 0 ? row : undefined;
      });
    },
    /**
     * A pull request with `apps:`: its own row and every app's row settled, and GitHub told
     * of each. Returns the apps' rows by app key.
     */
    async settledApps(number = 2, owner = "Codertocat", repo = "Hello-World") {
      return until(`the apps of #${number} to settle`, async () => {
        const own = await store.get(owner, repo, number);
        const apps = await store.appsOf(owner, repo, number);
        const rows = own ? [own, ...apps] : [];
        if (apps.length === 0 || rows.some((row) => row.observed_generation !== row.desired_generation || row.lease_owner !== null)) return undefined;
        for (const row of rows) if ((await store.surfaceWrites.pending(row.id)) !== 0) return undefined;
        return Object.fromEntries(apps.map((row) => [row.app_key, row]));
      });
    },
    comments(issue = `${REPO}#2`) {
      return gh.comments.filter((c) => c.issue === issue);
    },
    deploys() {
      return fly.calls().filter((c) => c.argv[0] === "deploy");
    },
    async close() {
      await runtime?.pool.stop();
      await store.close();
      await gh.close();
      await fly.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

// A preview's own database (a Neon branch, or a database on a Fly Postgres cluster), end
// to end: the real app (test/harness.ts) with the fake Neon API (test/fake-neon/) and the
// fake flyctl. Made before the first deploy, its
// pooled URL staged as a secret (never in argv, logs or on GitHub), reused by a push,
// reset by `/preview reset-db`, deleted when the pull request closes, swept by the reaper
// when a crash left it behind.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../src/config/index.js";
import { ensureNeonBranch } from "../src/database/neon.js";
import type { Flyctl } from "../src/fly/index.js";
import { Metrics } from "../src/metrics/metrics.js";
import { ensureDatabase, type DatabaseDeps } from "../src/preview/database.js";
import { reap } from "../src/preview/reaper.js";
import type { SecretStore } from "../src/secrets/index.js";
import type { Preview, Store } from "../src/store/store.js";
import { startFakeNeon, type FakeNeon } from "./fake-neon/server.js";
import { DOCKERFILE, issueComment, pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

const KEY = "neon-test-key-0123456789";
const PROJECT = "proud-fog-123456";
const BRANCH = "preview/pr-2";
const WRITER = "maintainer-mo";
const APP = "pr-2-codertocat-hello-world";
const CONFIG = `health:\n  timeout: 2s\ndatabase:\n  neon:\n    project: ${PROJECT}\n`;

let world: World;
let neon: FakeNeon;
afterEach(async () => {
  await world?.close();
  await neon?.close();
});

async function neonWorld(options: { fork?: boolean; retryDelaysMs?: number[]; clock?: () => number } = {}) {
  neon = await startFakeNeon({ keys: [KEY], operationMs: 5 });
  neon.addProject(PROJECT, { tables: ["users"], rows: ["alice", "bob"] });
  world = await startWorld({
    env: { NEON_API_KEY: KEY, NEON_API_URL: neon.url, PREVIEW_DATABASES: `neon:${PROJECT} fly_postgres:acme-preview-db` },
    ...(options.retryDelaysMs ? { pool: { retryDelaysMs: options.retryDelaysMs } } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  world.gh.setPermission(REPO, WRITER, "write");
  world.gh.setPull(REPO, 2, { headSha: sha(1) });
  for (const n of [1, 2, 3]) world.commit(sha(n), { Dockerfile: DOCKERFILE, ".preview.yml": CONFIG });
  if (options.fork) world.gh.setCommit(REPO, "master", { ".preview.yml": `${CONFIG}forks: approve\n` });
}

/** fly_preview_database_operations_total, as "provider operation result" → count. */
async function operations(): Promise<Record<string, number>> {
  const metric = await world.metrics.registry.getSingleMetric("fly_preview_database_operations_total")!.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.provider} ${v.labels.operation} ${v.labels.result}`, v.value]));
}

const digest = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 16);
const creates = () => neon.requests.filter((r) => r.method === "POST" && /\/projects\/[^/]+\/branches$/.test(r.path));

/** Everything GitHub and the logs got, and every flyctl argv: none may hold the URL or the key. */
function expectNoSecret(secret: string) {
  const github = JSON.stringify(world.gh.requests.map((r) => r.body));
  expect(github).not.toContain(secret);
  expect(JSON.stringify(world.logs)).not.toContain(secret);
  for (const call of world.fly.calls()) expect(call.argv.join(" ")).not.toContain(secret);
}

describe("a Neon branch per pull request", () => {
  it("is made before the first deploy, staged as DATABASE_URL, reused by a push, reset by command, and deleted on close", async () => {
    await neonWorld();
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");

    const branch = neon.branch(PROJECT, BRANCH)!;
    expect(branch).toBeDefined();
    // Before flyctl deploy: the create is recorded by the fake before the deploy started.
    expect(creates()).toHaveLength(1);
    expect(creates()[0].at).toBeLessThan(Date.parse(world.deploys()[0].startedAt));
    const staged = world.fly.apps()[APP].secrets.DATABASE_URL;
    expect(staged).toBeDefined();
    // The URL the driver gets for that branch (a second ensure reuses it) is what was staged.
    const { url } = await ensureNeonBranch({ apiKey: KEY, baseUrl: neon.url, project: PROJECT, name: BRANCH, schemaOnly: false });
    expect(url).toContain("-pooler");
    expect(staged.digest).toBe(digest(url));
    expectNoSecret(url);
    expectNoSecret(KEY);
    for (const password of neon.passwords()) expectNoSecret(password);
    // The comment and the check run name the branch and its parent, never the URL.
    const comment = world.comments()[0].body;
    expect(comment).toContain(`Neon branch \`${BRANCH}\` of \`main\``);
    expect(world.gh.checkRuns[0].output?.summary).toContain(`**Database:** Neon branch \`${BRANCH}\``);

    // A push deploys against the same branch.
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    expect((await world.settled()).deployed_sha).toBe(sha(2));
    expect(creates()).toHaveLength(1);
    expect(neon.branch(PROJECT, BRANCH)!.id).toBe(branch.id);

    // Writes in the branch, then /preview reset-db: the parent's rows again, and a redeploy.
    neon.write(PROJECT, BRANCH, "mallory");
    const deploysBefore = world.deploys().length;
    await world.deliverEvent("issue_comment", issueComment("/preview reset-db", { user: WRITER }));
    await world.commandsDone();
    await until("the redeploy after the reset", () => world.deploys().length > deploysBefore);
    expect((await world.settled()).reset_db).toBe(0);
    expect(neon.requests.some((r) => r.method === "POST" && r.path.endsWith("/restore"))).toBe(true);
    expect(neon.branch(PROJECT, BRANCH)!.rows).toEqual(["alice", "bob"]);

    await world.deliver(pullRequest("closed", { sha: sha(2) }));
    expect((await world.settled()).status).toBe("destroyed");
    expect(neon.branch(PROJECT, BRANCH)).toBeUndefined();
    expect(await world.store.databaseOf((await world.settled()).id)).toBeUndefined();
    // Each of the three deploys (open, push, after the reset) ensured the branch before flyctl ran.
    expect(await operations()).toEqual({ "neon ensure ok": 3, "neon reset ok": 1, "neon drop ok": 1 });
  });

  it("only in a project the operator listed: a pull request cannot copy another project's data", async () => {
    await neonWorld();
    neon.addProject("prod-data-999999", { tables: ["users"], rows: ["ceo"] });
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "database:\n  neon:\n    project: prod-data-999999\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("add neon:prod-data-999999 to PREVIEW_DATABASES");
    expect(neon.requests).toEqual([]);
  });

  it("the plan's branch limit fails the check run with Neon's message, and deploys nothing", async () => {
    await neonWorld();
    neon.limits.branches = 1;
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("failed");
    expect(row.last_error).toMatch(/branches limit exceeded/i);
    expect(world.deploys()).toHaveLength(0);
    const check = await until("the failed check run", () => world.gh.checkRuns.find((c) => c.conclusion === "failure"));
    expect(check.output?.summary).toMatch(/branches limit exceeded/i);
    expect(await operations()).toEqual({ "neon ensure refused": 1 });
  });

  it("Neon failing for a passing reason (503) is retried like a transient flyctl failure, and the deploy then goes through", async () => {
    await neonWorld({ retryDelaysMs: [150, 150] });
    neon.failNext("POST", `/projects/${PROJECT}/branches`, 503, { code: "", message: "service unavailable" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const waiting = await until("a retry to be scheduled", async () => {
      const row = await world.store.get("Codertocat", "Hello-World", 2);
      return row?.retry_attempts === 1 ? row : undefined;
    });
    expect(waiting.status).toBe("queued");
    expect(waiting.last_error).toMatch(/^The database provider is failing \(Neon's API failed to create the branch preview\/pr-2 \(Neon answered HTTP 503: "service unavailable"\)\.\)/);
    expect(world.deploys()).toHaveLength(0);

    const row = await world.settled();
    expect(row).toMatchObject({ status: "ready", retry_attempts: 1 });
    expect(neon.branch(PROJECT, BRANCH)).toBeDefined();
    expect(world.deploys()).toHaveLength(1);
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
  });

  it("is never shared with another repository's pull request of the same number using the same project", async () => {
    await neonWorld();
    const OTHER = "Codertocat/Other";
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": CONFIG }, OTHER);
    world.gh.setPull(OTHER, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");
    neon.write(PROJECT, BRANCH, "Hello-World's own row");

    // Codertocat/Other#2 would be preview/pr-2 too: refused, not handed Hello-World's branch.
    await world.deliver(pullRequest("opened", { sha: sha(1), repo: "Other" }));
    const other = await world.settled(2, "Codertocat", "Other");
    expect(other.status).toBe("failed");
    expect(other.last_error).toContain(`Neon branch ${BRANCH} of project ${PROJECT} is already the database of another preview`);
    expect(world.fly.apps()["pr-2-codertocat-other"]?.secrets.DATABASE_URL).toBeUndefined();

    // Nor does Other's /preview reset-db restore Hello-World's branch from its parent: the branch is not Other's.
    world.gh.setPermission(OTHER, WRITER, "write");
    const reset = issueComment("/preview reset-db", { user: WRITER });
    reset.repository = { ...reset.repository, name: "Other", full_name: OTHER };
    reset.issue.pull_request.url = `https://api.github.com/repos/${OTHER}/pulls/2`;
    await world.deliverEvent("issue_comment", reset);
    await world.commandsDone();
    expect(world.comments(`${OTHER}#2`).at(-1)!.body).toContain("This preview has no database to reset");
    expect(neon.requests.some((r) => r.method === "POST" && r.path.endsWith("/restore"))).toBe(false);
    expect(neon.branch(PROJECT, BRANCH)!.rows).toContain("Hello-World's own row");

    // The record stays Hello-World's: Other's close leaves the branch, Hello-World's deletes it.
    await world.deliver(pullRequest("closed", { sha: sha(1), repo: "Other" }));
    expect((await world.settled(2, "Codertocat", "Other")).status).toBe("destroyed");
    expect(neon.branch(PROJECT, BRANCH)!.rows).toContain("Hello-World's own row");
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("destroyed");
    expect(neon.branch(PROJECT, BRANCH)).toBeUndefined();
    expect(await world.store.databasesToSweep()).toEqual([]);
  });

  it("an expired preview loses its branch with its app, and a push brings both back, the branch copied afresh", async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    await neonWorld({ clock });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");
    neon.write(PROJECT, BRANCH, "written before the expiry");

    offset = 60 * 86_400_000;
    const report = await reap(
      { store: world.store, flyctl: world.flyctl, log: { info() {}, warn() {} }, clock, settings: { neonApiKey: KEY, neonApiUrl: neon.url, previewDatabases: [] } },
      { dryRun: false },
    );
    expect(report.expired.map((e) => e.number)).toEqual([2]);
    expect(await world.settled()).toMatchObject({ status: "destroyed", destroy_reason: "expired" });
    expect(neon.branch(PROJECT, BRANCH)).toBeUndefined();
    expect(world.fly.apps()[APP]).toBeUndefined();

    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    expect(await world.settled()).toMatchObject({ status: "ready", deployed_sha: sha(2) });
    expect(neon.branch(PROJECT, BRANCH)!.rows).toEqual(["alice", "bob"]);
    expect(world.fly.apps()[APP].secrets.DATABASE_URL).toBeDefined();
  });

  it("a /preview reset-db on a preview without a database says so and changes nothing", async () => {
    neon = await startFakeNeon({ keys: [KEY] });
    world = await startWorld();
    world.gh.setPermission(REPO, WRITER, "write");
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    await world.deliverEvent("issue_comment", issueComment("/preview reset-db", { user: WRITER }));
    await world.commandsDone();
    const reply = world.comments().find((c) => c.body.includes("no database to reset"));
    expect(reply).toBeDefined();
    expect(world.deploys()).toHaveLength(1);
  });

  it("a branch recorded, then made, by a run that died is dropped by the reaper once its preview is destroyed", async () => {
    await neonWorld();
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const preview = await world.settled();
    // As if the process died right after the create: the store recorded it first, and the
    // preview was then closed and destroyed without a run that knew of the database.
    await world.store.db.updateTable("previews").set({ status: "destroyed", desired_action: "destroy" }).where("id", "=", preview.id).execute();
    // A branch nobody recorded is never touched.
    neon.addBranch(PROJECT, "preview/pr-99");
    const report = await reap(
      { store: world.store, flyctl: world.flyctl, log: { info() {}, warn() {} }, settings: { neonApiKey: KEY, neonApiUrl: neon.url, previewDatabases: [] } },
      { dryRun: false },
    );
    expect(report.databases.map((d) => d.name)).toEqual([BRANCH]);
    expect(neon.branch(PROJECT, BRANCH)).toBeUndefined();
    expect(neon.branch(PROJECT, "preview/pr-99")).toBeDefined();
    expect(await world.store.databasesToSweep()).toEqual([]);
  });

  it("an approved fork gets a schema-only branch: the parent's tables, none of its rows", async () => {
    await neonWorld();
    world.commit("master", { Dockerfile: DOCKERFILE, ".preview.yml": `${CONFIG}forks: approve\n` });
    world.gh.setPull(REPO, 2, { headSha: sha(1), headRepo: "stranger/Hello-World" });
    await world.deliver(pullRequest("opened", { sha: sha(1), fork: true }));
    expect((await world.settled()).status).toBe("awaiting_approval");
    expect(neon.branch(PROJECT, BRANCH)).toBeUndefined();
    await world.deliverEvent("issue_comment", issueComment("/preview approve", { user: WRITER }));
    await world.commandsDone();
    await until("the approved deploy", async () => (await world.settled()).status === "ready");
    const branch = neon.branch(PROJECT, BRANCH)!;
    expect(branch.initSource).toBe("schema-only");
    expect(branch.tables).toEqual(["users"]);
    expect(branch.rows).toEqual([]);
    expect(world.comments().find((c) => c.body.includes("<!-- fly-preview -->"))!.body).toContain("schema only");
  });
});

describe("a database on a Fly Postgres cluster per pull request", () => {
  it("is attached before the first deploy (never as a superuser), its URL never shown, reset by command, and dropped on close", async () => {
    world = await startWorld({ env: { PREVIEW_DATABASES: "fly_postgres:acme-preview-db" } });
    world.fly.createCluster("acme-preview-db");
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 2s\ndatabase:\n  fly_postgres:\n    cluster: acme-preview-db\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");

    const name = "pr_2_codertocat_hello_world";
    const attach = world.fly.calls().find((c) => c.argv[0] === "postgres" && c.argv[1] === "attach")!;
    expect(attach.argv).toEqual(expect.arrayContaining(["acme-preview-db", "-a", APP, "--database-name", name, "--database-user", name, "--superuser=false"]));
    expect(Date.parse(attach.startedAt)).toBeLessThan(Date.parse(world.deploys()[0].startedAt));
    expect(world.fly.cluster("acme-preview-db").databases[name]).toBeDefined();
    expect(world.fly.apps()[APP].secrets.DATABASE_URL).toBeDefined();
    const password = world.fly.cluster("acme-preview-db").users[name].password;
    expect(JSON.stringify(world.logs)).not.toContain(password);
    expect(JSON.stringify(world.gh.requests.map((r) => r.body))).not.toContain(password);
    expect(world.comments()[0].body).toContain(`database \`${name}\` on the Fly Postgres cluster \`acme-preview-db\``);

    // /preview reset-db: the database dropped (its open sessions with it) and made again, then a redeploy.
    world.gh.setPermission(REPO, WRITER, "write");
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    world.fly.updateCluster("acme-preview-db", (c) => void (c.databases[name].sessions = 2));
    const deploysBefore = world.deploys().length;
    await world.deliverEvent("issue_comment", issueComment("/preview reset-db", { user: WRITER }));
    await world.commandsDone();
    await until("the redeploy after the reset", () => world.deploys().length > deploysBefore);
    expect((await world.settled()).reset_db).toBe(0);
    expect(world.fly.cluster("acme-preview-db").databases[name]).toMatchObject({ owner: name, sessions: 0 });

    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("destroyed");
    expect(world.fly.cluster("acme-preview-db").databases[name]).toBeUndefined();
    expect(world.fly.cluster("acme-preview-db").users[name]).toBeUndefined();
  });

  it("only on a cluster the operator listed: a pull request cannot attach its preview to another Postgres app of the org", async () => {
    world = await startWorld({ env: { PREVIEW_DATABASES: "fly_postgres:acme-preview-db" } });
    world.fly.createCluster("acme-production-db");
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "database:\n  fly_postgres:\n    cluster: acme-production-db\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("the Fly Postgres cluster acme-production-db is not one this server lets previews use");
    expect(world.fly.calls().some((c) => c.argv[0] === "postgres")).toBe(false);
    expect(world.deploys()).toHaveLength(0);
    expect(world.fly.cluster("acme-production-db").users).not.toHaveProperty("pr_2_codertocat_hello_world");
    expect(world.fly.cluster("acme-production-db").databases).not.toHaveProperty("pr_2_codertocat_hello_world");
  });

  it("an attach that stopped half-way (database and user made, no secret) leaves nothing behind once the pull request closes", async () => {
    world = await startWorld({ env: { PREVIEW_DATABASES: "fly_postgres:acme-preview-db" } });
    world.fly.createCluster("acme-preview-db");
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 2s\ndatabase:\n  fly_postgres:\n    cluster: acme-preview-db\n" });
    // What a process killed during attach leaves: the database and the user exist, the app has no secret.
    world.fly.setBehavior({ attach: [{ fail: "auth", at: "user" }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("failed");
    const name = "pr_2_codertocat_hello_world";
    expect(world.fly.cluster("acme-preview-db").databases).toHaveProperty(name);
    expect(world.fly.cluster("acme-preview-db").users).toHaveProperty(name);

    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("destroyed");
    expect(world.fly.cluster("acme-preview-db").databases).not.toHaveProperty(name);
    expect(world.fly.cluster("acme-preview-db").users).not.toHaveProperty(name);
    expect(await world.store.databasesToSweep()).toEqual([]);
  });
});


describe("a database this server cannot make", () => {
  const preview = { id: 1, owner: "acme", repo: "web", number: 7, fork: 0, app_name: "pr-7-acme-web" } as Preview;
  const neonBlock = (apiKeySecret?: string): DatabaseConfig => ({ provider: "neon", neon: { project: PROJECT, api_key_secret: apiKeySecret }, env: "DATABASE_URL" });
  // Each refusal comes before the store or the provider is asked: they are not there to ask.
  const deps = (over: Partial<DatabaseDeps> = {}): DatabaseDeps => ({
    store: {} as Store,
    flyctl: {} as Flyctl,
    settings: { previewDatabases: [`neon:${PROJECT}`], neonApiKey: undefined, neonApiUrl: "http://127.0.0.1:9" },
    ...over,
  });

  it("says what the operator or the repository must do, and counts each refusal", async () => {
    const metrics = new Metrics({ processMetrics: false });
    const refused = (d: DatabaseDeps, db: DatabaseConfig) => ensureDatabase({ ...d, metrics }, preview, db, false);

    await expect(refused(deps({ settings: { previewDatabases: [], neonApiKey: KEY, neonApiUrl: "http://127.0.0.1:9" } }), neonBlock())).rejects.toThrow(
      `the Neon project ${PROJECT} is not one this server lets previews use: ask its operator to add neon:${PROJECT} to PREVIEW_DATABASES.`,
    );
    await expect(refused(deps(), neonBlock())).rejects.toThrow(
      "database.neon names no api_key_secret and this server has no NEON_API_KEY: store a key with `fly-preview secrets set acme/web NEON_API_KEY` and name it in api_key_secret, or ask the operator to set NEON_API_KEY.",
    );
    await expect(refused(deps(), neonBlock("TEAM_NEON_KEY"))).rejects.toThrow(
      "database.neon.api_key_secret names TEAM_NEON_KEY, but this server has no secret store: ask its operator to set PREVIEW_SECRETS_KEY.",
    );
    const secrets = { resolve: async () => ({ values: {}, missing: ["TEAM_NEON_KEY"] }) } as unknown as SecretStore;
    await expect(refused(deps({ secrets }), neonBlock("TEAM_NEON_KEY"))).rejects.toThrow(
      "database.neon.api_key_secret names TEAM_NEON_KEY, which is not set for acme/web. Set a valid key with `fly-preview secrets set acme/web TEAM_NEON_KEY`.",
    );
    const counted = await metrics.registry.getSingleMetric("fly_preview_database_operations_total")!.get();
    expect(counted.values.map((v) => [v.labels, v.value])).toEqual([[{ provider: "neon", operation: "ensure", result: "refused" }, 4]]);
  });
});

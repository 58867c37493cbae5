import { createHmac, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Probot, ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureNeonBranch } from "../src/database/neon.js";
import { handleWebhook, handler, startWebhookApp, type HttpEvent } from "../src/lambda/webhook.js";
import { drain } from "../src/lambda/worker.js";
import { SecretStore } from "../src/secrets/index.js";
import { openStore, type Store } from "../src/store/store.js";
import { freshPostgres, TEST_DATABASE_URL } from "./databases.js";
import { createFakeFly, type FakeFly } from "./fake-flyctl/control.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/server.js";
import { startFakeNeon } from "./fake-neon/server.js";
import { DOCKERFILE, helloWorldPr, load, pullRequest, REPO, sha, TEST_PRIVATE_KEY, until } from "./harness.js";
import { listen } from "./server-process.js";

const SECRET = "lambda-webhook-secret";

function apiGatewayV2(body: string, over: { secret?: string; base64?: boolean; id?: string } = {}): HttpEvent {
  const event = load("apigw-v2");
  event.headers["x-github-delivery"] = over.id ?? randomUUID();
  event.headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", over.secret ?? SECRET).update(body).digest("hex")}`;
  event.headers["content-length"] = String(Buffer.byteLength(body));
  event.body = over.base64 ? Buffer.from(body).toString("base64") : body;
  event.isBase64Encoded = Boolean(over.base64);
  return event;
}

describe("on AWS Lambda, with SQLite", () => {
  it("refuses to start, saying PostgreSQL is required", async () => {
    await expect(
      startWebhookApp({ APP_ID: "1", PRIVATE_KEY: TEST_PRIVATE_KEY, WEBHOOK_SECRET: SECRET, DATABASE_URL: "file:/tmp/x.db" }),
    ).rejects.toThrow("fly-preview on AWS Lambda requires PostgreSQL: set DATABASE_URL=postgres://");
  });
});

describe.skipIf(!TEST_DATABASE_URL)("on AWS Lambda, with PostgreSQL", () => {
  let database: { url: string; drop(): Promise<void> };
  let gh: FakeGitHub;
  let fly: FakeFly;
  let store: Store;
  let probot: Probot;
  let env: NodeJS.ProcessEnv;
  const preview = createServer((_req, res) => res.end("ok"));
  const saved = { ...process.env };

  beforeAll(async () => {
    database = await freshPostgres();
    gh = await startFakeGitHub();
    fly = await createFakeFly();
    fly.setBehavior({ url: `http://127.0.0.1:${await listen(preview)}/` });
    env = {
      APP_ID: "1",
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      WEBHOOK_SECRET: SECRET,
      GHE_HOST: gh.host,
      GHE_PROTOCOL: "http",
      LOG_LEVEL: "warn",
      DATABASE_URL: database.url,
      FLY_API_TOKEN: "fo1_test_token_value",
      FLYCTL_PATH: fly.path,
      FAKE_FLYCTL_STATE: fly.stateDir,
      // Off like the worker's Probot throttling below: a second per write is not what this tests.
      PREVIEW_WRITE_SPACING: "0",
    };
    probot = await startWebhookApp(env);
    store = await openStore(database.url);
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(async () => {
    await store?.close();
    await fly?.cleanup();
    await gh?.close();
    await new Promise((r) => preview.close(r));
    await database?.drop();
  });

  const recorded = async (number: number) => store.get("Codertocat", "Hello-World", number);

  it("records a signed API Gateway v2 delivery and answers 200", async () => {
    const result = await handleWebhook(probot, apiGatewayV2(JSON.stringify(pullRequest("opened", { sha: sha(1), number: 11 }))));
    expect(result.statusCode).toBe(200);
    expect((await recorded(11))?.desired_sha).toBe(sha(1));
  });

  it("answers 401 to a bad signature and records nothing", async () => {
    const body = JSON.stringify(pullRequest("opened", { sha: sha(1), number: 12 }));
    const result = await handleWebhook(probot, apiGatewayV2(body, { secret: "guessed" }));
    expect(result.statusCode).toBe(401);
    expect(await recorded(12)).toBeUndefined();
  });

  it("decodes a base64 body", async () => {
    const result = await handleWebhook(probot, apiGatewayV2(JSON.stringify(pullRequest("opened", { sha: sha(1), number: 13 })), { base64: true }));
    expect(result.statusCode).toBe(200);
    expect(await recorded(13)).toBeDefined();
  });

  it("reads REST API (v1) headers in any case", async () => {
    const body = JSON.stringify(pullRequest("opened", { sha: sha(1), number: 14 }));
    const v2 = apiGatewayV2(body);
    const event = {
      resource: "/api/github/webhooks",
      httpMethod: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": v2.headers!["x-github-delivery"],
        "X-Hub-Signature-256": v2.headers!["x-hub-signature-256"],
      },
      body,
      isBase64Encoded: false,
    };
    expect((await handleWebhook(probot, event)).statusCode).toBe(200);
    expect(await recorded(14)).toBeDefined();
  });

  it("answers 400 when GitHub's headers are missing, or the body is not JSON", async () => {
    expect(await handleWebhook(probot, { headers: null, body: "{}" })).toMatchObject({
      statusCode: 400,
      body: JSON.stringify({ error: "missing header: X-GitHub-Delivery, X-GitHub-Event, X-Hub-Signature-256" }),
    });
    const notJson = await handleWebhook(probot, apiGatewayV2("not json"));
    expect(notJson.statusCode).toBe(400);
  });

  it("the entry point serves calls that arrive while it is still starting", async () => {
    process.env = { ...saved, ...env };
    const bodies = [15, 16].map((n) => JSON.stringify(pullRequest("opened", { sha: sha(1), number: n })));
    const results = await Promise.all(bodies.map((body) => handler(apiGatewayV2(body))));
    expect(results.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(await recorded(15)).toBeDefined();
    expect(await recorded(16)).toBeDefined();
  });

  it("the worker drains what the webhooks recorded, then returns", async () => {
    gh.setCommit(REPO, sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "health:\n  timeout: 10s\n" });
    // Octokit's one-write-a-second spacing off, or five previews take forty seconds.
    const worker = new Probot({
      appId: 1,
      privateKey: TEST_PRIVATE_KEY,
      baseUrl: `${gh.url}/api/v3`,
      logLevel: "warn",
      Octokit: ProbotOctokit.defaults((options: any) => ({ ...options, throttle: { ...options.throttle, enabled: false } })),
    });
    const summary = await drain(env, { getRemainingTimeInMillis: () => 120_000 }, { pollMs: 50, probot: worker });
    expect(summary).toEqual({ carriedOut: 5, stillPending: 0 });
    const rows = (await store.list()).filter((p) => [11, 13, 14, 15, 16].includes(p.number));
    expect(rows.map((p) => p.status)).toEqual(["ready", "ready", "ready", "ready", "ready"]);
    await until("no lease left", async () => (await store.list()).every((p) => p.lease_owner === null));
  }, 120_000);

  it("the worker's reaper pass drops a destroyed preview's Neon branch whose key is a repository secret", async () => {
    const neonKey = "neon-test-key-0123456789";
    const project = "proud-fog-123456";
    const secretsKey = "22".repeat(32);
    const neon = await startFakeNeon({ keys: [neonKey], operationMs: 5 });
    try {
      neon.addProject(project);
      const branch = { provider: "neon" as const, home: project, name: "preview/pr-21" };
      await ensureNeonBranch({ apiKey: neonKey, baseUrl: neon.url, project, name: branch.name, schemaOnly: false });
      await new SecretStore(store.db, Buffer.from(secretsKey, "hex")).set("Codertocat", "Hello-World", "PREVIEW_NEON_KEY", neonKey);
      // A preview destroyed while Neon failed: its branch is still recorded, for the sweep.
      await store.desireDeploy(helloWorldPr(21));
      await store.desireDestroy("Codertocat", "Hello-World", 21);
      const claim = (await store.claim("test", 60_000, 0))!;
      expect(claim.preview.number).toBe(21);
      await store.finish(claim.preview.id, "test", claim.generation, { status: "destroyed" });
      await store.databaseWanted(claim.preview.id, { ...branch, parent: "main", secretName: "PREVIEW_NEON_KEY" });

      const worker = new Probot({ appId: 1, privateKey: TEST_PRIVATE_KEY, baseUrl: `${gh.url}/api/v3`, logLevel: "warn" });
      await drain({ ...env, NEON_API_URL: neon.url, PREVIEW_SECRETS_KEY: secretsKey }, { getRemainingTimeInMillis: () => 60_000 }, { pollMs: 50, probot: worker });

      expect(neon.branch(project, branch.name)).toBeUndefined();
      expect(await store.databasesToSweep()).toEqual([]);
    } finally {
      await neon.close();
    }
  }, 60_000);
});

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { FlyError } from "../src/fly/errors.js";
import { Probot } from "probot";
import { commandName } from "../src/fly/flyctl.js";
import { countIgnored, handle, handledEvents } from "../src/handlers/outcomes.js";
import { DEPLOY_OUTCOMES, deployFailure, DESTROY_OUTCOMES, Metrics } from "../src/metrics/metrics.js";
import { SLASH_COMMAND_NAMES } from "../src/model/slash-commands.js";
import type { Wanted } from "../src/preview/surfaces.js";
import { metricsRoute } from "../src/server/metrics.js";
import { readSettings, SettingsError } from "../src/settings.js";
import { openStore, type Store } from "../src/store/store.js";
import { freshPostgres, TEST_DATABASE_URL } from "./databases.js";
import { issueComment, prInfo, pullRequest, REPO, sha, startWorld, TEST_PRIVATE_KEY, until, type World } from "./harness.js";
import { freePort, listen, startServerProcess, type ServerProcess } from "./server-process.js";

const cleanups: Array<() => unknown> = [];
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** /metrics of `metrics` over HTTP, as Prometheus scrapes it. */
async function serve(metrics: Metrics, token?: string): Promise<string> {
  const route = metricsRoute(metrics, token);
  const server = createServer((req, res) => {
    void route(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  const port = await listen(server);
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${port}/metrics`;
}

async function scrape(metrics: Metrics): Promise<string> {
  const response = await fetch(await serve(metrics));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

/** The samples of `name` in Prometheus's text format, with their labels. */
function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const found = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    found.push({ labels, value: Number(m[3]) });
  }
  return found;
}

/** The value of the sample of `name` with exactly these labels; undefined when there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const same = (got: Record<string, string>) =>
    Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v);
  return samples(text, name).find((s) => same(s.labels))?.value;
}

const APP = "pr-2-codertocat-hello-world";
const WRITER = "maintainer-mo";

describe("/metrics after a preview's life", () => {
  it("counts the webhooks, the command, flyctl, GitHub and the destroy, and the store's gauges show it all done", async () => {
    world = await startWorld();
    const w = world;
    w.commit(sha(1));
    w.gh.setPull(REPO, 2, { headSha: sha(1) });
    w.gh.setPermission(REPO, WRITER, "write");
    const opened = pullRequest("opened", { sha: sha(1) });
    await w.deliver(opened, "delivery-1");
    await w.settled();
    await w.deliver(opened, "delivery-1");
    await w.deliverEvent("issue_comment", issueComment("/preview status", { user: WRITER }));
    await w.deliverEvent("issue_comment", issueComment("/preview status", { user: WRITER, onIssue: true }));
    await w.commandsDone();
    // An event the App gets but no handler takes.
    await w.probot.receive({ id: "push-1", name: "push", payload: { ref: "refs/heads/main", installation: { id: 1 } } } as any);
    await w.deliver(pullRequest("closed", { sha: sha(1) }));
    await until("destroyed", async () => (await w.settled()).status === "destroyed");

    const text = await scrape(w.metrics);
    const webhook = (event: string, outcome: string) => value(text, "fly_preview_webhooks_total", { event, outcome });
    expect(webhook("pull_request.opened", "recorded")).toBe(1);
    expect(webhook("pull_request.opened", "duplicate")).toBe(1);
    expect(webhook("issue_comment.created", "recorded")).toBe(1);
    expect(webhook("issue_comment.created", "ignored")).toBe(1);
    expect(webhook("push", "ignored")).toBe(1);
    expect(webhook("pull_request.closed", "recorded")).toBe(1);
    expect(samples(text, "fly_preview_webhooks_total").filter((s) => s.labels.outcome === "error")).toEqual([]);
    // Every delivery a handler took held GitHub's answer for a measured time.
    expect(value(text, "fly_preview_webhook_ack_seconds_count")).toBe(5);

    expect(value(text, "fly_preview_commands_total", { command: "status", outcome: "done" })).toBe(1);

    expect(value(text, "fly_preview_flyctl_calls_total", { command: "apps create", result: "ok" })).toBe(1);
    expect(value(text, "fly_preview_flyctl_calls_total", { command: "deploy", result: "ok" })).toBe(1);
    expect(value(text, "fly_preview_flyctl_calls_total", { command: "apps destroy", result: "ok" })).toBe(1);
    expect(w.fly.calls().filter((c) => c.argv[0] === "deploy")).toHaveLength(1);

    expect(value(text, "fly_preview_destroys_total", { result: "destroyed" })).toBe(1);
    expect(value(text, "fly_preview_deploys_total", { result: "success" })).toBe(1);
    expect(value(text, "fly_preview_time_to_ready_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_webhook_to_flyctl_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_build_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_deploy_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_health_wait_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_source_download_seconds_count")).toBe(1);

    // GitHub's own record of the requests it got: each counted once, as a read or a write.
    const got = w.gh.requests.filter((r) => !r.path.includes("/access_tokens") && r.path !== "/api/v3/app");
    const writes = got.filter((r) => r.method !== "GET").length;
    expect(value(text, "fly_preview_github_requests_total", { kind: "write", result: "ok" })).toBe(writes);
    expect(value(text, "fly_preview_github_requests_total", { kind: "read", result: "ok" })).toBe(got.length - writes);
    expect(value(text, "fly_preview_github_rate_limit_pauses_total")).toBe(0);
    // The write queue: the check run, the deployment and the comment each sent, nothing given up.
    for (const surface of ["check", "deployment", "comment"]) {
      expect(value(text, "fly_preview_github_writes_total", { surface, result: "sent" })).toBeGreaterThan(0);
    }
    expect(samples(text, "fly_preview_github_writes_total").filter((s) => s.labels.result !== "sent" && s.labels.result !== "stale")).toEqual([]);

    expect(value(text, "fly_preview_previews", { status: "destroyed" })).toBe(1);
    expect(value(text, "fly_preview_oldest_pending_desire_age_seconds")).toBe(0);
    expect(value(text, "fly_preview_failed_destroys")).toBe(0);
    expect(value(text, "fly_preview_leases_held", { kind: "preview" })).toBe(0);
    expect(value(text, "fly_preview_github_writes_queued")).toBe(await w.store.surfaceWrites.pending());
    expect(value(text, "fly_preview_store_up")).toBe(1);
    // No series names a pull request, a repository or an app; nor, by default, an installation.
    expect(text).not.toContain(APP);
    expect(text).not.toContain("Hello-World");
    expect(text).not.toContain("installation=");
  });

  it("a Fly.io outage counts a transient retry and the failed flyctl runs; a failed build counts as a build failure of flyctl", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [50, 50] } });
    const w = world;
    w.commit(sha(1));
    w.commit(sha(2));
    // flyctl tries three times in a run (the harness's setting): the pool then retries the run.
    w.fly.setBehavior({ deploy: [{ fail: "transient" }, { fail: "transient" }, { fail: "transient" }] });
    await w.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("ready", async () => (await w.settled()).status === "ready");
    w.fly.setBehavior({ deploy: [{ fail: "build" }] });
    await w.deliver(pullRequest("synchronize", { sha: sha(2) }));
    await until("the build failed", async () => (await w.settled()).status === "failed");

    const text = await scrape(w.metrics);
    expect(value(text, "fly_preview_deploys_total", { result: "transient_retry" })).toBe(1);
    expect(value(text, "fly_preview_flyctl_calls_total", { command: "deploy", result: "transient" })).toBe(3);
    expect(value(text, "fly_preview_flyctl_calls_total", { command: "deploy", result: "ok" })).toBe(1);
    expect(value(text, "fly_preview_flyctl_calls_total", { command: "deploy", result: "build" })).toBe(1);
    expect(value(text, "fly_preview_deploys_total", { result: "build_failure" })).toBe(1);
    expect(value(text, "fly_preview_deploys_total", { result: "success" })).toBe(1);
    expect(value(text, "fly_preview_previews", { status: "failed" })).toBe(1);
  });

  it("a push during a build counts the stopped deploy as superseded, and the next as a success", async () => {
    world = await startWorld({ pool: { settleMs: 300 } });
    const w = world;
    w.commit(sha(1));
    w.commit(sha(2));
    w.fly.setBehavior({ deployDelayMs: 5000 });
    await w.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("the first build to start", () => w.deploys().length === 1);
    w.fly.setBehavior({});
    await w.deliver(pullRequest("synchronize", { sha: sha(2) }));
    await until("the push deployed", async () => (await w.settled()).deployed_sha === sha(2));

    const text = await scrape(w.metrics);
    expect(value(text, "fly_preview_deploys_total", { result: "superseded" })).toBe(1);
    expect(value(text, "fly_preview_deploys_total", { result: "success" })).toBe(1);
    expect(value(text, "fly_preview_time_to_ready_seconds_count")).toBe(1);
  });

  it("GitHub's rate limit and its failures are counted, and the write queue says it retried", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [30, 30, 30] } });
    const w = world;
    w.commit(sha(1));
    w.gh.failNext("POST", "/api/v3/repos/Codertocat/Hello-World/check-runs", 403, 1, {
      message: "You have exceeded a secondary rate limit",
      headers: { "retry-after": "0" },
    });
    w.gh.failNext("POST", "/api/v3/repos/Codertocat/Hello-World/deployments", 502, 1);
    await w.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("ready, and GitHub told", async () => (await w.settled()).status === "ready");

    const text = await scrape(w.metrics);
    expect(value(text, "fly_preview_github_requests_total", { kind: "write", result: "rate_limited" })).toBe(1);
    expect(value(text, "fly_preview_github_rate_limit_pauses_total")).toBe(1);
    expect(value(text, "fly_preview_github_requests_total", { kind: "write", result: "server_error" })).toBe(1);
    expect(value(text, "fly_preview_github_writes_total", { surface: "check", result: "retry" })).toBe(1);
    expect(value(text, "fly_preview_github_writes_total", { surface: "deployment", result: "retry" })).toBe(1);
  });
});

describe("counting webhooks", () => {
  it("costs no second Probot context: a delivery a handler takes, and one only counted as ignored, each get one", async () => {
    world = await startWorld();
    const w = world;
    // Probot's transform builds a context (an authenticated Octokit, a logger named
    // "event") for every hook a delivery matches: most of what a webhook costs it.
    const contexts: string[] = [];
    const log = w.probot.log;
    const child = log.child.bind(log);
    log.child = ((bindings: { name?: string; id?: string }) => {
      if (bindings?.name === "event") contexts.push(String(bindings.id));
      return child(bindings);
    }) as typeof log.child;
    await w.deliver(pullRequest("synchronize", { sha: sha(1) }), "taken");
    await w.probot.receive({ id: "only-counted", name: "push", payload: { ref: "refs/heads/main", installation: { id: 1 } } } as any);
    expect(contexts).toEqual(["taken", "only-counted"]);

    const text = await scrape(w.metrics);
    expect(value(text, "fly_preview_webhooks_total", { event: "pull_request.synchronize", outcome: "recorded" })).toBe(1);
    expect(value(text, "fly_preview_webhooks_total", { event: "push", outcome: "ignored" })).toBe(1);
  });

  it("a delivery whose handler throws fails (GitHub sees it failed and can redeliver it), counted as an error", async () => {
    world = await startWorld();
    const w = world;
    w.store.desireDeployOnce = async () => {
      throw new Error("the store is down");
    };
    await expect(w.deliver(pullRequest("synchronize", { sha: sha(1) }), "lost")).rejects.toThrow("the store is down");

    const text = await scrape(w.metrics);
    expect(value(text, "fly_preview_webhooks_total", { event: "pull_request.synchronize", outcome: "error" })).toBe(1);
    expect(value(text, "fly_preview_webhook_ack_seconds_count")).toBe(1);
  });

  it("two handlers of one event both run to their end; one that throws fails the delivery, each counted", async () => {
    const probot = new Probot({ appId: 1, privateKey: TEST_PRIVATE_KEY, logLevel: "fatal" });
    const metrics = new Metrics({ processMetrics: false });
    const ran: string[] = [];
    handle(probot, metrics, ["pull_request.opened"], async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ran.push("slow");
      return "recorded";
    });
    handle(probot, metrics, ["pull_request.opened"], async () => {
      throw new Error("the second one failed");
    });
    countIgnored(probot, metrics);
    const payload = pullRequest("opened", { sha: sha(1) });
    await expect(probot.receive({ id: "both", name: "pull_request", payload } as any)).rejects.toThrow("the second one failed");
    expect(ran).toEqual(["slow"]);
    await probot.receive({ id: "neither", name: "pull_request", payload: { ...payload, action: "edited" } } as any);

    const text = await scrape(metrics);
    expect(value(text, "fly_preview_webhooks_total", { event: "pull_request.opened", outcome: "recorded" })).toBe(1);
    expect(value(text, "fly_preview_webhooks_total", { event: "pull_request.opened", outcome: "error" })).toBe(1);
    expect(value(text, "fly_preview_webhooks_total", { event: "pull_request.edited", outcome: "ignored" })).toBe(1);
    expect(handledEvents(probot)).toEqual(["pull_request.opened"]);
  });
});

describe("the store's gauges", () => {
  const T0 = Date.UTC(2026, 0, 5, 12, 0);
  let now = T0;
  const clock = () => now;

  async function storeWithWork(): Promise<{ store: Store; building: number }> {
    now = T0;
    const store = await openStore("file::memory:", clock);
    cleanups.push(() => store.close().catch(() => undefined));
    // #9: deployed, then its destroy failed: the reaper's to retry.
    await store.desireDeploy(prInfo({ number: 9, appName: "pr-9-acme-web" }));
    let claim = (await store.claim("w1", 60_000, 0))!;
    await store.finish(claim.preview.id, "w1", claim.generation, { status: "ready", status_at: now });
    await store.desireDestroy("acme", "web", 9);
    claim = (await store.claim("w1", 60_000, 0))!;
    await store.finish(claim.preview.id, "w1", claim.generation, { status: "failed", status_at: now, last_error: "destroy: no" });
    // #8: being built, a worker holds its lease; a write of its waits in the queue.
    now = T0 + 1_000;
    await store.desireDeploy(prInfo({ number: 8, appName: "pr-8-acme-web" }));
    claim = (await store.claim("w1", 60_000, 0))!;
    await store.save(claim.preview.id, "w1", { status: "building", status_at: now });
    await store.surfaceWrites.want({ previewId: claim.preview.id, installationId: 1, generation: claim.generation, surface: "comment", state: "{}", final: false });
    // #7: waiting for a worker.
    now = T0 + 2_000;
    await store.desireDeploy(prInfo({ number: 7 }));
    return { store, building: claim.preview.id };
  }

  it("count what the store holds at the scrape, whichever process wrote it", async () => {
    const { store } = await storeWithWork();
    now = T0 + 31_000;
    const text = await scrape(new Metrics({ store, clock, processMetrics: false }));

    expect(value(text, "fly_preview_previews", { status: "failed" })).toBe(1);
    expect(value(text, "fly_preview_previews", { status: "building" })).toBe(1);
    expect(value(text, "fly_preview_previews", { status: "queued" })).toBe(1);
    // #8's desire, under way for 30 s, is the oldest not carried out.
    expect(value(text, "fly_preview_oldest_pending_desire_age_seconds")).toBe(30);
    expect(value(text, "fly_preview_failed_destroys")).toBe(1);
    expect(value(text, "fly_preview_leases_held", { kind: "preview" })).toBe(1);
    expect(value(text, "fly_preview_leases_held", { kind: "command" })).toBe(0);
    expect(value(text, "fly_preview_github_writes_queued")).toBe(1);
    expect(value(text, "fly_preview_store_up")).toBe(1);

    // #8's lease (60 s from T0 + 1 s) is held up to its last millisecond, as claims see it:
    // no worker may take the row before then.
    now = T0 + 61_000;
    expect(value(await scrape(new Metrics({ store, clock, processMetrics: false })), "fly_preview_leases_held", { kind: "preview" })).toBe(1);
    // A lease nobody renewed is not held any more.
    now = T0 + 62_000;
    expect(value(await scrape(new Metrics({ store, clock, processMetrics: false })), "fly_preview_leases_held", { kind: "preview" })).toBe(0);
  });

  it("count the databases the sweep would drop: made for a preview that is gone, not dropped yet", async () => {
    now = T0;
    const store = await openStore("file::memory:", clock);
    cleanups.push(() => store.close().catch(() => undefined));
    const scrapeSweep = async () => value(await scrape(new Metrics({ store, clock, processMetrics: false })), "fly_preview_databases_to_sweep", { provider: "neon" });
    await store.desireDeploy(prInfo({ number: 5, appName: "pr-5-acme-web" }));
    let claim = (await store.claim("w1", 60_000, 0))!;
    const branch = { provider: "neon" as const, home: "proud-fog-123456", name: "preview/pr-5" };
    await store.databaseWanted(claim.preview.id, { ...branch, parent: "main" });
    await store.finish(claim.preview.id, "w1", claim.generation, { status: "ready", status_at: now });
    // In use by a live preview: not the sweep's.
    expect(await scrapeSweep()).toBeUndefined();
    await store.desireDestroy("acme", "web", 5);
    claim = (await store.claim("w1", 60_000, 0))!;
    await store.finish(claim.preview.id, "w1", claim.generation, { status: "destroyed", status_at: now });
    // Its preview destroyed and the branch still there (the drop failed, or the process died).
    expect(await scrapeSweep()).toBe(1);
    await store.databaseDropped(branch);
    expect(await scrapeSweep()).toBeUndefined();
  });

  it("a store that does not answer sets fly_preview_store_up to 0 and keeps the scrape, counters included", async () => {
    const { store } = await storeWithWork();
    const metrics = new Metrics({ store, clock, processMetrics: false });
    metrics.destroyEnded("destroyed");
    await store.close();
    const text = await scrape(metrics);
    expect(value(text, "fly_preview_store_up")).toBe(0);
    expect(samples(text, "fly_preview_previews")).toEqual([]);
    expect(value(text, "fly_preview_destroys_total", { result: "destroyed" })).toBe(1);
  });

  it("carry the installation id only when METRICS_INSTALLATION_LABEL asks for it", async () => {
    const { store } = await storeWithWork();
    const labelled = new Metrics({ store, clock, installationLabel: true, processMetrics: false });
    labelled.webhookHandled("pull_request.opened", "recorded", 3, 1);
    const text = await scrape(labelled);
    expect(value(text, "fly_preview_previews", { status: "failed", installation: "1" })).toBe(1);
    expect(value(text, "fly_preview_github_writes_queued", { installation: "1" })).toBe(1);
    expect(value(text, "fly_preview_webhooks_total", { event: "pull_request.opened", outcome: "recorded", installation: "1" })).toBe(1);
    expect(readSettings({ METRICS_INSTALLATION_LABEL: "1" }).metricsInstallationLabel).toBe(true);
    expect(readSettings({}).metricsInstallationLabel).toBe(false);
  });
});

describe("counting apart", () => {
  it("two apps in one process keep counters of their own", async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.deployEnded("success");
    a.deployEnded("success");
    b.deployEnded("build_failure");
    const [ta, tb] = [await a.text(), await b.text()];
    expect(value(ta, "fly_preview_deploys_total", { result: "success" })).toBe(2);
    expect(value(ta, "fly_preview_deploys_total", { result: "build_failure" })).toBe(0);
    expect(value(tb, "fly_preview_deploys_total", { result: "success" })).toBe(0);
    expect(value(tb, "fly_preview_deploys_total", { result: "build_failure" })).toBe(1);
  });
});

describe("a deploy's timings", () => {
  it("the timer observes webhook to flyctl once, the build only when one is built, and time to ready on success", async () => {
    let now = 100_000;
    const metrics = new Metrics({ clock: () => now, processMetrics: false });
    const timer = metrics.deployTimer({ desired_at: 40_000, installation_id: 1 });
    timer.flyctlStarted(false); // releasing an earlier image: no build
    now += 5_000;
    timer.imagePushed();
    timer.flyctlStarted(true); // the image was gone: a build after all
    now += 90_000;
    timer.imagePushed();
    now += 20_000;
    timer.ended("success", { sourceMs: 2_000, deployMs: 110_000, healthMs: 4_000 });

    const text = await metrics.text();
    expect(value(text, "fly_preview_webhook_to_flyctl_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_webhook_to_flyctl_seconds_sum")).toBe(60);
    expect(value(text, "fly_preview_build_seconds_count")).toBe(1);
    expect(value(text, "fly_preview_build_seconds_sum")).toBe(90);
    expect(value(text, "fly_preview_deploy_seconds_sum")).toBe(110);
    expect(value(text, "fly_preview_health_wait_seconds_sum")).toBe(4);
    expect(value(text, "fly_preview_source_download_seconds_sum")).toBe(2);
    expect(value(text, "fly_preview_time_to_ready_seconds_sum")).toBe(175);
    expect(value(text, "fly_preview_deploys_total", { result: "success" })).toBe(1);
  });

  it("a failed deploy is classed by flyctl's kind, or by whether the health wait had begun", () => {
    expect(deployFailure(new FlyError("build", "The Docker build failed"), {})).toBe("build_failure");
    expect(deployFailure(new FlyError("health", "no"), { deployMs: 1 })).toBe("health_failure");
    expect(deployFailure(new Error("did not answer /healthz"), { deployMs: 1, healthMs: 30_000 })).toBe("health_failure");
    expect(deployFailure(new FlyError("transient", "gave up after 3 attempts"), {})).toBe("failed");
    expect(deployFailure(new Error("Missing secrets: X"), {})).toBe("failed");
  });
});

describe("METRICS_TOKEN", () => {
  it("makes /metrics answer 401 without the bearer token, or with another, and 200 with it", async () => {
    const token = "s3cret-metrics-token-0123456789";
    const url = await serve(new Metrics({ processMetrics: false }), token);
    const without = await fetch(url);
    expect(without.status).toBe(401);
    expect(without.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
    expect(await without.text()).not.toContain(token);
    expect((await fetch(url, { headers: { authorization: "Bearer s3cret-metrics-token-012345678" } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Basic ${token}` } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("fly_preview_deploys_total");
  });

  it("a token too short to be a secret stops start-up, naming the variable and not the value", () => {
    expect(() => readSettings({ METRICS_TOKEN: "hunter2" })).toThrow(SettingsError);
    expect(() => readSettings({ METRICS_TOKEN: "hunter2" })).toThrow(/^METRICS_TOKEN must be at least 16 printable characters/);
    expect(() => readSettings({ METRICS_TOKEN: "hunter2" })).not.toThrow(/hunter2/);
  });
});

describe("the processes", () => {
  let server: ServerProcess | undefined;
  afterEach(() => {
    server?.child.kill("SIGKILL");
    server = undefined;
  });

  it("the webhook server serves /metrics on its own port, behind METRICS_TOKEN", async () => {
    const port = await freePort();
    const token = "server-metrics-token-abcdef012345";
    server = startServerProcess({
      APP_ID: "1",
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      WEBHOOK_SECRET: "secret",
      PORT: String(port),
      HOST: "127.0.0.1",
      NODE_ENV: "test",
      LOG_LEVEL: "warn",
      GHE_HOST: "127.0.0.1:9",
      GHE_PROTOCOL: "http",
      METRICS_TOKEN: token,
    });
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const text = await ok.text();
    expect(value(text, "fly_preview_store_up")).toBe(1);
    expect(value(text, "fly_preview_previews", { status: "ready" })).toBeUndefined();
    expect(server.output()).not.toContain(token);
  });

  it.skipIf(!TEST_DATABASE_URL)("fly-preview worker serves /metrics and /healthz on METRICS_PORT", async () => {
    const database = await freshPostgres();
    cleanups.push(() => database.drop());
    const port = await freePort();
    const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
    const child: ChildProcess = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), main, "worker"], {
      env: {
        PATH: process.env.PATH,
        APP_ID: "1",
        PRIVATE_KEY: TEST_PRIVATE_KEY,
        GHE_HOST: "127.0.0.1:9",
        GHE_PROTOCOL: "http",
        DATABASE_URL: database.url,
        METRICS_PORT: String(port),
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise((r) => child.once("exit", r));
    cleanups.push(async () => {
      child.kill("SIGTERM");
      await exited;
    });
    const response = await until(
      "the worker's /metrics",
      () => fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined),
      30_000,
    ).catch((error) => {
      throw new Error(`${(error as Error).message}; the worker printed: ${output}`);
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(value(text, "fly_preview_store_up")).toBe(1);
    expect(value(text, "fly_preview_leases_held", { kind: "preview" })).toBe(0);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});

describe("docs/operations.md, Metrics", () => {
  const doc = readFileSync(new URL("../docs/operations.md", import.meta.url), "utf8");
  const section = doc.split(/^## Metrics$/m)[1]!.split(/^## /m)[0]!;
  /** The table row that documents `name`. */
  const row = (name: string) => section.split("\n").find((line) => line.startsWith(`| \`${name}\` |`)) ?? "";
  const quoted = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

  it("has a row for every metric of ours, and names none we do not serve", async () => {
    // A store that answers nothing: the gauges are listed, empty (fly_preview_store_up 0).
    const unanswered = { databasesToSweep: () => Promise.reject(new Error("no store")) } as unknown as Store;
    const served = (await new Metrics({ store: unanswered, processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(served.length).toBeGreaterThan(15);
    const documented = [...new Set([...section.matchAll(/^\| `(fly_preview_[a-z_]+)` \|/gm)].map((m) => m[1]))].sort();
    expect(documented).toEqual(served);
    expect([...new Set(section.match(/fly_preview_[a-z_]+/g))].filter((name) => !served.some((s) => name.startsWith(s)))).toEqual([]);
  });

  it("names every value the labels it lists can take", () => {
    const named = (metric: string, values: readonly string[]) => expect(values.filter((v) => !quoted(row(metric)).includes(v))).toEqual([]);
    named("fly_preview_deploys_total", DEPLOY_OUTCOMES);
    named("fly_preview_destroys_total", DESTROY_OUTCOMES);
    named("fly_preview_commands_total", [...SLASH_COMMAND_NAMES, "unknown"]);
    const surfaces = ["check", "deployment", "comment", "notice"] as const;
    expectTypeOf<(typeof surfaces)[number]>().toEqualTypeOf<Wanted["surface"]>();
    named("fly_preview_github_writes_total", surfaces);
  });

  it("lists flyctl's commands as the counter names them: command and subcommand", () => {
    const runs = [
      ["deploy", "/tmp/src", "-c", "/tmp/src/.fly-preview.toml"],
      ["apps", "create", "pr-1-a-b", "--org", "acme"],
      ["machines", "list", "-a", "pr-1-a-b", "--json"],
      ["machines", "destroy", "e784079b449483", "-a", "pr-1-a-b", "--force"],
      ["console", "-a", "pr-1-a-b", "--command", "npm run seed"],
      ["ssh", "console", "-a", "acme-db", "--quiet"],
    ];
    const names = runs.map(commandName);
    expect(names).toEqual(["deploy", "apps create", "machines list", "machines destroy", "console", "ssh console"]);
    expect(names.filter((name) => !quoted(row("fly_preview_flyctl_calls_total")).includes(name))).toEqual([]);
  });
});

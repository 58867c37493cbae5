import { afterEach, describe, expect, it } from "vitest";
import { appName } from "../src/model/app-name.js";
import { DOCKERFILE, pullRequest, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";

/** PR #2 opened at sha(1) while GitHub answers `status` to `count` requests: its row once settled. Two retries, 20 ms apart. */
async function openedWhileGitHubFails(method: string, path: string, status: number, count: number) {
  world = await startWorld({ pool: { retryDelaysMs: [20, 20] } });
  world.commit(sha(1));
  world.gh.failNext(method, path, status, count);
  await world.deliver(pullRequest("opened", { sha: sha(1) }));
  return world.settled();
}

async function failedCheck(w: World) {
  await w.settled();
  return until("a completed check run", () => w.gh.checkRuns.find((c) => c.status === "completed"));
}

describe("when things go wrong", () => {
  it("a YAML syntax error fails the check run at the right line and deploys nothing", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "port: 8080\nenv:\n  A: [unclosed\n  B: x\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const check = await failedCheck(world);

    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe(".preview.yml is invalid");
    const annotation = check.output?.annotations?.[0];
    expect(annotation).toMatchObject({ path: ".preview.yml", annotation_level: "failure" });
    expect(annotation.start_line).toBeGreaterThanOrEqual(3);
    expect(world.fly.calls()).toEqual([]);
    expect(world.gh.deployments).toEqual([]);
    expect(world.comments()[0].body).toContain("❌ Preview failed");
  });

  it("a schema violation names the field and points at its line", async () => {
    world = await startWorld();
    const yml = "dockerfile: Dockerfile\nport: 8080\nresources:\n  memory: lots\n";
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": yml });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const check = await failedCheck(world);

    expect(check.conclusion).toBe("failure");
    expect(check.output?.annotations).toHaveLength(1);
    expect(check.output?.annotations?.[0].start_line).toBe(4);
    expect(check.output?.annotations?.[0].message).toContain("memory");
    expect(check.output?.summary).toContain("line 4");
    expect(world.fly.calls()).toEqual([]);
  });

  it("a failed build fails the check run with flyctl's error, and the comment says failed", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    const check = await failedCheck(world);

    expect(row.status).toBe("failed");
    expect(check.conclusion).toBe("failure");
    expect(check.output?.text).toContain("failed to fetch an image or build from source");
    expect(world.deploys()).toHaveLength(1);
    expect(world.comments()[0].body).toContain("❌ Preview failed");
    expect(world.comments()[0].body).toContain(row.last_error!.slice(0, 20));
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("failure");
  });

  it("a failed deploy leaves the previous preview serving and says so", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.commit(sha(2));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const row = await until("the failure", async () => {
      const r = await world.settled();
      return r.status === "failed" ? r : undefined;
    });

    expect(row.deployed_sha).toBe(sha(1));
    expect(row.url).toBe(`https://${APP}.fly.dev`);
    expect(world.fly.apps()[APP]).toBeDefined();
    expect(world.fly.calls().some((c) => c.argv[0] === "apps" && c.argv[1] === "destroy")).toBe(false);
    const body = world.comments()[0].body;
    expect(body).toContain(`previous deploy (\`${sha(1).slice(0, 7)}\`) is still serving`);
    expect(body).toContain(`https://${APP}.fly.dev`);
  });

  it("a transient flyctl failure is retried and then succeeds", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.fly.setBehavior({ deploy: [{ fail: "transient" }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("ready");
    expect(world.deploys()).toHaveLength(2);
    expect(world.gh.checkRuns[0].conclusion).toBe("success");
  });

  it("GitHub failing with 502 is tried again later, and the deploy then goes through", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [150, 150] } });
    world.commit(sha(1));
    world.gh.failNext("GET", "/api/v3/repos/Codertocat/Hello-World/contents/", 502, 2);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const waiting = await until("a retry to be scheduled", async () => {
      const row = await world.store.get("Codertocat", "Hello-World", 2);
      return row?.retry_attempts === 1 ? row : undefined;
    });
    expect(waiting).toMatchObject({ status: "queued", lease_owner: null });
    expect(waiting.last_error).toMatch(/fake failure 502 \(attempt 1 of 3; trying again at \d{4}-/);
    expect(waiting.observed_generation).toBeLessThan(waiting.desired_generation);

    const row = await world.settled();
    expect(row).toMatchObject({ status: "ready", retry_attempts: 2 });
    expect(world.deploys()).toHaveLength(1);
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
  });

  it("GitHub failing for longer than the retries marks the preview failed and says how often it tried", async () => {
    const row = await openedWhileGitHubFails("GET", "/api/v3/repos/Codertocat/Hello-World/contents/", 503, 3);
    expect(row.status).toBe("failed");
    expect(row.last_error).toBe("Internal error: fake failure 503 (gave up after 3 attempts)");
    expect(world.deploys()).toHaveLength(0);

    // The next push is a new desire: it starts again from the first attempt, and deploys.
    world.commit(sha(2));
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    expect(await world.settled()).toMatchObject({ status: "ready", deployed_sha: sha(2) });
  });

  it("a GitHub write that fails (502) is sent again by the write queue; the deploy is not repeated", async () => {
    const row = await openedWhileGitHubFails("POST", "/api/v3/repos/Codertocat/Hello-World/deployments", 502, 2);
    // flyctl never waited for GitHub: the run deployed once and is done.
    expect(row).toMatchObject({ status: "ready", last_error: null, retry_attempts: 0 });
    expect(world.deploys()).toHaveLength(1);
    const creates = world.gh.requests.filter((r) => r.method === "POST" && r.path.endsWith("/deployments"));
    expect(creates).toHaveLength(3);
    expect(world.gh.deployments).toHaveLength(1);
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("success");
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0].body).toContain("Preview ready");
  });

  it("a GitHub write refused as invalid (422) is not sent again and is logged; the surface's next state still goes", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [20, 20] } });
    world.commit(sha(1));
    // The deploy takes long enough for the check run's "in progress" create to go first: that is the one refused.
    world.fly.setBehavior({ deployDelayMs: 300 });
    world.gh.failNext("POST", "/api/v3/repos/Codertocat/Hello-World/check-runs", 422, 1);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row).toMatchObject({ status: "ready", retry_attempts: 0 });
    expect(world.deploys()).toHaveLength(1);
    const creates = world.gh.requests.filter((r) => r.method === "POST" && r.path.endsWith("/check-runs"));
    expect(creates.map((r) => r.body.status ?? "queued")).toEqual(["in_progress", "completed"]);
    expect(world.gh.checkRuns.map((c) => c.conclusion)).toEqual(["success"]);
    const given = world.logs.filter((r) => r.msg === "GitHub write given up");
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ level: "error", surface: `check:${sha(1)}` });
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("success");
    expect(world.comments()[0].body).toContain("Preview ready");
  });

  it("a newer push does not wait for a scheduled retry", async () => {
    world = await startWorld({ pool: { retryDelaysMs: [60_000] } });
    world.commit(sha(1));
    world.commit(sha(2));
    world.gh.failNext("GET", "/api/v3/repos/Codertocat/Hello-World/contents/", 502, 1);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("a retry to be scheduled", async () => (await world.store.get("Codertocat", "Hello-World", 2))?.retry_attempts === 1);
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    expect(await world.settled()).toMatchObject({ status: "ready", deployed_sha: sha(2) });
  });

  it("a health check that never passes fails the deploy", async () => {
    world = await startWorld({ health: () => 502 });
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    const check = await failedCheck(world);

    expect(row.status).toBe("failed");
    expect(row.last_error).toContain("/healthz");
    expect(row.last_error).toContain("HTTP 502");
    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("did not answer /healthz");
  });

  it("without FLY_API_TOKEN each deploy fails with a check run that says so", async () => {
    world = await startWorld({ env: { FLY_API_TOKEN: undefined } });
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const check = await failedCheck(world);

    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toContain("FLY_API_TOKEN");
    expect(world.fly.calls()).toEqual([]);
  });

  it("an app name held by another Fly account is a clear failure", async () => {
    world = await startWorld();
    world.fly.seedApp(APP, "someone-else");
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const check = await failedCheck(world);

    expect(check.conclusion).toBe("failure");
    expect(check.output?.summary).toMatch(/another Fly/i);
    expect(world.deploys()).toEqual([]);
  });

  it("a missing Dockerfile fails with the path that is wrong", async () => {
    world = await startWorld();
    world.commit(sha(1), { ".preview.yml": "dockerfile: web/Dockerfile\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const check = await failedCheck(world);
    expect(check.output?.summary).toContain('"web/Dockerfile" does not exist');
    expect(world.deploys()).toEqual([]);
  });

  it("two repositories whose names fold to the same app name do not share an app", async () => {
    world = await startWorld();
    const files = { Dockerfile: DOCKERFILE, ".preview.yml": "port: 8080\n" };
    world.commit(sha(1), files, "acme-web/api");
    world.commit(sha(1), files, "acme/web-api");
    await world.deliver(pullRequest("opened", { sha: sha(1), owner: "acme-web", repo: "api" }));
    expect((await world.settled(2, "acme-web", "api")).status).toBe("ready");
    await world.deliver(pullRequest("opened", { sha: sha(1), owner: "acme", repo: "web-api" }));
    const second = await world.settled(2, "acme", "web-api");

    expect(second.status).toBe("failed");
    expect(second.last_error).toContain("already used by the preview of acme-web/api#2");
    expect(world.deploys()).toHaveLength(1);
  });

  it("a long repository name gets a valid, stable app name", async () => {
    world = await startWorld();
    const repo = "An_Extremely.Long-Repository-Name-That-Goes-On-And-On-Forever";
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "port: 8080\n" }, `Codertocat/${repo}`);
    await world.deliver(pullRequest("opened", { sha: sha(1), repo }));
    const row = await world.settled(2, "Codertocat", repo);

    expect(row.status).toBe("ready");
    expect(row.app_name).toBe(appName("Codertocat", repo, 2));
    expect(row.app_name.length).toBeLessThanOrEqual(63);
    expect(row.app_name).toMatch(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/);
    expect(world.fly.apps()[row.app_name]).toBeDefined();
  });
});

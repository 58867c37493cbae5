import { afterEach, describe, expect, it } from "vitest";
import { COMMENT_MARKER } from "../src/github/comment.js";
import { pullRequest, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";

describe("the preview lifecycle", () => {
  it("a preview being built says so in the store, which the CLI's status and list show", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.fly.setBehavior({ deployDelayMs: 1500 });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("the build to start", () => world.deploys().length === 1);
    expect((await world.store.get("Codertocat", "Hello-World", 2))?.status).toBe("building");

    expect((await world.settled()).status).toBe("ready");
  });

  it("an opened pull request gets a ready preview: comment, check run and deployment", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("ready");
    expect(row.url).toBe(`https://${APP}.fly.dev`);
    expect(world.fly.apps()[APP]).toBeDefined();

    const deploy = world.deploys()[0];
    expect(deploy.argv).toEqual(expect.arrayContaining(["-a", APP, "--remote-only", "--yes", "--ha=false"]));
    expect(deploy.argv).toContain(`pr-2-${sha(1).slice(0, 7)}`);
    expect(deploy.tokenSet).toBe(true);
    expect(JSON.stringify(deploy.argv)).not.toContain("fo1_test_token_value");

    const [comment] = world.comments();
    expect(world.comments()).toHaveLength(1);
    expect(comment.body).toContain(COMMENT_MARKER);
    expect(comment.body).toContain("✅ Preview ready");
    expect(comment.body).toContain(`https://${APP}.fly.dev`);
    expect(comment.body).toContain(sha(1).slice(0, 7));
    expect(comment.body).toContain(APP);

    expect(world.gh.checkRuns).toHaveLength(1);
    const check = world.gh.checkRuns[0];
    expect(check.name).toBe("Fly Preview");
    expect(check.head_sha).toBe(sha(1));
    expect(check.history.map((h) => h.status)).toEqual(["in_progress", "completed"]);
    expect(check.conclusion).toBe("success");
    expect(check.output?.summary).toContain(`https://${APP}.fly.dev`);
    expect(check.output?.text).toMatch(/\| Build and deploy \| \d+s \|/);
    expect(check.output?.text).toContain(`app = "${APP}"`);
    expect(check.output?.text).toContain("Visit your newly deployed app at");

    expect(world.gh.deployments).toHaveLength(1);
    const deployment = world.gh.deployments[0];
    expect(deployment).toMatchObject({ environment: "pr-2", ref: sha(1), transient_environment: true, production_environment: false });
    expect(deployment.statuses.map((s) => s.state)).toEqual(["success"]);
    expect(deployment.statuses[0].environment_url).toBe(`https://${APP}.fly.dev`);

    expect(world.healthCalls).toContain(`https://${APP}.fly.dev/healthz`);
  });

  it("a push redeploys the same app and edits the same comment", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.commit(sha(2));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const row = await until("second deploy", async () => {
      const r = await world.settled();
      return r.deployed_sha === sha(2) ? r : undefined;
    });

    expect(row.status).toBe("ready");
    expect(world.deploys().map((d) => d.argv[d.argv.indexOf("-a") + 1])).toEqual([APP, APP]);
    expect(world.fly.calls().filter((c) => c.argv[0] === "apps" && c.argv[1] === "create")).toHaveLength(1);
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0].body).toContain(sha(2).slice(0, 7));
    expect(world.gh.checkRuns.map((c) => [c.head_sha, c.conclusion])).toEqual([
      [sha(1), "success"],
      [sha(2), "success"],
    ]);
  });

  it("ten pushes during a build deploy only the first and the last commit", async () => {
    world = await startWorld({ pool: { settleMs: 300 } });
    for (let i = 1; i <= 10; i++) world.commit(sha(i));
    world.fly.setBehavior({ deployDelayMs: 5000 });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await until("the first build to start", () => world.deploys().length === 1);
    world.fly.setBehavior({});
    await Promise.all(
      Array.from({ length: 9 }, (_, i) => world.deliver(pullRequest("synchronize", { sha: sha(i + 2) }))),
    );
    const row = await until("the last commit deployed", async () => {
      const r = await world.settled();
      return r.deployed_sha === sha(10) ? r : undefined;
    });

    expect(row.status).toBe("ready");
    const deployedLabels = world.deploys().map((d) => d.argv[d.argv.indexOf("--image-label") + 1]);
    expect(deployedLabels).toEqual([`pr-2-${sha(1).slice(0, 7)}`, `pr-2-${sha(10).slice(0, 7)}`]);
    const first = world.gh.checkRuns.find((c) => c.head_sha === sha(1))!;
    expect(first.conclusion).toBe("cancelled");
    expect(first.output?.summary).toContain(sha(10).slice(0, 7));
    expect(world.gh.checkRuns.find((c) => c.head_sha === sha(10))?.conclusion).toBe("success");
    expect(world.gh.checkRuns.filter((c) => c.head_sha !== sha(1) && c.head_sha !== sha(10))).toEqual([]);
    // The superseded flyctl was stopped, not left running.
    expect(world.fly.calls().find((c) => c.argv[0] === "deploy" && c.signal)).toBeDefined();
  });

  it("closing the pull request destroys the app, says so, and marks the deployment inactive", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    const row = await until("destroyed", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });

    expect(row.app_created).toBe(0);
    expect(world.fly.apps()[APP]).toBeUndefined();
    expect(world.fly.calls().some((c) => c.argv.join(" ") === `apps destroy ${APP} --yes`)).toBe(true);
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0].body).toContain("🗑️ Preview destroyed");
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("inactive");
  });

  it("a preview opened, deployed and closed costs GitHub's write lane eight writes", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    await until("destroyed", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });

    const writes = world.gh.requests.filter((r) => r.method !== "GET" && !r.path.includes("/access_tokens"));
    expect(writes.map((r) => `${r.method} ${r.path.replace(/\/\d+/g, "/:id")}`)).toEqual([
      // Opened: each surface once when the run starts, once when it ends. The deployment
      // has no in_progress status and the comment no "deploying" edit.
      "POST /api/v3/repos/Codertocat/Hello-World/check-runs",
      "POST /api/v3/repos/Codertocat/Hello-World/deployments",
      "POST /api/v3/repos/Codertocat/Hello-World/issues/:id/comments",
      "PATCH /api/v3/repos/Codertocat/Hello-World/check-runs/:id",
      "POST /api/v3/repos/Codertocat/Hello-World/deployments/:id/statuses",
      "PATCH /api/v3/repos/Codertocat/Hello-World/issues/comments/:id",
      // Closed.
      "POST /api/v3/repos/Codertocat/Hello-World/deployments/:id/statuses",
      "PATCH /api/v3/repos/Codertocat/Hello-World/issues/comments/:id",
    ]);
  });

  it("closing a pull request whose app is already gone counts as destroyed", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();
    world.fly.removeApp(APP);
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    const row = await until("destroyed", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });
    expect(row.last_error).toBeNull();
  });

  it("a repository without .preview.yml gets nothing: no check run, no comment, no flyctl", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: "FROM scratch\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("none");
    expect(world.gh.checkRuns).toEqual([]);
    expect(world.gh.comments).toEqual([]);
    expect(world.gh.deployments).toEqual([]);
    expect(world.fly.calls()).toEqual([]);
  });

  it("a redelivered webhook does not deploy twice", async () => {
    world = await startWorld();
    world.commit(sha(1));
    const payload = pullRequest("opened", { sha: sha(1) });
    await world.deliver(payload, "delivery-1");
    await world.settled();
    await world.deliver(payload, "delivery-1");
    // The same desire under a new delivery id changes nothing either.
    await world.deliver(pullRequest("synchronize", { sha: sha(1) }), "delivery-2");
    await new Promise((r) => setTimeout(r, 300));
    await world.settled();
    expect(world.deploys()).toHaveLength(1);
    expect(world.gh.checkRuns).toHaveLength(1);
  });

  it("a draft is not previewed until it is ready for review", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1), draft: true }));
    expect((await world.settled()).status).toBe("skipped");
    expect(world.fly.calls()).toEqual([]);
    expect(world.gh.checkRuns).toEqual([]);
    await world.deliver(pullRequest("ready_for_review", { sha: sha(1), draft: false }));
    const row = await until("ready", async () => {
      const r = await world.settled();
      return r.status === "ready" ? r : undefined;
    });
    expect(row.deployed_sha).toBe(sha(1));
  });

  it("with trigger labels, only adding one of them deploys", async () => {
    world = await startWorld();
    const files = { Dockerfile: "FROM scratch\n", ".preview.yml": "trigger:\n  labels: [preview]\n" };
    world.commit(sha(1), files);
    await world.deliver(pullRequest("opened", { sha: sha(1), labels: ["bug"] }));
    expect((await world.settled()).status).toBe("skipped");
    await world.deliver(pullRequest("labeled", { sha: sha(1), labels: ["bug", "preview"] }));
    const row = await until("ready", async () => {
      const r = await world.settled();
      return r.status === "ready" ? r : undefined;
    });
    expect(world.deploys()).toHaveLength(1);
    expect(row.deployed_sha).toBe(sha(1));
  });
});

describe("a preview the trigger rules no longer let through", () => {
  const DOCKERFILE = "FROM scratch\n";
  const sticky = () => world.comments().find((c) => c.body.includes(COMMENT_MARKER))!;
  const status = async (wanted: string) =>
    until(wanted, async () => {
      const r = await world.settled();
      return r.status === wanted ? r : undefined;
    });

  it("removing the trigger label destroys the preview and says how to bring it back; adding it again deploys it again", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "trigger:\n  labels: [preview]\n" });
    await world.deliver(pullRequest("labeled", { sha: sha(1), labels: ["preview"] }));
    await status("ready");
    expect(world.fly.apps()[APP]).toBeDefined();

    await world.deliver(pullRequest("unlabeled", { sha: sha(1), labels: [] }));
    const row = await status("skipped");
    expect(row.app_created).toBe(0);
    expect(row.url).toBeNull();
    expect(world.fly.apps()[APP]).toBeUndefined();
    expect(sticky().body).toContain("Preview destroyed");
    expect(sticky().body).toContain("the pull request carries none of the labels in trigger.labels \\(preview\\)");
    expect(sticky().body).toContain('Add the label "preview" to deploy it again.');
    expect(world.gh.deployments.at(-1)!.statuses.at(-1)!.state).toBe("inactive");

    // A push meanwhile brings nothing back: the rules still say no.
    world.commit(sha(2), { Dockerfile: DOCKERFILE, ".preview.yml": "trigger:\n  labels: [preview]\n" });
    await world.deliver(pullRequest("synchronize", { sha: sha(2), labels: [] }));
    expect((await status("skipped")).app_created).toBe(0);
    expect(world.deploys()).toHaveLength(1);

    await world.deliver(pullRequest("labeled", { sha: sha(2), labels: ["preview"] }));
    expect((await status("ready")).deployed_sha).toBe(sha(2));
    expect(world.fly.apps()[APP]).toBeDefined();
    expect(world.deploys()).toHaveLength(2);
  });

  it("converting a pull request to draft destroys its preview; ready for review deploys it again", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await status("ready");

    await world.deliver(pullRequest("converted_to_draft", { sha: sha(1), draft: true }));
    expect((await status("skipped")).app_created).toBe(0);
    expect(world.fly.apps()[APP]).toBeUndefined();
    expect(sticky().body).toContain("draft pull requests are not previewed");
    expect(sticky().body).toContain("Mark the pull request ready for review to deploy it again.");

    await world.deliver(pullRequest("ready_for_review", { sha: sha(1), draft: false }));
    await status("ready");
    expect(world.fly.apps()[APP]).toBeDefined();
  });

  it("removing another label, or converting to draft when drafts are previewed, leaves the preview as it is", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "trigger:\n  drafts: true\n" });
    await world.deliver(pullRequest("opened", { sha: sha(1), labels: ["bug"] }));
    await status("ready");
    const commentBefore = sticky().body;

    await world.deliver(pullRequest("unlabeled", { sha: sha(1), labels: [] }));
    await world.deliver(pullRequest("converted_to_draft", { sha: sha(1), draft: true }));
    const row = await status("ready");
    // Both events were judged again, and neither redeployed or destroyed anything.
    expect(row.observed_generation).toBe(3);
    expect(world.deploys()).toHaveLength(1);
    expect(world.fly.apps()[APP]).toBeDefined();
    expect(sticky().body).toBe(commentBefore);
  });
});

describe("logs", () => {
  it("every line of a deploy carries the repository, PR number and app name", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.fly.setBehavior({ deploy: [{ fail: "transient" }] });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settled();

    const start = world.logs.findIndex((r) => r.msg === "deploy started");
    const end = world.logs.findIndex((r) => r.msg === "preview ready");
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const deployLines = world.logs.slice(start, end + 1);
    // GitHub requests, flyctl's own lines and the retry warning are among them.
    expect(deployLines.some((r) => String(r.msg).startsWith("GitHub request"))).toBe(true);
    expect(deployLines.some((r) => typeof r.flyctl === "string")).toBe(true);
    expect(deployLines.some((r) => r.level === "warn")).toBe(true);
    for (const line of deployLines) {
      expect(line).toMatchObject({ repo: "Codertocat/Hello-World", pr: 2, app: APP });
    }
    expect(JSON.stringify(world.logs)).not.toContain("fo1_test_token_value");
  });
});

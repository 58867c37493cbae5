// Several apps per pull request (docs/monorepos.md), end to end through the real App, a
// fake GitHub and the fake flyctl: one Fly app, check run and deployment per app, one
// comment with a row per app, `paths` deciding what a push rebuilds.
import { afterEach, describe, expect, it } from "vitest";
import { reap } from "../src/preview/reaper.js";
import { startFakeNeon, type FakeNeon } from "./fake-neon/server.js";
import { checkRun, DOCKERFILE, issueComment, pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const TWO_APPS = `apps:
  api:
    dockerfile: services/api/Dockerfile
    context: services/api
    paths: [services/api/**]
  web:
    dockerfile: apps/web/Dockerfile
    context: .
    env:
      API_URL: \${apps.api.url}
`;

/** TWO_APPS with `hooks:` lines (as YAML under `hooks:`) on the api app. */
function withApiHooks(hooks: string) {
  return TWO_APPS.replace("    paths: [services/api/**]\n", `    paths: [services/api/**]\n    hooks:\n      ${hooks}\n`);
}

function files(extra: Record<string, string> = {}, config = TWO_APPS) {
  return { ".preview.yml": config, "services/api/Dockerfile": DOCKERFILE, "services/api/main.js": "api v1\n", "apps/web/Dockerfile": DOCKERFILE, ...extra };
}

const API = "pr-2-api-codertocat-hello-world";
const WEB = "pr-2-web-codertocat-hello-world";
const appOf = (call: { argv: string[] }) => call.argv[call.argv.indexOf("-a") + 1];
const sticky = () => world.comments().find((c) => c.body.includes("<!-- fly-preview -->"))!.body;

async function open() {
  world = await startWorld();
  world.gh.setCommit(REPO, sha(1), files(), []);
  world.gh.setPull(REPO, 2, { headSha: sha(1) });
  await world.deliver(pullRequest("opened", { sha: sha(1) }));
  return world.settledApps();
}

describe("a pull request with two apps", () => {
  it("deploys each as a Fly app of its own, with a check run and a deployment each, and one comment with a row per app", async () => {
    const apps = await open();
    expect(Object.keys(apps)).toEqual(["api", "web"]);
    expect(apps.api).toMatchObject({ app_name: API, status: "ready", deployed_sha: sha(1) });
    expect(apps.web).toMatchObject({ app_name: WEB, status: "ready", deployed_sha: sha(1) });
    expect(world.deploys().map(appOf).sort()).toEqual([API, WEB]);
    // The web app learns the api's URL, known before either deployed.
    const webDeploy = world.deploys().find((c) => appOf(c) === WEB)!;
    expect(webDeploy.argv).toContain(`API_URL=https://${API}.fly.dev`);
    // The pull request's own row has no Fly app: its apps have.
    expect(Object.keys(world.fly.apps()).sort()).toEqual([API, WEB]);

    expect(world.gh.checkRuns.map((r) => [r.name, r.conclusion]).sort()).toEqual([
      ["Fly Preview / api", "success"],
      ["Fly Preview / web", "success"],
    ]);
    expect(world.gh.deployments.map((d) => d.environment).sort()).toEqual(["pr-2-api", "pr-2-web"]);
    expect(world.comments()).toHaveLength(1);
    const body = sticky();
    expect(body).toContain(`https://${API}.fly.dev`);
    expect(body).toContain(`https://${WEB}.fly.dev`);
    expect(body).toMatch(/✅ Preview ready \(2 apps\)/);
    // Each row: state, URL, commit, and how long its build and release took.
    expect(apps.api.build_ms).toBeGreaterThan(0);
    const apiRow = body.split("\n").find((line) => line.startsWith("| **api** |"))!;
    expect(apiRow).toContain("`aaaaaaa`");
    expect(apiRow).not.toContain("—");
    // What each app's machine costs, from the price table (the default machine: shared-cpu-1x, 256 MB).
    expect(apiRow).toContain("$2.02");
  });

  it("rebuilds on a push only the app whose paths it touched; the other shows unchanged", async () => {
    await open();
    const before = world.deploys().length;
    world.gh.setCommit(REPO, sha(2), files({ "services/api/main.js": "api v2\n" }), [sha(1)]);
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const apps = await world.settledApps();
    const rebuilt = world.deploys().slice(before).map(appOf);
    // web has no paths: it rebuilds on every push; api's paths were touched.
    expect(rebuilt.sort()).toEqual([API, WEB]);

    world.gh.setCommit(REPO, sha(3), files({ "services/api/main.js": "api v2\n", "README.md": "docs\n" }), [sha(2)]);
    world.gh.setPull(REPO, 2, { headSha: sha(3) });
    const again = world.deploys().length;
    await world.deliver(pullRequest("synchronize", { sha: sha(3) }));
    const after = await world.settledApps();
    expect(world.deploys().slice(again).map(appOf)).toEqual([WEB]);
    expect(after.api).toMatchObject({ status: "ready", deployed_sha: sha(2) });
    expect(after.web).toMatchObject({ status: "ready", deployed_sha: sha(3) });
    expect(apps.api.deployed_sha).toBe(sha(2));
    expect(sticky()).toContain("Unchanged");
  });

  it("on a push that leaves an app's paths alone, releases its image again when only its env changed, and rebuilds it when its block did", async () => {
    await open();
    // api's env changes; its paths do not.
    const envChanged = TWO_APPS.replace("    paths: [services/api/**]\n", "    paths: [services/api/**]\n    env:\n      LOG_LEVEL: debug\n");
    world.gh.setCommit(REPO, sha(2), files({}, envChanged), [sha(1)]);
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    let before = world.deploys().length;
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    let apps = await world.settledApps();
    const release = world.deploys().slice(before).find((c) => appOf(c) === API)!;
    // Its last image, not a build: --image names the registry's copy of the commit it serves.
    expect(release.argv).toContain(`registry.fly.io/${API}:pr-2-${sha(1).slice(0, 7)}`);
    expect(release.argv).toContain("LOG_LEVEL=debug");
    expect(apps.api).toMatchObject({ status: "ready", deployed_sha: sha(1) });

    // Its Dockerfile path changes: built again, at the new commit.
    const moved = envChanged.replace("services/api/Dockerfile", "services/api/Dockerfile.preview");
    world.gh.setCommit(REPO, sha(3), files({ "services/api/Dockerfile.preview": DOCKERFILE }, moved), [sha(2)]);
    world.gh.setPull(REPO, 2, { headSha: sha(3) });
    before = world.deploys().length;
    await world.deliver(pullRequest("synchronize", { sha: sha(3) }));
    apps = await world.settledApps();
    const build = world.deploys().slice(before).find((c) => appOf(c) === API)!;
    expect(build.argv.some((a) => a.startsWith("--image="))).toBe(false);
    expect(build.argv).not.toContain("--image");
    expect(apps.api).toMatchObject({ status: "ready", deployed_sha: sha(3) });

    // Nothing of its changes: left as it is.
    world.gh.setCommit(REPO, sha(4), files({ "services/api/Dockerfile.preview": DOCKERFILE, "README.md": "x\n" }, moved), [sha(3)]);
    world.gh.setPull(REPO, 2, { headSha: sha(4) });
    before = world.deploys().length;
    await world.deliver(pullRequest("synchronize", { sha: sha(4) }));
    apps = await world.settledApps();
    expect(world.deploys().slice(before).map(appOf)).toEqual([WEB]);
    expect(apps.api.deployed_sha).toBe(sha(3));
  });

  it("destroys every app when the pull request closes", async () => {
    await open();
    world.gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    const apps = await world.settledApps();
    expect(apps.api).toMatchObject({ status: "destroyed", app_created: 0 });
    expect(apps.web).toMatchObject({ status: "destroyed", app_created: 0 });
    expect(Object.keys(world.fly.apps())).toEqual([]);
    expect(sticky()).toContain("🗑️ Preview destroyed");
  });

  it("destroys an app removed from apps: on the next deploy", async () => {
    await open();
    world.gh.setCommit(REPO, sha(2), files({}, TWO_APPS.replace(/ {4}API_URL.*\n/, "").replace(/ {2}web:[\s\S]*$/, "")), [sha(1)]);
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const apps = await world.settledApps();
    expect(apps.web).toMatchObject({ status: "destroyed", destroy_reason: "removed" });
    expect(Object.keys(world.fly.apps())).toEqual([API]);
  });

  it("keeps one app when the other fails, and the comment says which failed and why", async () => {
    world = await startWorld();
    world.gh.setCommit(REPO, sha(1), files(), []);
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const apps = await world.settledApps();
    const states = [apps.api.status, apps.web.status].sort();
    expect(states).toEqual(["failed", "ready"]);
    const failed = apps.api.status === "failed" ? "api" : "web";
    expect(sticky()).toContain("1 of 2 apps failed");
    expect(sticky()).toContain(failed);
  });

  it("counts apps against max_previews, and waits whole when they do not all fit", async () => {
    world = await startWorld();
    world.gh.setCommit(REPO, sha(1), files({}, `max_previews: 1\n${TWO_APPS}`), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("limited");
    expect(row.last_error).toContain("2 apps do not all fit");
    expect(await world.store.appsOf("Codertocat", "Hello-World", 2)).toEqual([]);
    expect(world.deploys()).toEqual([]);
  });
});

describe("a pull request with three apps", () => {
  it("deploys all three, each knowing the others' URLs, and one comment shows them", async () => {
    world = await startWorld();
    const three = `${TWO_APPS}  worker:
    dockerfile: services/worker/Dockerfile
    context: services/worker
    env:
      API_URL: \${apps.api.url}
      WEB_URL: \${apps.web.url}
`;
    world.gh.setCommit(REPO, sha(1), files({ "services/worker/Dockerfile": DOCKERFILE }, three), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const apps = await world.settledApps();
    const WORKER = "pr-2-worker-codertocat-hello-world";
    expect(Object.values(apps).map((a) => [a.app_key, a.status])).toEqual([
      ["api", "ready"],
      ["web", "ready"],
      ["worker", "ready"],
    ]);
    const worker = world.deploys().find((c) => appOf(c) === WORKER)!;
    expect(worker.argv).toContain(`API_URL=https://${API}.fly.dev`);
    expect(worker.argv).toContain(`WEB_URL=https://${WEB}.fly.dev`);
    expect(world.gh.checkRuns.map((r) => r.name).sort()).toEqual(["Fly Preview / api", "Fly Preview / web", "Fly Preview / worker"]);
    expect(sticky()).toMatch(/✅ Preview ready \(3 apps\)/);
    expect(sticky()).toContain(WORKER);
  });
});

describe("commands on one app of several", () => {
  const WRITER = "maintainer-mo";
  const comment = async (body: string) => {
    world.gh.setPermission(REPO, WRITER, "write");
    const id = Math.floor(Math.random() * 1e9);
    await world.deliverEvent("issue_comment", issueComment(body, { user: WRITER, id }));
    await world.commandsDone();
    return id;
  };

  it("/preview redeploy api rebuilds that app alone; /preview redeploy all of them", async () => {
    await open();
    const before = world.deploys().length;
    await comment("/preview redeploy api --fresh");
    await world.settledApps();
    expect(world.deploys().slice(before).map(appOf)).toEqual([API]);
    const again = world.deploys().length;
    await comment("/preview redeploy");
    await world.settledApps();
    expect(world.deploys().slice(again).map(appOf).sort()).toEqual([API, WEB]);
  });

  it("/preview destroy web destroys that app alone, and a push leaves it destroyed", async () => {
    await open();
    await comment("/preview destroy web");
    const apps = await world.settledApps();
    expect(apps.web).toMatchObject({ status: "destroyed", destroy_reason: "command", destroyed_by: WRITER, paused: 1 });
    expect(apps.api).toMatchObject({ status: "ready", app_created: 1 });
    expect(Object.keys(world.fly.apps())).toEqual([API]);

    world.gh.setCommit(REPO, sha(2), files({ "services/api/main.js": "api v2\n" }), [sha(1)]);
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const after = await world.settledApps();
    expect(after.web.status).toBe("destroyed");
    expect(after.api).toMatchObject({ status: "ready", deployed_sha: sha(2) });
  });

  it("a button of an app's check run acts on that app alone", async () => {
    const apps = await open();
    world.gh.setPermission(REPO, WRITER, "write");
    const before = world.deploys().length;
    const pressed = checkRun("requested_action", { previewId: apps.web.id, identifier: "redeploy", user: WRITER });
    pressed.check_run.name = "Fly Preview / web";
    await world.deliverEvent("check_run", pressed);
    await world.commandsDone();
    await world.settledApps();
    expect(world.deploys().slice(before).map(appOf)).toEqual([WEB]);
  });

  it("/preview redeploy gets its 🚀 once every app it rebuilt is up, not when the apps are handed their desires", async () => {
    await open();
    // Builds that take a while: the pull request's run hands out the desires long before the apps are up.
    world.fly.setBehavior({ deployDelayMs: 1_500 });
    const before = world.deploys().length;
    const id = await comment("/preview redeploy");
    const atRocket = await until("🚀", async () => (world.reactionsTo(id).includes("rocket") ? world.store.appsOf("Codertocat", "Hello-World", 2) : undefined));
    expect(atRocket.map((a) => [a.app_key, a.status, a.observed_generation === a.desired_generation])).toEqual([
      ["api", "ready", true],
      ["web", "ready", true],
    ]);
    await world.settledApps();
    expect(world.deploys().slice(before).map(appOf).sort()).toEqual([API, WEB]);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    // Nothing failed: no reply beside the sticky comment; the command's row says what came of it.
    expect(world.comments()).toHaveLength(1);
    const command = await world.store.db.selectFrom("commands").select("outcome").where("comment_id", "=", id).executeTakeFirstOrThrow();
    expect(command.outcome).toBe("done: api, web up");
  });

  it("/preview redeploy gets 😕 and a reply naming the app that failed, once every app's run has ended", async () => {
    await open();
    // The redeploy releases each app's image again: the first release fails its health checks.
    world.fly.setBehavior({ deploy: [{ fail: "health" }] });
    const id = await comment("/preview redeploy");
    await until("😕", () => world.reactionsTo(id).includes("confused"));
    const apps = await world.settledApps();
    const failed = apps.api.status === "failed" ? "api" : "web";
    const up = failed === "api" ? "web" : "api";
    expect([apps[failed].status, apps[up].status]).toEqual(["failed", "ready"]);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    const reply = await until("the reply", () => world.comments().find((c) => c.body.includes(`<!-- fly-preview command:${id} -->`)));
    expect(reply.body).toContain("`/preview redeploy`: 1 of 2 apps is not up.");
    expect(reply.body).toContain(`- **${failed}** failed: `);
    expect(reply.body).not.toContain(`**${up}**`);
    const command = await world.store.db.selectFrom("commands").select("outcome").where("comment_id", "=", id).executeTakeFirstOrThrow();
    expect(command.outcome).toBe(`failed: ${failed} failed`);
  });

  it("/preview destroy gets its 🚀 once every app is destroyed", async () => {
    world = await startWorld();
    world.gh.setCommit(REPO, sha(1), files({}, withApiHooks("predestroy: ./cleanup")), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settledApps();
    // api's cleanup takes a while: its destroy ends well after the pull request's own.
    world.fly.setBehavior({ commands: { "./cleanup": { delayMs: 1_500 } } });
    const id = await comment("/preview destroy");
    const atRocket = await until("🚀", async () => (world.reactionsTo(id).includes("rocket") ? world.store.appsOf("Codertocat", "Hello-World", 2) : undefined));
    expect(atRocket.map((a) => [a.app_key, a.status])).toEqual([
      ["api", "destroyed"],
      ["web", "destroyed"],
    ]);
    expect(Object.keys(world.fly.apps())).toEqual([]);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
  });

  it("refuses an app the pull request does not have, and does nothing", async () => {
    await open();
    const before = world.deploys().length;
    const id = await comment("/preview destroy worker");
    expect(world.reactionsTo(id)).toContain("confused");
    expect(world.comments().at(-1)!.body).toContain("This pull request has no app `worker`");
    expect(world.deploys().length).toBe(before);
    expect(Object.keys(world.fly.apps()).sort()).toEqual([API, WEB]);
  });
});

describe("hooks of one app of several", () => {
  it("a failed postdeploy shows in that app's row: up, seeding failed, its URL kept and its check run failed", async () => {
    world = await startWorld();
    world.gh.setCommit(REPO, sha(1), files({}, withApiHooks("postdeploy: npm run seed")), []);
    world.fly.setBehavior({ commands: { "npm run seed": { exitCode: 2 } } });
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const apps = await world.settledApps();
    expect(apps.api).toMatchObject({ status: "ready", postdeploy_at: null });
    expect(apps.api.last_error).toMatch(/^postdeploy \(npm run seed\) /);
    // As for a single app: the check run fails, the deployment succeeds.
    const check = world.gh.checkRuns.find((r) => r.name === "Fly Preview / api")!;
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Preview up, but postdeploy failed");
    const deployment = world.gh.deployments.find((d) => d.environment === "pr-2-api")!;
    expect(deployment.statuses.at(-1)?.state).toBe("success");

    const body = sticky();
    expect(body).toMatch(/### ⚠️ Preview up, but postdeploy failed \(1 of 2 apps\)/);
    const apiRow = body.split("\n").find((line) => line.startsWith("| **api** |"))!;
    expect(apiRow).toMatch(new RegExp(`\\[⚠️ Up, seeding failed\\]\\(http[^)]*/runs/${check.id}\\)`));
    expect(apiRow).toContain(`https://${API}.fly.dev`);
    expect(body).toContain("- ⚠️ **api** is up at its URL, but not seeded: postdeploy \\(npm run seed\\) ");
    expect(body).toContain("`/preview redeploy api --fresh` runs it now.");
    expect(body.split("\n").find((line) => line.startsWith("| **web** |"))).toContain("✅ Ready");
  });
});

describe("the expiry of a pull request with apps", () => {
  it("is the pull request's: a pin keeps every app, and once it lapses every app goes", async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    world = await startWorld({ clock });
    world.gh.setCommit(REPO, sha(1), files({}, `ttl: 2d\n${TWO_APPS}`), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settledApps();
    const reapNow = () => reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log, clock }, { dryRun: false });

    world.gh.setPermission(REPO, "maintainer-mo", "write");
    await world.deliverEvent("issue_comment", issueComment("/preview pin", { user: "maintainer-mo" }));
    await world.commandsDone();
    await world.settledApps();
    offset = 3 * 86_400_000;
    expect((await reapNow()).expired).toEqual([]);
    expect(sticky()).toContain("Pinned by @\u200bmaintainer-mo");

    await world.deliverEvent("issue_comment", issueComment("/preview unpin", { user: "maintainer-mo" }));
    await world.commandsDone();
    offset = 6 * 86_400_000;
    const report = await reapNow();
    // One expiry, the pull request's, not one per app.
    expect(report.expired.map((e) => e.number)).toEqual([2]);
    const apps = await world.settledApps();
    expect(apps.api).toMatchObject({ status: "destroyed", destroy_reason: "expired" });
    expect(apps.web).toMatchObject({ status: "destroyed", destroy_reason: "expired" });
    expect(Object.keys(world.fly.apps())).toEqual([]);
  });
});

describe("the database of a pull request with apps", () => {
  const PROJECT = "proud-fog-123456";
  let neon: FakeNeon | undefined;
  afterEach(async () => {
    await neon?.close();
    neon = undefined;
  });

  /** A Neon project the server may use, and pull request 2 open with `apps` sharing a branch of it, every app up. */
  async function openWithNeon(apps = TWO_APPS) {
    const KEY = "neon-test-key-0123456789";
    neon = await startFakeNeon({ keys: [KEY], operationMs: 5 });
    neon.addProject(PROJECT, { tables: ["users"], rows: ["alice"] });
    world = await startWorld({ env: { NEON_API_KEY: KEY, NEON_API_URL: neon.url, PREVIEW_DATABASES: `neon:${PROJECT}` } });
    world.gh.setCommit(REPO, sha(1), files({}, `database:\n  neon:\n    project: ${PROJECT}\n${apps}`), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.settledApps();
    return neon;
  }

  it("is one Neon branch, made before any app deploys, its URL staged on each app, and deleted when the pull request closes", async () => {
    const neon = await openWithNeon();

    const creates = neon.requests.filter((r) => r.method === "POST" && /\/projects\/[^/]+\/branches$/.test(r.path));
    expect(creates).toHaveLength(1);
    expect(creates[0].at).toBeLessThan(Math.min(...world.deploys().map((c) => Date.parse(c.startedAt))));
    expect(neon.branch(PROJECT, "preview/pr-2")).toBeDefined();
    const apiUrl = world.fly.apps()[API].secrets.DATABASE_URL;
    const webUrl = world.fly.apps()[WEB].secrets.DATABASE_URL;
    expect(apiUrl).toBeDefined();
    expect(webUrl?.digest).toBe(apiUrl.digest);
    // Owned by the pull request's row: the apps' rows have none of their own.
    const own = (await world.store.get("Codertocat", "Hello-World", 2))!;
    expect((await world.store.databaseOf(own.id))?.name).toBe("preview/pr-2");
    expect(sticky()).toContain("Neon branch `preview/pr-2`");

    world.gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    await world.settledApps();
    await until("the branch to be deleted", () => neon.branch(PROJECT, "preview/pr-2") === undefined);
  });

  it("is deleted only after every app's destroy has ended, its predestroy hook included", async () => {
    const neon = await openWithNeon(withApiHooks("predestroy: ./export-data"));
    // api's predestroy reads the database, and takes a while.
    world.fly.setBehavior({ commands: { "./export-data": { delayMs: 1_500 } } });

    world.gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    await until("the branch to be deleted", () => neon.branch(PROJECT, "preview/pr-2") === undefined);
    const deleted = neon.requests.find((r) => r.method === "DELETE" && r.path.includes("/branches/"))!;
    const hook = world.fly.calls().find((c) => c.argv[0] === "console" && c.argv.includes("./export-data"))!;
    const destroys = world.fly.calls().filter((c) => c.argv[0] === "apps" && c.argv[1] === "destroy");
    expect(destroys.map((c) => c.argv[2]).sort()).toEqual([API, WEB]);
    for (const call of [hook, ...destroys]) expect(deleted.at).toBeGreaterThanOrEqual(Date.parse(call.endedAt!));
    const apps = await world.settledApps();
    expect([apps.api.status, apps.web.status]).toEqual(["destroyed", "destroyed"]);
    expect(await world.store.databasesToSweep()).toEqual([]);
  });
});


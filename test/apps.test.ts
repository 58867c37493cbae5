// Several apps per pull request (docs/monorepos.md), end to end through the real App, a
// fake GitHub and the fake flyctl: one Fly app, check run and deployment per app, one
// comment with a row per app, `paths` deciding what a push rebuilds.
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { flyDatabaseName, flySharedDatabaseName } from "../src/database/fly-postgres.js";
import { reap } from "../src/preview/reaper.js";
import { secretDigest } from "./fake-flyctl/control.js";
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

  it("destroys every app when the trigger rules stop letting the pull request through, and deploys them again when they do", async () => {
    world = await startWorld();
    const labelled = `trigger:\n  labels: [preview]\n${TWO_APPS}`;
    world.gh.setCommit(REPO, sha(1), files({}, labelled), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("labeled", { sha: sha(1), labels: ["preview"] }));
    expect(Object.values(await world.settledApps()).map((a) => a.status)).toEqual(["ready", "ready"]);

    await world.deliver(pullRequest("unlabeled", { sha: sha(1), labels: [] }));
    const gone = await world.settledApps();
    expect(gone.api).toMatchObject({ status: "destroyed", app_created: 0, destroy_reason: "trigger" });
    expect(gone.web).toMatchObject({ status: "destroyed", app_created: 0, destroy_reason: "trigger" });
    expect(Object.keys(world.fly.apps())).toEqual([]);
    expect((await world.settled()).status).toBe("skipped");
    expect(sticky()).toContain("🗑️ Preview destroyed");
    expect(sticky()).toContain('Add the label "preview" to deploy it again.');

    const before = world.deploys().length;
    await world.deliver(pullRequest("labeled", { sha: sha(1), labels: ["preview"] }));
    const back = await world.settledApps();
    expect([back.api.status, back.web.status]).toEqual(["ready", "ready"]);
    expect(world.deploys().slice(before).map(appOf).sort()).toEqual([API, WEB]);
    expect(Object.keys(world.fly.apps()).sort()).toEqual([API, WEB]);
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

  it("/preview status lists every app, its state, URL and commit, and says why one failed", async () => {
    world = await startWorld();
    world.gh.setCommit(REPO, sha(1), files(), []);
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const apps = await world.settledApps();
    const [failed, up] = apps.api.status === "failed" ? ["api", "web"] : ["web", "api"];
    const id = await comment("/preview status");
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    const body = world.comments().at(-1)!.body;
    expect(body).toContain("**Preview:** 2 apps");
    expect(body).toContain("| App | State | URL | Commit |");
    expect(body).toContain(`| **${up}** | ready | https://pr-2-${up}-codertocat-hello-world.fly.dev | \`${sha(1).slice(0, 7)}\` |`);
    expect(body).toContain(`| **${failed}** | failed | — | — |`);
    expect(body).toMatch(new RegExp(`^\\*\\*Last error of \`${failed}\`:\\*\\* `, "m"));
    // The pull request's expiry, once: its own row has no Fly app and is no row of the table.
    expect(body).toMatch(/^Expires \w+ \d+ at \d\d:\d\d UTC, 7 days after the last push or redeploy/m);
    expect(body).not.toContain("pr-2-codertocat-hello-world");
  });

  it("/preview status NAME shows that app alone, with the pull request's expiry", async () => {
    await open();
    const id = await comment("/preview status web");
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    const body = world.comments().at(-1)!.body;
    expect(body).toContain("**Preview of `web`:** ready");
    expect(body).toContain(`**URL:** https://${WEB}.fly.dev`);
    expect(body).toContain(`**App:** \`${WEB}\``);
    expect(body).toMatch(/^Expires \w+ \d+ at \d\d:\d\d UTC, 7 days after the last push or redeploy/m);
    expect(body).not.toContain(API);

    await comment("/preview destroy web");
    await world.settledApps();
    await comment("/preview status web");
    const destroyed = world.comments().at(-1)!.body;
    expect(destroyed).toContain("**Preview of `web`:** destroyed");
    expect(destroyed).not.toContain("Expires");
    expect(destroyed).toContain("`/preview redeploy web` does");
  });

  it("/preview status of an app the pull request does not have gets a reply naming its apps, and 😕", async () => {
    await open();
    const id = await comment("/preview status worker");
    expect(world.reactionsTo(id)).toContain("confused");
    expect(world.comments().at(-1)!.body).toBe(
      "This pull request has no app `worker` (`apps:` in `.preview.yml`): its apps are `api`, `web`. Nothing was done; `/preview status` alone shows every app.",
    );
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
    // One expiry, the pull request's, not one per app; named by the Fly apps it takes.
    expect(report.expired.map((e) => [e.number, e.apps])).toEqual([[2, [API, WEB]]]);
    const apps = await world.settledApps();
    expect(apps.api).toMatchObject({ status: "destroyed", destroy_reason: "expired" });
    expect(apps.web).toMatchObject({ status: "destroyed", destroy_reason: "expired" });
    expect(Object.keys(world.fly.apps())).toEqual([]);
  });
});

describe("the reaper, fly-preview gc and fly-preview destroy with a pull request with apps", () => {
  // The pull request's own row's name: it never made a Fly app of it.
  const OWN = "pr-2-codertocat-hello-world";
  const reapNow = () => reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log }, { dryRun: false });
  const close = async () => {
    world.gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    return world.settledApps();
  };

  it("leave an open pull request's apps alone, and look for no Fly app of its own row", async () => {
    await open();
    const before = world.fly.calls().length;
    expect(await reapNow()).toMatchObject({ orphans: [], retried: [], expired: [], reminded: [] });
    // One list of the Fly apps: no app asked about, or destroyed, by name.
    expect(world.fly.calls().slice(before).map((c) => c.argv.slice(0, 2))).toEqual([["apps", "list"]]);
    expect(Object.keys(world.fly.apps()).sort()).toEqual([API, WEB]);
  });

  it("sweep an app's Fly app left behind once the pull request closed, by its own name, and never an app named like the pull request's own row", async () => {
    await open();
    await close();
    // Back behind our back (a destroy Fly reported done but did not do), beside an app
    // bearing the own row's name, which no row of fly-preview's created.
    world.fly.seedApp(WEB, "personal");
    world.fly.seedApp(OWN, "personal");
    const report = await reapNow();
    expect(report.orphans.map((o) => o.app)).toEqual([WEB]);
    expect(Object.keys(world.fly.apps())).toEqual([OWN]);
  });

  it("retry the failed destroy of one app, named by its Fly app", async () => {
    await open();
    world.fly.setBehavior({ destroy: [{ fail: "auth" }] });
    const apps = await close();
    const failed = Object.values(apps).find((app) => app.status === "failed")!;
    expect(Object.keys(world.fly.apps())).toEqual([failed.app_name]);
    expect((await world.store.get("Codertocat", "Hello-World", 2))?.status).toBe("destroyed");

    const report = await reapNow();
    expect(report.retried.map((r) => [r.app, r.apps])).toEqual([[failed.app_name, undefined]]);
    await until("the app destroyed", async () => (await world.settledApps())[failed.app_key].status === "destroyed");
    expect(world.fly.apps()).toEqual({});
  });

  it("fly-preview destroy of the pull request destroys every app, and list then shows them destroyed", async () => {
    await open();
    const cli = async (argv: string[]) => {
      let stdout = "";
      const code = await runCli(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stdout += s), stdin: async () => "", env: { DATABASE_URL: world.settings.databaseUrl } });
      return { code, stdout };
    };
    expect(await cli(["destroy", "Codertocat/Hello-World#2"])).toEqual({
      code: 0,
      stdout: `destroy of Codertocat/Hello-World#2 (apps ${API}, ${WEB}) recorded; the running fly-preview server carries it out\n`,
    });
    const apps = await until("every app destroyed", async () => {
      const rows = await world.settledApps();
      return Object.values(rows).every((row) => row.status === "destroyed") ? rows : undefined;
    });
    expect(Object.values(apps).map((row) => [row.app_key, row.destroy_reason, row.paused])).toEqual([
      ["api", "operator", 1],
      ["web", "operator", 1],
    ]);
    expect(world.fly.apps()).toEqual({});
    const list = (await cli(["list"])).stdout;
    expect(list).toMatch(/^Codertocat\/Hello-World#2 +2 apps +destroyed /m);
    expect(list).toMatch(new RegExp(`^Codertocat/Hello-World#2 api +${API} +destroyed `, "m"));
    expect(list).toMatch(new RegExp(`^Codertocat/Hello-World#2 web +${WEB} +destroyed `, "m"));
    expect(list).not.toContain(OWN);
    expect((await cli(["destroy", "Codertocat/Hello-World#2"])).stdout).toBe("Codertocat/Hello-World#2 (no Fly app left) is already destroyed\n");
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

  it("is made again later when Neon fails for a passing reason (503), like a transient flyctl failure, and the apps then deploy", async () => {
    const KEY = "neon-test-key-0123456789";
    const PROJECT = "proud-fog-123456";
    neon = await startFakeNeon({ keys: [KEY], operationMs: 5 });
    neon.addProject(PROJECT, { tables: ["users"], rows: ["alice"] });
    neon.failNext("POST", `/projects/${PROJECT}/branches`, 503, { code: "", message: "service unavailable" });
    world = await startWorld({ env: { NEON_API_KEY: KEY, NEON_API_URL: neon.url, PREVIEW_DATABASES: `neon:${PROJECT}` }, pool: { retryDelaysMs: [150, 150] } });
    world.gh.setCommit(REPO, sha(1), files({}, `database:\n  neon:\n    project: ${PROJECT}\n${TWO_APPS}`), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const waiting = await until("a retry to be scheduled", async () => {
      const row = await world.store.get("Codertocat", "Hello-World", 2);
      return row?.retry_attempts === 1 ? row : undefined;
    });
    expect(waiting.status).toBe("queued");
    expect(waiting.last_error).toMatch(/^The database provider is failing \(Neon's API failed to create the branch preview\/pr-2 /);
    await until("the comment to say why it waits", () => world.comments().find((c) => c.body.includes("The database provider is failing")));

    const apps = await world.settledApps();
    expect(apps.api).toMatchObject({ status: "ready" });
    expect(apps.web).toMatchObject({ status: "ready" });
    expect(neon.branch(PROJECT, "preview/pr-2")).toBeDefined();
    expect(world.fly.apps()[API].secrets.DATABASE_URL).toBeDefined();
  });
});


describe("a Fly Postgres database for a pull request with apps", () => {
  const CLUSTER = "acme-preview-db";
  const OWN = "pr-2-codertocat-hello-world";
  const SHARED = flySharedDatabaseName(OWN);
  const WRITER = "maintainer-mo";
  const withDatabase = (config = TWO_APPS) => `database:\n  fly_postgres:\n    cluster: ${CLUSTER}\n${config}`;
  const cluster = () => world.fly.cluster(CLUSTER);
  const started = (call: { startedAt: string }) => Date.parse(call.startedAt);
  const attachOf = (app: string) => world.fly.calls().find((c) => c.argv[0] === "postgres" && c.argv[1] === "attach" && appOf(c) === app)!;
  /** The URL attach staged on `app`, rebuilt from its user's password once the secret's digest matches it. */
  const urlOf = (app: string) => {
    const user = flyDatabaseName(app);
    const url = `postgres://${user}:${cluster().users[user]!.password}@${CLUSTER}.flycast:5432/${SHARED}?sslmode=disable`;
    expect(world.fly.apps()[app]?.secrets.DATABASE_URL?.digest).toBe(secretDigest(url));
    return url;
  };
  const push = async (n: number, config: string, extra: Record<string, string> = {}) => {
    world.gh.setCommit(REPO, sha(n), files(extra, config), [sha(n - 1)]);
    world.gh.setPull(REPO, 2, { headSha: sha(n) });
    await world.deliver(pullRequest("synchronize", { sha: sha(n) }));
  };
  const close = async () => {
    world.gh.setPull(REPO, 2, { headSha: sha(1), state: "closed" });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    return world.settledApps();
  };
  async function openWithDatabase(config = withDatabase()) {
    world = await startWorld({ env: { PREVIEW_DATABASES: `fly_postgres:${CLUSTER}` } });
    world.fly.createCluster(CLUSTER);
    world.gh.setCommit(REPO, sha(1), files({}, config), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    return world.settledApps();
  }
  /** Nothing of the pull request left on the cluster, nor in the store for a sweep. */
  const nothingLeft = async () => {
    expect(Object.keys(cluster().databases)).toEqual(["postgres"]);
    expect(Object.keys(cluster().users)).toEqual(["postgres"]);
    expect(cluster().attachments).toEqual([]);
    expect(await world.store.databasesToSweep()).toEqual([]);
    expect(world.fly.agents()).toEqual([]);
  };

  it("is one database made before any app deploys, each app a user of its own acting as its owner, and all of it dropped when the pull request closes", async () => {
    const apps = await openWithDatabase();
    expect([apps.api.status, apps.web.status]).toEqual(["ready", "ready"]);

    // The pull request's run made it, by psql, before any app attached or deployed.
    const made = world.fly.calls().find((c) => c.argv[0] === "ssh" && c.stdin?.includes(`CREATE ROLE "${SHARED}" NOLOGIN`))!;
    expect(made).toBeDefined();
    for (const call of [...world.deploys(), attachOf(API), attachOf(WEB)]) expect(started(made)).toBeLessThan(started(call));
    expect(cluster().databases[SHARED]).toMatchObject({ owner: SHARED, publicConnect: false });
    expect(cluster().users[SHARED]).toMatchObject({ login: false });

    for (const app of [API, WEB]) {
      const user = flyDatabaseName(app);
      // Each app attached before its own deploy, as a user of its own on the one database.
      const deploy = world.deploys().find((c) => appOf(c) === app)!;
      expect(attachOf(app).argv).toEqual(expect.arrayContaining(["--database-name", SHARED, "--database-user", user, "--superuser=false"]));
      expect(started(attachOf(app))).toBeLessThan(started(deploy));
      expect(cluster().users[user]).toMatchObject({ superuser: false, readWriteAll: false, memberOf: [SHARED], settings: { role: SHARED } });
      // Its URL opens the shared database as its owner role: what api's migrations make, web uses.
      expect(world.fly.session(CLUSTER, urlOf(app))).toMatchObject({ database: SHARED, currentRole: SHARED, readsEverything: false });
      const password = cluster().users[user]!.password!;
      expect(JSON.stringify(world.logs)).not.toContain(password);
      expect(JSON.stringify(world.gh.requests.map((r) => r.body))).not.toContain(password);
      expect(JSON.stringify(world.fly.calls().map((c) => [c.argv, c.stdin]))).not.toContain(password);
    }
    expect(sticky()).toContain(`database \`${SHARED}\` on the Fly Postgres cluster \`${CLUSTER}\``);
    // The database is the pull request's row's; each app's row has its user.
    const own = (await world.store.get("Codertocat", "Hello-World", 2))!;
    expect(await world.store.databasesOf(own.id)).toEqual([expect.objectContaining({ name: SHARED, onDatabase: null })]);
    expect(await world.store.databasesOf(apps.api.id)).toEqual([expect.objectContaining({ name: flyDatabaseName(API), onDatabase: SHARED })]);
    // `fly-preview status` of an app names the database and the app's own user of it.
    let stdout = "";
    await runCli(["status", "Codertocat/Hello-World#2", "api"], { stdout: (s) => (stdout += s), stderr: (s) => (stdout += s), stdin: async () => "", env: { DATABASE_URL: world.settings.databaseUrl } });
    expect(stdout).toContain(`database ${SHARED} on Fly Postgres cluster ${CLUSTER}, the pull request's, shared by its apps; its own user ${flyDatabaseName(API)}\n`);

    await close();
    await nothingLeft();
  }, 60_000);

  it("/preview reset-db makes it again, empty, then every app deploys again with the URL it had", async () => {
    await openWithDatabase();
    const secrets = [API, WEB].map((app) => world.fly.apps()[app]?.secrets.DATABASE_URL?.digest);
    world.fly.updateCluster(CLUSTER, (c) => void (c.databases[SHARED]!.sessions = 2));
    const before = world.deploys().length;
    world.gh.setPermission(REPO, WRITER, "write");
    await world.deliverEvent("issue_comment", issueComment("/preview reset-db", { user: WRITER }));
    await world.commandsDone();
    await until("both apps to deploy again", () => world.deploys().length >= before + 2);
    await world.settledApps();

    const reset = world.fly.calls().find((c) => c.argv[0] === "ssh" && c.stdin?.includes(`DROP DATABASE IF EXISTS "${SHARED}" WITH (FORCE);`))!;
    const redeploys = world.deploys().slice(before);
    expect(redeploys.map(appOf).sort()).toEqual([API, WEB]);
    for (const call of redeploys) expect(started(reset)).toBeLessThan(started(call));
    expect(cluster().databases[SHARED]).toEqual({ owner: SHARED, publicConnect: false, publicCreate: false, sessions: 0 });
    expect([API, WEB].map((app) => world.fly.apps()[app]?.secrets.DATABASE_URL?.digest)).toEqual(secrets);
    for (const app of [API, WEB]) expect(world.fly.session(CLUSTER, urlOf(app)).currentRole).toBe(SHARED);
    expect((await world.store.get("Codertocat", "Hello-World", 2))!.reset_db).toBe(0);
  }, 60_000);

  it("takes its user from an app removed from apps:, and leaves the database and the other app's", async () => {
    await openWithDatabase();
    const webUrl = urlOf(WEB);
    await push(2, withDatabase(TWO_APPS.replace(/ {4}API_URL.*\n/, "").replace(/ {2}web:[\s\S]*$/, "")));
    const apps = await world.settledApps();
    expect(apps.web).toMatchObject({ status: "destroyed", destroy_reason: "removed" });
    expect(cluster().users[flyDatabaseName(WEB)]).toBeUndefined();
    expect(() => world.fly.session(CLUSTER, webUrl)).toThrow("password authentication failed");
    expect(cluster().attachments.map((a) => a.app)).toEqual([API]);
    expect(cluster().databases[SHARED]).toBeDefined();
    expect(world.fly.session(CLUSTER, urlOf(API)).currentRole).toBe(SHARED);
    expect(await world.store.databasesOf(apps.web.id)).toEqual([]);
  }, 60_000);

  it("an attach that stopped half-way (a user made, no secret) leaves nothing once the pull request closes", async () => {
    world = await startWorld({ env: { PREVIEW_DATABASES: `fly_postgres:${CLUSTER}` } });
    world.fly.createCluster(CLUSTER);
    // What a process killed during one app's attach leaves: its user, no secret on the app.
    world.fly.setBehavior({ attach: [{ fail: "auth", at: "user" }] });
    world.gh.setCommit(REPO, sha(1), files({}, withDatabase()), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const apps = await world.settledApps();
    const failed = apps.api.status === "failed" ? API : WEB;
    expect([apps.api.status, apps.web.status].sort()).toEqual(["failed", "ready"]);
    expect(cluster().users[flyDatabaseName(failed)]).toMatchObject({ readWriteAll: true });
    expect(world.fly.apps()[failed]?.secrets.DATABASE_URL).toBeUndefined();

    await close();
    await nothingLeft();
  }, 60_000);

  it("a pull request that gains apps: drops its one app's database for the apps' shared one, and back", async () => {
    const single = `database:\n  fly_postgres:\n    cluster: ${CLUSTER}\n`;
    const SINGLE = flyDatabaseName(OWN);
    world = await startWorld({ env: { PREVIEW_DATABASES: `fly_postgres:${CLUSTER}` } });
    world.fly.createCluster(CLUSTER);
    world.gh.setCommit(REPO, sha(1), files({ Dockerfile: DOCKERFILE }, single), []);
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    expect((await world.settled()).status).toBe("ready");
    expect(cluster().databases[SINGLE]).toBeDefined();

    await push(2, withDatabase(), { Dockerfile: DOCKERFILE });
    const apps = await world.settledApps();
    expect([apps.api.status, apps.web.status]).toEqual(["ready", "ready"]);
    expect(Object.keys(world.fly.apps()).sort()).toEqual([API, WEB, CLUSTER].sort());
    expect(Object.keys(cluster().databases).sort()).toEqual(["postgres", SHARED].sort());
    expect(cluster().users[SINGLE]).toBeUndefined();

    await push(3, single, { Dockerfile: DOCKERFILE });
    await world.settledApps();
    expect((await world.settled()).status).toBe("ready");
    expect(Object.keys(cluster().databases).sort()).toEqual(["postgres", SINGLE].sort());
    expect(Object.keys(cluster().users).sort()).toEqual(["postgres", SINGLE].sort());
    const own = (await world.store.get("Codertocat", "Hello-World", 2))!;
    expect((await world.store.databasesOf(own.id)).map((d) => d.name)).toEqual([SINGLE]);
  }, 90_000);
});

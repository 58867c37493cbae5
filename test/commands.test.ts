import { afterEach, describe, expect, it } from "vitest";
import { parseCommand, parseCommandWords } from "../src/commands/parse.js";
import { unknownAppReply } from "../src/github/messages.js";
import { formatDay } from "../src/github/markdown.js";
import { RunPool } from "../src/preview/pool.js";
import { reap } from "../src/preview/reaper.js";
import { openStore } from "../src/store/store.js";
import { checkRun, DOCKERFILE, issueComment, PREVIEW_YML, pullRequest, REPO, sha, startWorld, until, type World, type WorldOptions } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";
const WRITER = "maintainer-mo";
const READER = "drive-by-dee";

/** A world with PR #2 deployed and ready at sha(1), one writer and one reader. */
async function readyWorld(files?: Record<string, string>, options?: WorldOptions) {
  world = await startWorld(options);
  world.commit(sha(1), files);
  world.gh.setPull(REPO, 2, { headSha: sha(1) });
  world.gh.setPermission(REPO, WRITER, "write");
  world.gh.setPermission(REPO, READER, "read");
  await world.deliver(pullRequest("opened", { sha: sha(1) }));
  await world.settled();
  return world;
}

async function say(body: string, user: string, id = Math.floor(Math.random() * 1e9)) {
  await world.deliverEvent("issue_comment", issueComment(body, { user, id }));
  await world.commandsDone();
  return id;
}

const tarballs = () => world.gh.requests.filter((r) => r.method === "GET" && r.path.includes("/tarball/"));

const replies = () => world.comments().filter((c) => !c.body.includes("<!-- fly-preview -->"));
const sticky = () => world.comments().find((c) => c.body.includes("<!-- fly-preview -->"))!;

describe("parsing a comment", () => {
  it("finds the first line that starts with /preview, in any case, anywhere in the comment", () => {
    expect(parseCommand("Looks good!\n  /Preview   Redeploy please \n/preview destroy")).toEqual({
      name: "redeploy",
      text: "/Preview   Redeploy please",
    });
    expect(parseCommand("/preview")).toEqual({ name: "help", text: "/preview" });
    expect(parseCommand("/preview launch")).toEqual({ name: "unknown", text: "/preview launch" });
  });

  it("ignores text that is not a command", () => {
    expect(parseCommand("see /preview redeploy")).toBeUndefined();
    expect(parseCommand("/previewing is fun")).toBeUndefined();
    expect(parseCommand("> /preview destroy\n\nwhy did you do that?")).toBeUndefined();
    expect(parseCommand("```\n/preview destroy\n```")).toBeUndefined();
  });
});

describe("the words of a command: the app it names, and the rest", () => {
  const words = (body: string) => parseCommandWords(parseCommand(body)!.text);

  it("reads an app's name after redeploy and destroy, in any case and beside options in any place", () => {
    expect(words("/preview redeploy api")).toEqual({ name: "redeploy", app: "api", args: [] });
    expect(words("/Preview  Destroy   Web ")).toEqual({ name: "destroy", app: "web", args: [] });
    expect(words("/preview redeploy api --fresh")).toEqual({ name: "redeploy", app: "api", args: ["--fresh"] });
    expect(words("/preview redeploy --fresh web-2")).toEqual({ name: "redeploy", app: "web-2", args: ["--fresh"] });
    expect(words("/preview status API")).toEqual({ name: "status", app: "api", args: [] });
    expect(words("/preview status")).toEqual({ name: "status", args: [] });
  });

  it("without a name, acts on every app: no app, and the options as they were", () => {
    expect(words("/preview redeploy")).toEqual({ name: "redeploy", args: [] });
    expect(words("/preview redeploy --fresh")).toEqual({ name: "redeploy", args: ["--fresh"] });
    expect(words("/preview destroy")).toEqual({ name: "destroy", args: [] });
    expect(words("/preview")).toEqual({ name: "help", args: [] });
  });

  it("reads no app after the commands about the whole pull request: extend keeps its duration", () => {
    expect(words("/preview extend 3d")).toEqual({ name: "extend", args: ["3d"] });
    expect(words("/preview extend api 3d")).toEqual({ name: "extend", args: ["api", "3d"] });
    expect(words("/preview pin web")).toEqual({ name: "pin", args: ["web"] });
    expect(words("/preview approve")).toEqual({ name: "approve", args: [] });
    expect(words("/preview launch web")).toEqual({ name: "unknown", args: ["web"] });
  });

  it("refuses a word that cannot be an app's name, saying what one looks like, and keeps the words", () => {
    const bad = words("/preview destroy web_api --fresh");
    expect(bad).toMatchObject({ name: "destroy", args: ["web_api", "--fresh"] });
    expect(bad.app).toBeUndefined();
    expect(bad.refusal).toBe(
      "`web_api` is not an app's name: apps are named under `apps:` in `.preview.yml`, with lowercase letters, digits and hyphens, " +
        "starting with a letter, at most 20 characters, like `/preview destroy api`. Without a name, `/preview destroy` acts on every app.",
    );
    // A duration, a number, a hyphen at the end: none is an app's name.
    for (const word of ["3d", "42", "web-", "a--b", "x".repeat(21)]) expect(words(`/preview redeploy ${word}`).refusal).toContain("is not an app's name");
    expect(words(`/preview redeploy ${"x".repeat(20)}`).app).toBe("x".repeat(20));
  });

  it("refuses two apps at once rather than acting on one of them", () => {
    const two = words("/preview destroy api web");
    expect(two).toMatchObject({ name: "destroy", app: "api", args: ["web"] });
    expect(two.refusal).toBe("`/preview destroy` takes one app at a time, like `/preview destroy api`; without a name it acts on every app.");
    expect(words("/preview status api web").refusal).toBe("`/preview status` takes one app at a time, like `/preview status api`; without a name it shows every app.");
  });

  it("shows a hostile word in code, cut short, in the refusal", () => {
    const refusal = words("/preview redeploy `@team<img>[x](http://evil)" + "y".repeat(500)).refusal!;
    expect(refusal.startsWith("`` `@team<img>[x](http://evil)yyy")).toBe(true);
    expect(refusal).toContain("y… `` is not an app's name");
    expect(refusal.length).toBeLessThan(400);
  });

  it("names the apps a pull request has when a command names another", () => {
    expect(unknownAppReply("redeploy", "apy", ["api", "web"])).toBe(
      "This pull request has no app `apy` (`apps:` in `.preview.yml`): its apps are `api`, `web`. Nothing was done; `/preview redeploy` alone acts on every app.",
    );
  });
});

describe("slash-commands", () => {
  it("/preview redeploy from a writer redeploys the unchanged commit without a build", async () => {
    await readyWorld();
    const id = await say("/preview redeploy", WRITER);
    const row = await until("the redeploy", async () => {
      const r = await world.settled();
      return world.deploys().length === 2 ? r : undefined;
    });

    expect(row.status).toBe("ready");
    const [first, second] = world.deploys();
    expect(first.argv).toContain("--image-label");
    expect(second.argv).toContain("--image");
    expect(second.argv[second.argv.indexOf("--image") + 1]).toBe(`registry.fly.io/${APP}:pr-2-${sha(1).slice(0, 7)}`);
    expect(second.argv).not.toContain("--image-label");
    // Releasing an image needs no source: the tarball was downloaded once, for the build.
    expect(tarballs()).toHaveLength(1);
    const runs = world.gh.checkRuns.filter((c) => c.head_sha === sha(1));
    expect(runs).toHaveLength(1);
    expect(runs[0].history.map((h) => h.conclusion ?? h.status)).toEqual(["in_progress", "success", "in_progress", "success"]);
    expect(runs[0].output?.summary).toContain("without a build");
    await until("🚀", () => world.reactionsTo(id).includes("rocket"));
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    expect(replies()).toEqual([]);
  });

  it("/preview redeploy builds again when the image is gone from the registry", async () => {
    await readyWorld();
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    await say("/preview redeploy", WRITER);
    await until("a redeploy with a build", () => world.deploys().length === 3);
    const row = await world.settled();
    expect(row.status).toBe("ready");
    expect(world.deploys()[2].argv).toContain("--image-label");
    expect(tarballs()).toHaveLength(2);
  });

  it("a redeploy without a build still applies the repository's own fly_toml, read alone", async () => {
    await readyWorld({
      Dockerfile: DOCKERFILE,
      ".preview.yml": `${PREVIEW_YML}fly_toml: deploy/fly.toml\n`,
      "deploy/fly.toml": "kill_timeout = 17\n",
    });
    await say("/preview redeploy", WRITER);
    await until("the redeploy", () => world.deploys().length === 2);
    await world.settled();
    expect(world.deploys()[1].argv).toContain("--image");
    expect(tarballs()).toHaveLength(1);
    expect(world.gh.requests.some((r) => r.path.includes("/contents/deploy%2Ffly.toml") || r.path.includes("/contents/deploy/fly.toml"))).toBe(true);
    const run = world.gh.checkRuns.find((c) => c.head_sha === sha(1))!;
    expect(run.output?.text).toContain("kill_timeout = 17");
  });

  it("a redeploy that fails gets 😕, and the sticky comment says why", async () => {
    await readyWorld();
    world.fly.setBehavior({ deploy: [{ fail: "build" }, { fail: "build" }] });
    const id = await say("/preview redeploy", WRITER);
    await until("😕", () => world.reactionsTo(id).includes("confused"));
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(sticky().body).toContain("❌ Preview failed");
  });

  it("/preview redeploy from a reader is refused politely, with 😕, and nothing happens", async () => {
    await readyWorld();
    const id = await say("/preview redeploy", READER);

    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(replies()).toHaveLength(1);
    expect(replies()[0].body).toContain("only people with write access");
    await new Promise((r) => setTimeout(r, 200));
    expect(world.deploys()).toHaveLength(1);
  });

  it("/preview destroy from a writer destroys the preview and the comment says who did", async () => {
    await readyWorld();
    const id = await say("/preview destroy", WRITER);
    const row = await until("destroyed", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });

    expect(row.paused).toBe(1);
    expect(world.fly.apps()[APP]).toBeUndefined();
    expect(sticky().body).toContain(`Destroyed by @\u200b${WRITER} with \`/preview destroy\``);
    expect(sticky().body).toContain("Pushes do not bring it back");
    await until("🚀", () => world.reactionsTo(id).includes("rocket"));
    expect(world.gh.deployments[0].statuses.at(-1)?.state).toBe("inactive");
  });

  it("/preview destroy from a reader is refused", async () => {
    await readyWorld();
    const id = await say("/preview destroy", READER);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(world.fly.apps()[APP]).toBeDefined();
    expect((await world.settled()).status).toBe("ready");
  });

  it("a maintainer may destroy; a triager may not", async () => {
    await readyWorld();
    world.gh.setPermission(REPO, "tri", "triage");
    world.gh.setPermission(REPO, "main", "maintain");
    const refused = await say("/preview destroy", "tri");
    expect(world.reactionsTo(refused)).toEqual(["eyes", "confused"]);
    await say("/preview destroy", "main");
    await until("destroyed", async () => (await world.settled()).status === "destroyed");
  });

  it("after /preview destroy, a push does not bring the preview back; /preview redeploy does", async () => {
    await readyWorld();
    await say("/preview destroy", WRITER);
    await until("destroyed", async () => (await world.settled()).status === "destroyed");

    world.commit(sha(2));
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    await new Promise((r) => setTimeout(r, 300));
    const paused = await world.settled();
    expect(paused.status).toBe("destroyed");
    expect(world.deploys()).toHaveLength(1);

    await say("/preview redeploy", WRITER);
    const back = await until("back", async () => {
      const r = await world.settled();
      return r.status === "ready" ? r : undefined;
    });
    expect(back.deployed_sha).toBe(sha(2));
    expect(back.paused).toBe(0);
    expect(world.fly.apps()[APP]).toBeDefined();
    expect(sticky().body).toContain("✅ Preview ready");
  });

  it.each([WRITER, READER])("/preview status from %s answers with the state, URL and commit", async (user) => {
    await readyWorld();
    const id = await say("/preview status", user);
    expect(replies()).toHaveLength(1);
    const body = replies()[0].body;
    expect(body).toContain("**Preview:** ready");
    expect(body).toContain(`https://${APP}.fly.dev`);
    expect(body).toContain(sha(1).slice(0, 7));
    expect(body).toMatch(/Expires \w+ \d+ at \d\d:\d\d UTC, 7 days after the last push or redeploy/);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
  });

  it("/preview status shows the last error", async () => {
    await readyWorld();
    world.commit(sha(2));
    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    world.fly.setBehavior({ deploy: [{ fail: "build" }] });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    await until("failed", async () => (await world.settled()).status === "failed");
    await say("/preview status", READER);
    expect(replies()[0].body).toContain("**Last error:**");
  });

  it.each([WRITER, READER])("/preview help from %s lists the commands", async (user) => {
    await readyWorld();
    const id = await say("/preview help", user);
    const body = replies()[0].body;
    for (const name of ["redeploy", "destroy", "status", "help"]) expect(body).toContain(`\`/preview ${name}\``);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
  });

  it("an unknown command gets the list of commands and 😕", async () => {
    await readyWorld();
    const id = await say("/preview launch-the-rockets", WRITER);
    expect(replies()[0].body).toContain("I don't know `/preview launch-the-rockets`");
    expect(replies()[0].body).toContain("`/preview redeploy`");
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
  });

  it("ignores comments by bots, edited comments and comments on plain issues", async () => {
    await readyWorld();
    await world.deliverEvent("issue_comment", issueComment("/preview destroy", { user: "some-bot[bot]", userType: "Bot" }));
    await world.deliverEvent("issue_comment", issueComment("/preview destroy", { user: WRITER, action: "edited" }));
    await world.deliverEvent("issue_comment", issueComment("/preview destroy", { user: WRITER, onIssue: true }));
    await new Promise((r) => setTimeout(r, 200));

    expect(await world.store.db.selectFrom("commands").selectAll().execute()).toEqual([]);
    expect(world.gh.reactions).toEqual([]);
    expect(replies()).toEqual([]);
    expect((await world.settled()).status).toBe("ready");
  });

  it("on a repository without .preview.yml, says previews are not configured", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: "FROM scratch\n" });
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    world.gh.setPermission(REPO, WRITER, "admin");
    const id = await say("/preview redeploy", WRITER);
    expect(replies()[0].body).toContain("Previews are not configured for this repository");
    expect(replies()[0].body).toContain("configuration.md");
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(world.fly.calls()).toEqual([]);
  });

  it("a redeploy deploys a draft pull request the trigger rules skip", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.gh.setPull(REPO, 2, { headSha: sha(1), draft: true });
    world.gh.setPermission(REPO, WRITER, "write");
    await world.deliver(pullRequest("opened", { sha: sha(1), draft: true }));
    expect((await world.settled()).status).toBe("skipped");
    await say("/preview redeploy", WRITER);
    await until("ready", async () => (await world.settled()).status === "ready");
  });

  it("a draft deployed by redeploy is judged by the trigger rules again at its next push", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.commit(sha(2));
    world.gh.setPull(REPO, 2, { headSha: sha(1), draft: true });
    world.gh.setPermission(REPO, WRITER, "write");
    await world.deliver(pullRequest("opened", { sha: sha(1), draft: true }));
    await say("/preview redeploy", WRITER);
    await until("ready", async () => (await world.settled()).status === "ready");

    await world.deliver(pullRequest("synchronize", { sha: sha(2), draft: true }));
    const row = await until("skipped", async () => {
      const r = await world.settled();
      return r.status === "skipped" ? r : undefined;
    });
    expect(row.app_created).toBe(0);
    expect(world.fly.apps()["pr-2-codertocat-hello-world"]).toBeUndefined();
  });
});

describe("the check run's buttons and Re-run", () => {
  it("offers Redeploy and Destroy buttons", async () => {
    await readyWorld();
    const run = world.gh.requests.find((r) => r.method === "POST" && r.path.endsWith("/check-runs"));
    expect(run?.body.actions.map((a: { identifier: string }) => a.identifier)).toEqual(["redeploy", "destroy"]);
    expect(run?.body.external_id).toBe(String((await world.settled()).id));
  });

  it("Redeploy from a writer redeploys; from a reader it is refused with a reply", async () => {
    await readyWorld();
    const previewId = (await world.settled()).id;
    await world.deliverEvent("check_run", checkRun("requested_action", { previewId, identifier: "redeploy", user: READER }));
    await world.commandsDone();
    expect(replies()).toHaveLength(1);
    expect(replies()[0].body).toContain(`@${READER}: Sorry, only people with write access`);
    expect(world.deploys()).toHaveLength(1);

    await world.deliverEvent("check_run", checkRun("requested_action", { previewId, identifier: "redeploy", user: WRITER }));
    await world.commandsDone();
    await until("the redeploy", () => world.deploys().length === 2);
    expect((await world.settled()).status).toBe("ready");
  });

  it("Destroy from a writer destroys the preview", async () => {
    await readyWorld();
    const previewId = (await world.settled()).id;
    await world.deliverEvent("check_run", checkRun("requested_action", { previewId, identifier: "destroy", user: WRITER }));
    await world.commandsDone();
    await until("destroyed", async () => (await world.settled()).status === "destroyed");
    expect(world.fly.apps()[APP]).toBeUndefined();
  });

  it("Destroy from a reader is refused", async () => {
    await readyWorld();
    const previewId = (await world.settled()).id;
    await world.deliverEvent("check_run", checkRun("requested_action", { previewId, identifier: "destroy", user: READER }));
    await world.commandsDone();
    expect(replies()[0].body).toContain(`@${READER}`);
    expect(world.fly.apps()[APP]).toBeDefined();
  });

  it("Re-run redeploys the pull request's head", async () => {
    await readyWorld();
    const previewId = (await world.settled()).id;
    await world.deliverEvent("check_run", checkRun("rerequested", { previewId, user: WRITER }));
    await world.commandsDone();
    await until("the redeploy", () => world.deploys().length === 2);
    expect((await world.settled()).status).toBe("ready");
  });

  it("ignores a check run that is not one of ours", async () => {
    await readyWorld();
    const payload = checkRun("rerequested", { previewId: 999, user: WRITER });
    await world.deliverEvent("check_run", payload);
    await new Promise((r) => setTimeout(r, 100));
    expect(await world.store.db.selectFrom("commands").selectAll().execute()).toEqual([]);
  });
});

describe("commands when GitHub fails", () => {
  const PULL = "/api/v3/repos/Codertocat/Hello-World/pulls/2";
  const pullGets = () => world.gh.requests.filter((r) => r.method === "GET" && r.path === PULL);
  const commandRow = async () => (await world.store.db.selectFrom("commands").selectAll().execute())[0];

  it("a command that meets a GitHub 502 is tried again later and carried out, not marked failed", async () => {
    await readyWorld(undefined, { pool: { retryDelaysMs: [100, 100] } });
    world.gh.failNext("GET", PULL, 502, 1);
    const id = await say("/preview status", READER);

    expect(await commandRow()).toMatchObject({ outcome: "done: status sent", attempts: 1 });
    expect(replies().map((c) => c.body)).toEqual([expect.stringContaining("**Preview:** ready")]);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
  });

  it("a secondary rate limit (403 with retry-after) is retried, not sooner than GitHub asks", async () => {
    await readyWorld(undefined, { pool: { retryDelaysMs: [50] } });
    world.gh.failNext("GET", PULL, 403, 1, {
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      headers: { "retry-after": "1" },
    });
    await say("/preview status", READER);

    expect(await commandRow()).toMatchObject({ outcome: "done: status sent", attempts: 1 });
    const [first, second] = pullGets();
    expect(second.at - first.at).toBeGreaterThanOrEqual(1000);
  });

  it("a 403 that is not a rate limit fails at once with 😕", async () => {
    await readyWorld(undefined, { pool: { retryDelaysMs: [50] } });
    world.gh.failNext("GET", PULL, 403, 1, { message: "Resource not accessible by integration" });
    const id = await say("/preview status", READER);

    expect(await commandRow()).toMatchObject({ attempts: 0 });
    expect((await commandRow()).outcome).toMatch(/^failed: Resource not accessible by integration/);
    expect(pullGets()).toHaveLength(1);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
  });

  it("GitHub failing past the last retry finishes the command as failed, saying how often it tried", async () => {
    await readyWorld(undefined, { pool: { retryDelaysMs: [50, 50] } });
    world.gh.failNext("GET", PULL, 503, 3);
    const id = await say("/preview status", READER);

    expect((await commandRow()).outcome).toMatch(/^failed: fake failure 503.*\(gave up after 3 attempts\)$/);
    expect(pullGets()).toHaveLength(3);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
  });

  it("a command slower than its lease runs once, though another worker is looking for work", async () => {
    await readyWorld(undefined, { pool: { leaseMs: 300 } });
    const other = new RunPool(
      { appId: 1, store: world.store, settings: world.settings, flyctl: world.flyctl, github: (id) => world.probot.auth(id), log: world.probot.log },
      { concurrency: 1, pollMs: 25, leaseMs: 300, settleMs: 40 },
    );
    other.start();
    try {
      world.gh.delayNext("GET", PULL, 1200);
      await say("/preview status", READER);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await other.stop();
    }

    expect(pullGets()).toHaveLength(1);
    expect(replies()).toHaveLength(1);
  });
});

describe("pin, unpin and extend", () => {
  const DAY = 86_400_000;
  let offset = 0;
  const clock = () => Date.now() + offset;
  const reapNow = () => reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log, clock }, { dryRun: false });
  const row = async () => (await world.store.get("Codertocat", "Hello-World", 2))!;
  /** What a store opened afresh on the same database reads: what a restarted server would. */
  const afterRestart = async () => {
    const reopened = await openStore(world.settings.databaseUrl);
    try {
      return (await reopened.get("Codertocat", "Hello-World", 2))!;
    } finally {
      await reopened.close();
    }
  };
  const stickySays = (text: string) => until(`the sticky comment to say ${text}`, async () => (await world.settled()) && sticky().body.includes(text));

  it("a writer's /preview pin is recorded and survives a restart, the comment says who pinned it, and the reaper never expires it", async () => {
    offset = 0;
    await readyWorld(undefined, { clock });
    const before = sticky().body;
    expect(before).toMatch(/Expires \w+ \d+ at \d\d:\d\d UTC, 7 days after the last push or redeploy \(`ttl` in \.preview\.yml\)\./);

    const id = await say("/preview pin", WRITER);
    await stickySays(`📌 Pinned by @\u200b${WRITER}: does not expire while the pull request is open`);
    expect(sticky().body).not.toContain("Expires ");
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    expect(replies()).toEqual([]);
    expect(await afterRestart()).toMatchObject({ pinned_by: WRITER, pinned_at: expect.any(Number) });

    offset = 30 * DAY;
    expect(await reapNow()).toMatchObject({ expired: [], reminded: [] });
    // A pinned preview has nothing to extend.
    await say("/preview extend 1d", WRITER);
    expect(replies().at(-1)?.body).toContain("📌 Pinned by");
    expect((await row()).extended_until).toBeNull();
  });

  it("/preview unpin lets it expire again, a full ttl after the unpin at the earliest", async () => {
    offset = 0;
    await readyWorld(undefined, { clock });
    await say("/preview pin", WRITER);
    await stickySays("📌 Pinned by");
    offset = 30 * DAY;
    const id = await say("/preview unpin", WRITER);
    await stickySays(`7 days after @\u200b${WRITER} unpinned it`);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    const unpinned = await afterRestart();
    expect(unpinned).toMatchObject({ pinned_by: null, extended_by: WRITER, extended_ms: null });
    // A fresh ttl from the unpin (give or take the time the command took).
    expect(Math.abs(unpinned.extended_until! - (clock() + 7 * DAY))).toBeLessThan(60_000);

    expect((await reapNow()).expired).toEqual([]);
    offset += 7 * DAY + 60_000;
    expect((await reapNow()).expired.map((e) => e.app)).toEqual([APP]);
  });

  it("a writer's /preview extend 3d moves the expiry out from the current one; the reaper keeps it until then", async () => {
    offset = 0;
    await readyWorld(undefined, { clock });
    const { activity_at } = await row();
    const until = activity_at! + 10 * DAY;

    const id = await say("/preview extend 3d", WRITER);
    await stickySays(`Expires ${formatDay(until)}, extended by @\u200b${WRITER} with \`/preview extend 3d\`.`);
    expect(world.reactionsTo(id)).toEqual(["eyes", "rocket"]);
    expect(await afterRestart()).toMatchObject({ extended_until: until, extended_by: WRITER, extended_ms: 3 * DAY });

    offset = 9 * DAY;
    expect((await reapNow()).expired).toEqual([]);
    offset = until - Date.now() + 60_000;
    expect((await reapNow()).expired.map((e) => e.app)).toEqual([APP]);
  });

  it("refuses an extension past 4 × ttl from now, naming the latest expiry and the longest extension that fits", async () => {
    offset = 0;
    await readyWorld(undefined, { clock });
    const id = await say("/preview extend 25d", WRITER);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    const reply = replies().at(-1)!.body;
    expect(reply).toContain("may be kept at most 4 × `ttl` (28d) from now");
    expect(reply).toContain("The most it can be extended by now is `/preview extend 21d`.");
    expect((await row()).extended_until).toBeNull();

    // The longest that fits is accepted.
    const fits = await say("/preview extend 21d", WRITER);
    expect(world.reactionsTo(fits)).toEqual(["eyes", "rocket"]);
    expect((await row()).extended_ms).toBe(21 * DAY);
  });

  it.each(["/preview extend", "/preview extend soon", "/preview extend 0d"])("%s, with no duration, is refused saying how to write one", async (text) => {
    offset = 0;
    await readyWorld(undefined, { clock });
    const id = await say(text, WRITER);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(replies().at(-1)?.body).toContain("`/preview extend 3d`");
    expect((await row()).extended_until).toBeNull();
  });

  it.each(["/preview pin", "/preview unpin", "/preview extend 1d"])("%s from a reader is refused, and nothing is recorded", async (text) => {
    offset = 0;
    await readyWorld(undefined, { clock });
    if (text === "/preview unpin") await say("/preview pin", WRITER);
    const id = await say(text, READER);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(replies().at(-1)?.body).toContain("only people with write access");
    expect(await row()).toMatchObject({ pinned_by: text === "/preview unpin" ? WRITER : null, extended_until: null });
  });

  it("a destroy forgets the pin: a preview deployed again starts afresh", async () => {
    offset = 0;
    await readyWorld(undefined, { clock });
    await say("/preview pin", WRITER);
    await say("/preview destroy", WRITER);
    await until("destroyed", async () => (await world.settled()).status === "destroyed");
    expect((await row()).pinned_by).toBeNull();
    // A destroyed preview has no expiry to show.
    expect(sticky().body).toContain("🗑️ Preview destroyed");
    expect(sticky().body).not.toContain("Pinned");
    expect(sticky().body).not.toContain("Expires ");
  });
});

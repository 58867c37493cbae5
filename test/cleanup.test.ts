import { afterEach, describe, expect, it } from "vitest";
import { formatDay } from "../src/github/markdown.js";
import { reap } from "../src/preview/reaper.js";
import { APP_REMOVED_OUTCOME } from "../src/store/store.js";
import { DOCKERFILE, issueComment, load, prInfo, pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const app = (n: number) => `pr-${n}-codertocat-hello-world`;
const WRITER = "maintainer-mo";
const sticky = (n: number) => world.comments(`${REPO}#${n}`).find((c) => c.body.includes("<!-- fly-preview -->"))!;

async function open(n: number, commit = sha(1)) {
  world.gh.setPull(REPO, n, { headSha: commit });
  await world.deliver(pullRequest("opened", { sha: commit, number: n }));
  return world.settled(n);
}

describe("limits", () => {
  it("past max_previews a PR waits, says which limit, and deploys by itself when a slot frees", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "max_previews: 1\n" });
    expect((await open(2)).status).toBe("ready");
    const waiting = await open(3);

    expect(waiting.status).toBe("limited");
    expect(world.fly.apps()[app(3)]).toBeUndefined();
    const check = world.gh.checkRuns.find((c) => c.external_id === String(waiting.id))!;
    expect(check.conclusion).toBe("neutral");
    expect(check.output?.summary).toContain("max_previews: 1");
    expect(sticky(3).body).toContain("⏳ Preview waiting for a free slot");
    expect(sticky(3).body).toContain("to free a slot");

    await world.deliver(pullRequest("closed", { sha: sha(1), number: 2 }));
    const freed = await until("#3 deployed", async () => {
      const r = await world.settled(3);
      return r.status === "ready" ? r : undefined;
    });
    expect(world.fly.apps()[app(3)]).toBeDefined();
    expect(world.fly.apps()[app(2)]).toBeUndefined();
    expect(freed.last_error).toBeNull();
  });

  it("past PREVIEW_MAX_PER_INSTALLATION a PR waits; /preview redeploy retries, and succeeds once a slot is free", async () => {
    world = await startWorld({ env: { PREVIEW_MAX_PER_INSTALLATION: "1" } });
    world.commit(sha(1));
    world.gh.setPermission(REPO, WRITER, "write");
    await open(2);
    const waiting = await open(3);
    expect(waiting.last_error).toContain("PREVIEW_MAX_PER_INSTALLATION=1");

    const id = Math.floor(Math.random() * 1e9);
    const comment = issueComment("/preview redeploy", { user: WRITER, id });
    comment.issue.number = 3;
    await world.deliverEvent("issue_comment", comment);
    await world.commandsDone();
    await until("😕: still no slot", () => world.reactionsTo(id).includes("confused"));
    expect((await world.settled(3)).status).toBe("limited");

    const destroy = issueComment("/preview destroy", { user: WRITER });
    await world.deliverEvent("issue_comment", destroy);
    await world.commandsDone();
    await until("#3 deployed", async () => (await world.settled(3)).status === "ready");
  });

  it("idle previews cost nothing: shared CPU, 256 MB, machines stop when idle", async () => {
    world = await startWorld();
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "" });
    await open(2);
    const deploy = world.deploys()[0];
    expect(deploy.argv).toEqual(expect.arrayContaining(["--vm-memory", "256", "--vm-cpu-kind", "shared", "--vm-cpus", "1"]));
    const toml = world.gh.checkRuns[0].output?.text ?? "";
    expect(toml).toContain('auto_stop_machines = "stop"');
    expect(toml).toContain("min_machines_running = 0");
  });
});

describe("expiry", () => {
  it("a preview idle past its TTL is destroyed by the reaper, and a push brings it back", async () => {
    let offset = 0;
    world = await startWorld({ clock: () => Date.now() + offset });
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "ttl: 2d\n" });
    world.commit(sha(2), { Dockerfile: DOCKERFILE, ".preview.yml": "ttl: 2d\n" });
    await open(2);

    const deps = { store: world.store, flyctl: world.flyctl, log: world.probot.log, clock: () => Date.now() + offset };
    offset = 1 * 86_400_000;
    expect((await reap(deps, { dryRun: false })).expired).toEqual([]);
    offset = 2 * 86_400_000 + 60_000;
    const report = await reap(deps, { dryRun: false });
    expect(report.expired.map((e) => e.app)).toEqual([app(2)]);

    const row = await until("expired", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });
    expect(row.destroy_reason).toBe("expired");
    expect(world.fly.apps()[app(2)]).toBeUndefined();
    expect(sticky(2).body).toContain("It expired after 2d without a push or a command");
    expect(sticky(2).body).toContain("`/preview redeploy`");

    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    await until("back", async () => (await world.settled()).status === "ready");
  });
});

describe("the reminder before expiry", () => {
  const DAY = 86_400_000;
  const HOUR = 3_600_000;
  let offset = 0;
  const clock = () => Date.now() + offset;
  const reapNow = () => reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log, clock }, { dryRun: false });
  const notices = () => world.comments(`${REPO}#2`).filter((c) => c.body.includes("<!-- fly-preview notice:"));
  const edits = () => world.gh.requests.filter((r) => r.method === "PATCH" && r.path.includes("/issues/comments/")).length;
  const mo = async (text: string) => {
    world.gh.setPermission(REPO, WRITER, "write");
    await world.deliverEvent("issue_comment", issueComment(text, { user: WRITER }));
    await world.commandsDone();
  };
  /** `ttl: 2d`: the reminder is due in the ttl's last tenth, 4.8 hours before. */
  async function twoDayPreview(extra = "") {
    offset = 0;
    world = await startWorld({ clock });
    for (const n of [1, 2]) world.commit(sha(n), { Dockerfile: DOCKERFILE, ".preview.yml": `ttl: 2d\n${extra}` });
    return open(2);
  }

  it("edits the sticky comment once, a day or the ttl's last tenth before; again for a new expiry after an extension", async () => {
    const { activity_at } = await twoDayPreview();
    const expiry = activity_at! + 2 * DAY;
    offset = 1 * DAY;
    expect((await reapNow()).reminded).toEqual([]);

    offset = 2 * DAY - 2 * HOUR;
    expect((await reapNow()).reminded).toEqual([{ app: app(2), repo: REPO, number: 2, expiresAt: expiry }]);
    const before = edits();
    await until("the reminder in the sticky comment", async () => (await world.settled()) && sticky(2).body.includes("⏰"));
    expect(sticky(2).body).toContain("⏰ This preview expires in about 2 hours: push, or comment `/preview extend 1d` or `/preview pin`, to keep it.");
    expect(edits()).toBe(before + 1);
    expect(world.comments(`${REPO}#2`)).toHaveLength(1);
    expect((await world.store.get("Codertocat", "Hello-World", 2))!.reminded_for).toBe(expiry);

    // Once per expiry.
    offset += HOUR;
    expect((await reapNow()).reminded).toEqual([]);

    // An extension is a new expiry: the reminder goes until that one is near.
    await mo("/preview extend 1d");
    await until("the reminder gone", async () => (await world.settled()) && !sticky(2).body.includes("⏰"));
    offset = 3 * DAY - 3 * HOUR;
    expect((await reapNow()).reminded.map((r) => r.expiresAt)).toEqual([expiry + DAY]);
    await until("the second reminder", async () => (await world.settled()) && sticky(2).body.includes("⏰ This preview expires in about 3 hours"));
    expect(world.comments(`${REPO}#2`)).toHaveLength(1);
  });

  it("with notify: comment, posts a comment of its own instead, once, and again after a push sets a new expiry", async () => {
    const { activity_at } = await twoDayPreview("notify: comment\n");
    const expiry = activity_at! + 2 * DAY;
    offset = 2 * DAY - 2 * HOUR;
    expect((await reapNow()).reminded).toHaveLength(1);
    await until("the notice", async () => (await world.settled()) && notices().length === 1);
    expect(notices()[0].body).toBe(
      `<!-- fly-preview notice:${expiry} -->\n` +
        `⏰ The preview of this pull request ([https://${app(2)}.fly.dev](https://${app(2)}.fly.dev)) expires ${formatDay(expiry)}, in about 2 hours: ` +
        "push, or comment `/preview extend 1d` or `/preview pin`, to keep it.",
    );
    expect(sticky(2).body).not.toContain("⏰");
    expect((await reapNow()).reminded).toEqual([]);

    // The same notice sent again (a process that died before recording it sent) finds the first.
    const row = await world.settled();
    expect(await world.store.surfaceWrites.again(row.id, "notice")).toBe(true);
    await until("the notice resent", async () => (await world.store.surfaceWrites.pending(row.id)) === 0);
    expect(notices()).toHaveLength(1);

    world.gh.setPull(REPO, 2, { headSha: sha(2) });
    await world.deliver(pullRequest("synchronize", { sha: sha(2) }));
    const pushed = await until("the push deployed", async () => {
      const r = await world.settled();
      return r.deployed_sha === sha(2) ? r : undefined;
    });
    offset += 2 * DAY - HOUR;
    expect((await reapNow()).reminded.map((r) => r.expiresAt)).toEqual([pushed.activity_at! + 2 * DAY]);
    await until("the second notice", async () => (await world.settled()) && notices().length === 2);
  });

  it("a notice whose expiry moved before it was sent is not posted", async () => {
    const { activity_at } = await twoDayPreview("notify: comment\n");
    offset = 2 * DAY - 2 * HOUR;
    // Wanted for an expiry that is no longer the preview's (as if a push came first).
    const row = await world.settled();
    await world.store.surfaceWrites.want({ previewId: row.id, installationId: 1, generation: row.desired_generation, surface: "notice", state: JSON.stringify({ expiresAt: activity_at! + DAY }), final: true });
    await until("the notice handled", async () => (await world.store.surfaceWrites.pending(row.id)) === 0);
    expect(notices()).toEqual([]);
  });
});

describe("leak-proof cleanup", () => {
  it("destroys only apps the store created whose preview is gone; --dry-run destroys nothing", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await open(2);
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    await until("destroyed", async () => (await world.settled()).status === "destroyed");
    // The app is back behind our back (a destroy Fly reported done but did not do),
    // next to apps fly-preview never recorded.
    world.fly.seedApp(app(2), "personal");
    world.fly.seedApp("pr-99-codertocat-hello-world", "personal");
    world.fly.seedApp("acme-production", "personal");
    const deps = { store: world.store, flyctl: world.flyctl, log: world.probot.log };

    const dry = await reap(deps, { dryRun: true });
    expect(dry.orphans.map((o) => o.app)).toEqual([app(2)]);
    expect(Object.keys(world.fly.apps()).sort()).toEqual(["acme-production", app(2), "pr-99-codertocat-hello-world"]);

    const wet = await reap(deps, { dryRun: false });
    expect(wet.orphans.map((o) => o.app)).toEqual([app(2)]);
    expect(Object.keys(world.fly.apps()).sort()).toEqual(["acme-production", "pr-99-codertocat-hello-world"]);
  });

  it("never sweeps a live preview's app for another repository whose name folds to the same app", async () => {
    world = await startWorld();
    const files = { Dockerfile: DOCKERFILE, ".preview.yml": "port: 8080\n" };
    world.commit(sha(1), files, "acme-web/api");
    world.commit(sha(2), files, "acme-web/api");
    world.commit(sha(1), files, "acme/web-api");
    await world.deliver(pullRequest("opened", { sha: sha(1), owner: "acme-web", repo: "api" }));
    const live = await world.settled(2, "acme-web", "api");
    expect(live.status).toBe("ready");
    // The second repository is refused the name, then its pull request closes.
    await world.deliver(pullRequest("opened", { sha: sha(1), owner: "acme", repo: "web-api" }));
    expect((await world.settled(2, "acme", "web-api")).status).toBe("failed");
    await world.deliver(pullRequest("closed", { sha: sha(1), owner: "acme", repo: "web-api" }));
    await until("refused preview destroyed", async () => (await world.settled(2, "acme", "web-api")).status === "destroyed");
    // A push makes the live row the newest, so the refused row is listed last.
    await world.deliver(pullRequest("synchronize", { sha: sha(2), owner: "acme-web", repo: "api" }));
    await until("pushed", async () => (await world.settled(2, "acme-web", "api")).deployed_sha === sha(2));

    const report = await reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log }, { dryRun: false });
    expect(report.orphans).toEqual([]);
    expect(world.fly.apps()[live.app_name]).toBeDefined();
  });

  it("a destroy that failed is visible and retried until it succeeds", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await open(2);
    world.fly.setBehavior({ destroy: [{ fail: "auth" }] });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    const failed = await until("failed destroy", async () => {
      const r = await world.settled();
      return r.status === "failed" ? r : undefined;
    });
    expect(failed.last_error).toMatch(/^destroy: /);
    expect(world.fly.apps()[app(2)]).toBeDefined();

    const report = await reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log }, { dryRun: false });
    expect(report.retried.map((r) => r.app)).toEqual([app(2)]);
    await until("destroyed", async () => (await world.settled()).status === "destroyed");
    expect(world.fly.apps()[app(2)]).toBeUndefined();
  });
});

describe("removing the App", () => {
  it("an uninstalled installation's previews are destroyed without writing to GitHub", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await open(2);
    await open(3);
    const writes = () => world.gh.requests.filter((r) => r.method !== "GET" && !r.path.includes("access_tokens")).length;
    const writesBefore = writes();
    const payload = load("installation.deleted");
    payload.installation.id = 1;
    await world.deliverEvent("installation", payload);
    await until("both destroyed", async () => (await world.settled(2)).status === "destroyed" && (await world.settled(3)).status === "destroyed");

    expect(world.fly.apps()).toEqual({});
    expect(writes()).toBe(writesBefore);
  });

  it("uninstalling while a destroy keeps failing: the destroy then runs on Fly only, and the reaper stops asking", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await open(2);
    world.fly.setBehavior({ destroy: [{ fail: "auth" }] });
    await world.deliver(pullRequest("closed", { sha: sha(1) }));
    await until("failed destroy", async () => (await world.settled()).status === "failed");
    const requestsBefore = world.gh.requests.length;

    world.gh.removeInstallation(1);
    const payload = load("installation.deleted");
    payload.installation.id = 1;
    await world.deliverEvent("installation", payload);
    const row = await until("destroyed", async () => {
      const r = await world.settled();
      return r.status === "destroyed" ? r : undefined;
    });

    expect(row.quiet).toBe(1);
    expect(world.fly.apps()[app(2)]).toBeUndefined();
    expect(world.gh.requests.slice(requestsBefore)).toEqual([]);
    const report = await reap({ store: world.store, flyctl: world.flyctl, log: world.probot.log }, { dryRun: false });
    expect(report.retried).toEqual([]);
  });

  it("when GitHub no longer knows the installation (its uninstall webhook lost), its previews are destroyed on Fly only and its commands dropped", async () => {
    world = await startWorld();
    world.commit(sha(1));
    await world.pool.stop();
    // A preview deployed earlier, and new work: a push and a command.
    await world.store.desireDeploy(prInfo({ owner: "Codertocat", repo: "Hello-World", number: 3, appName: app(3), headSha: sha(1) }));
    await world.store.db
      .updateTable("previews")
      .set((eb) => ({ observed_generation: eb.ref("desired_generation"), status: "ready", app_created: 1 }))
      .where("number", "=", 3)
      .execute();
    world.fly.seedApp(app(3), "personal");
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    world.gh.removeInstallation(1);
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    await world.deliverEvent("issue_comment", issueComment("/preview status", { user: WRITER }));
    world.pool.start();
    await world.commandsDone();
    await until("both destroyed", async () => (await world.settled(2)).status === "destroyed" && (await world.settled(3)).status === "destroyed");

    expect(world.fly.apps()).toEqual({});
    expect(world.deploys()).toEqual([]);
    const [command] = await world.store.db.selectFrom("commands").selectAll().execute();
    expect(command.outcome).toBe(APP_REMOVED_OUTCOME);
    // GitHub was asked for a token, and for nothing else.
    expect(new Set(world.gh.requests.map((r) => `${r.method} ${r.path}`))).toEqual(new Set(["POST /api/v3/app/installations/1/access_tokens"]));
    expect(world.logs.filter((l) => l.level === "error")).toEqual([]);
  });

  it("a repository removed from the installation has its previews destroyed; others stay", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.commit(sha(1), undefined, "Codertocat/Other");
    await open(2);
    await world.deliver(pullRequest("opened", { sha: sha(1), number: 5, repo: "Other" }));
    await world.settled(5, "Codertocat", "Other");
    const payload = load("installation_repositories.removed");
    payload.installation.id = 1;
    payload.repositories_removed = [{ ...payload.repositories_removed[0], full_name: REPO, name: "Hello-World" }];
    await world.deliverEvent("installation_repositories", payload);
    await until("destroyed", async () => (await world.settled(2)).status === "destroyed");

    expect(world.fly.apps()[app(2)]).toBeUndefined();
    expect(world.fly.apps()["pr-5-codertocat-other"]).toBeDefined();
  });
});

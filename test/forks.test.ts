import { afterEach, describe, expect, it } from "vitest";
import { SecretStore } from "../src/secrets/index.js";
import { checkRun, DOCKERFILE, issueComment, pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const APP = "pr-2-codertocat-hello-world";
const WRITER = "maintainer-mo";
const KEY = "11".repeat(32);
const BASE = "master"; // the fixtures' base branch

/**
 * A fork PR #2 at sha(1). The base branch holds the repository's real .preview.yml
 * (with `forks` as given); the fork's own .preview.yml tries to trust itself.
 */
async function forkWorld(forks: "approve" | "off" | "trusted") {
  world = await startWorld({ env: { PREVIEW_SECRETS_KEY: KEY } });
  world.commit(BASE, { Dockerfile: DOCKERFILE, ".preview.yml": `forks: ${forks}\nsecrets: [API_KEY]\n` });
  const forkFiles = { Dockerfile: DOCKERFILE, ".preview.yml": "forks: trusted\nsecrets: [API_KEY]\n" };
  world.commit(sha(1), forkFiles);
  world.commit(sha(2), forkFiles);
  world.gh.setPull(REPO, 2, { headSha: sha(1), headRepo: "stranger/Hello-World" });
  world.gh.setPermission(REPO, WRITER, "write");
  await new SecretStore(world.store.db, Buffer.from(KEY, "hex")).set("Codertocat", "Hello-World", "API_KEY", "sk_live_do_not_leak");
  await world.deliver(pullRequest("opened", { sha: sha(1), fork: true }));
  return world.settled();
}

async function approve(user = WRITER) {
  const id = Math.floor(Math.random() * 1e9);
  await world.deliverEvent("issue_comment", issueComment("/preview approve", { user, id }));
  await world.commandsDone();
  return id;
}

const sticky = () => world.comments().find((c) => c.body.includes("<!-- fly-preview -->"))!;

describe("pull requests from forks", () => {
  it("under `approve`, nothing deploys until a writer approves, whatever the fork's own .preview.yml says", async () => {
    const row = await forkWorld("approve");

    expect(row.status).toBe("awaiting_approval");
    expect(row.fork).toBe(1);
    expect(world.fly.calls()).toEqual([]);
    const check = world.gh.checkRuns[0];
    expect(check.conclusion).toBe("neutral");
    expect(check.output?.title).toBe("Waiting for approval");
    const create = world.gh.requests.find((r) => r.method === "POST" && r.path.endsWith("/check-runs"));
    expect(create?.body.actions.map((a: { identifier: string }) => a.identifier)).toEqual(["approve"]);
    expect(sticky().body).toContain("⏸️ Preview waiting for approval");
    expect(sticky().body).toContain("`/preview approve`");
    // The configuration came from the base branch, not from the fork's commit.
    expect(world.gh.requests.some((r) => r.path.includes(".preview.yml?ref=master"))).toBe(true);
    expect(world.gh.requests.some((r) => r.path.includes(`.preview.yml?ref=${sha(1)}`))).toBe(false);
  });

  it("an approval deploys that commit, without secrets", async () => {
    await forkWorld("approve");
    const id = await approve();
    const row = await until("ready", async () => {
      const r = await world.settled();
      return r.status === "ready" ? r : undefined;
    });

    expect(row.approved_sha).toBe(sha(1));
    expect(world.deploys()).toHaveLength(1);
    expect(world.fly.calls().some((c) => c.argv[0] === "secrets")).toBe(false);
    const check = world.gh.checkRuns.find((c) => c.conclusion === "success")!;
    expect(check.output?.summary).toContain("Secrets were withheld");
    await until("🚀", () => world.reactionsTo(id).includes("rocket"));
  });

  it("a push after an approval waits for a new approval, and the approved commit keeps serving", async () => {
    await forkWorld("approve");
    await approve();
    await until("ready", async () => (await world.settled()).status === "ready");
    world.gh.setPull(REPO, 2, { headSha: sha(2), headRepo: "stranger/Hello-World" });
    await world.deliver(pullRequest("synchronize", { sha: sha(2), fork: true }));
    const row = await until("waiting again", async () => {
      const r = await world.settled();
      return r.status === "awaiting_approval" ? r : undefined;
    });

    expect(row.deployed_sha).toBe(sha(1));
    expect(world.deploys()).toHaveLength(1);
    expect(world.gh.checkRuns.find((c) => c.head_sha === sha(2))?.conclusion).toBe("neutral");
    expect(sticky().body).toContain(`The previous deploy (\`${sha(1).slice(0, 7)}\`) is still serving.`);
  });

  it("the Approve button works for a writer and not for a reader", async () => {
    const row = await forkWorld("approve");
    await world.deliverEvent("check_run", checkRun("requested_action", { previewId: row.id, identifier: "approve", user: "reader-rae", headSha: sha(1) }));
    await world.commandsDone();
    expect(world.comments().some((c) => c.body.includes("@reader-rae: Sorry, only people with write access"))).toBe(true);
    expect(world.fly.calls()).toEqual([]);

    await world.deliverEvent("check_run", checkRun("requested_action", { previewId: row.id, identifier: "approve", user: WRITER, headSha: sha(1) }));
    await world.commandsDone();
    await until("ready", async () => (await world.settled()).status === "ready");
  });

  // Short SHAs that differ: sha(n) all begin with "aaaaaaa".
  const SEEN = `abc1234${"0".repeat(33)}`;
  const PUSHED = `def5678${"0".repeat(33)}`;
  const FORK_FILES = { Dockerfile: DOCKERFILE, ".preview.yml": "port: 8080\n" };

  it("an approval approves the commit the approver saw: a push before it runs deploys nothing and the reply says approve again", async () => {
    await forkWorld("approve");
    world.commit(SEEN, FORK_FILES);
    world.commit(PUSHED, FORK_FILES);
    world.gh.setPull(REPO, 2, { headSha: SEEN, headRepo: "stranger/Hello-World" });
    await world.deliver(pullRequest("synchronize", { sha: SEEN, fork: true }));
    await until("the maintainer's commit seen", async () => (await world.settled()).head_sha === SEEN);
    // The worker is slow to get to the command (a minute on Lambda): the fork pushes meanwhile.
    await world.pool.stop();
    const id = Math.floor(Math.random() * 1e9);
    await world.deliverEvent("issue_comment", issueComment("/preview approve", { user: WRITER, id }));
    world.gh.setPull(REPO, 2, { headSha: PUSHED, headRepo: "stranger/Hello-World" });
    await world.deliver(pullRequest("synchronize", { sha: PUSHED, fork: true }));
    world.pool.start();
    await world.commandsDone();
    const row = await until("waiting for approval of the push", async () => {
      const r = await world.settled();
      return r.status === "awaiting_approval" && r.desired_sha === PUSHED ? r : undefined;
    });

    expect(world.deploys()).toEqual([]);
    expect(row.approved_sha).toBeNull();
    expect(world.comments().map((c) => c.body)).toContain("Approved `abc1234`, but the head is now `def5678`; approve again.");
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);

    // Approving again approves the commit the maintainer now sees.
    await approve();
    const ready = await until("ready", async () => {
      const r = await world.settled();
      return r.status === "ready" ? r : undefined;
    });
    expect(ready).toMatchObject({ approved_sha: PUSHED, deployed_sha: PUSHED });
  });

  it("the Approve button approves its check run's commit, not a later push", async () => {
    const row = await forkWorld("approve");
    world.commit(PUSHED, FORK_FILES);
    world.gh.setPull(REPO, 2, { headSha: PUSHED, headRepo: "stranger/Hello-World" });
    await world.deliverEvent("check_run", checkRun("requested_action", { previewId: row.id, identifier: "approve", user: WRITER, headSha: SEEN }));
    await world.commandsDone();

    expect(world.comments().map((c) => c.body)).toContain(`@${WRITER}: Approved \`abc1234\`, but the head is now \`def5678\`; approve again.`);
    expect(world.deploys()).toEqual([]);
    expect((await world.settled()).approved_sha).toBeNull();
  });

  it("an approval of a pull request fly-preview has not seen yet asks to approve again once the check run shows its commit", async () => {
    world = await startWorld();
    world.commit(BASE, { Dockerfile: DOCKERFILE, ".preview.yml": "forks: approve\n" });
    world.commit(sha(1), FORK_FILES);
    world.gh.setPull(REPO, 2, { headSha: sha(1), headRepo: "stranger/Hello-World" });
    world.gh.setPermission(REPO, WRITER, "write");
    const id = await approve();

    expect(world.comments().map((c) => c.body)).toEqual([
      "I don't know this pull request's head commit yet, so I can't tell which one you approve: approve again once the `Fly Preview` check run shows it.",
    ]);
    expect(world.reactionsTo(id)).toEqual(["eyes", "confused"]);
    expect(await world.store.get("Codertocat", "Hello-World", 2)).toBeUndefined();
  });

  it("under `off`, a fork never deploys and the comment says so", async () => {
    const row = await forkWorld("off");
    expect(row.status).toBe("blocked");
    world.gh.setPull(REPO, 2, { headSha: sha(2), headRepo: "stranger/Hello-World" });
    await world.deliver(pullRequest("synchronize", { sha: sha(2), fork: true }));
    await until("the push seen", async () => (await world.settled()).desired_sha === sha(2));

    expect(world.fly.calls()).toEqual([]);
    expect(world.gh.checkRuns).toEqual([]);
    expect(world.comments()).toHaveLength(1);
    expect(sticky().body).toContain("🚫 No preview for pull requests from forks");
  });

  it("a fork that targets an old branch trusting forks still waits: the policy is the default branch's", async () => {
    world = await startWorld({ env: { PREVIEW_SECRETS_KEY: KEY } });
    world.commit(BASE, { Dockerfile: DOCKERFILE, ".preview.yml": "forks: approve\nsecrets: [API_KEY]\n" });
    world.commit("legacy", { Dockerfile: DOCKERFILE, ".preview.yml": "forks: trusted\nsecrets: [API_KEY]\n" });
    world.commit(sha(1), { Dockerfile: DOCKERFILE, ".preview.yml": "forks: trusted\nsecrets: [API_KEY]\n" });
    await new SecretStore(world.store.db, Buffer.from(KEY, "hex")).set("Codertocat", "Hello-World", "API_KEY", "sk_live_do_not_leak");
    world.gh.setPull(REPO, 2, { headSha: sha(1), headRepo: "stranger/Hello-World", baseRef: "legacy" });
    const payload = pullRequest("opened", { sha: sha(1), fork: true });
    payload.pull_request.base.ref = "legacy";
    await world.deliver(payload);
    const row = await world.settled();

    expect(row.base_ref).toBe("legacy");
    expect(row.status).toBe("awaiting_approval");
    expect(world.fly.calls()).toEqual([]);
    expect(world.gh.requests.some((r) => r.path.includes(".preview.yml?ref=legacy"))).toBe(false);
  });

  it("a fork that deletes .preview.yml at its head can still be approved and destroyed", async () => {
    world = await startWorld();
    world.commit(BASE, { Dockerfile: DOCKERFILE, ".preview.yml": "forks: approve\n" });
    world.commit(sha(1), { Dockerfile: DOCKERFILE });
    world.gh.setPull(REPO, 2, { headSha: sha(1), headRepo: "stranger/Hello-World" });
    world.gh.setPermission(REPO, WRITER, "write");
    await world.deliver(pullRequest("opened", { sha: sha(1), fork: true }));
    expect((await world.settled()).status).toBe("awaiting_approval");

    await approve();
    await until("ready", async () => (await world.settled()).status === "ready");
    expect(world.comments().some((c) => c.body.includes("not configured"))).toBe(false);
    await world.deliverEvent("issue_comment", issueComment("/preview destroy", { user: WRITER }));
    await world.commandsDone();
    await until("destroyed", async () => (await world.settled()).status === "destroyed");
    expect(world.fly.apps()[APP]).toBeUndefined();
  });

  it("under `trusted`, a fork deploys like a branch, secrets included", async () => {
    const row = await forkWorld("trusted");
    expect(row.status).toBe("ready");
    const staged = world.fly.calls().find((c) => c.argv[0] === "secrets" && c.argv[1] === "import");
    expect(staged?.argv).toEqual(["secrets", "import", "-a", APP, "--stage"]);
    expect(staged?.stdin).toContain("API_KEY=sk_live_do_not_leak");
    expect(world.fly.apps()[APP].secrets.API_KEY).toBeDefined();
  });
});

// What we write to GitHub stays within GitHub's limits, and the sticky comment is
// only ever our own. The fake GitHub answers 422 past the limits and 403 to an edit
// of another App's comment, as GitHub does.
import { afterEach, describe, expect, it } from "vitest";
import { COMMENT_MARKER, upsertComment } from "../src/github/comment.js";
import { fitText, githubLength } from "../src/github/markdown.js";
import { DOCKERFILE, issueComment, PREVIEW_YML, pullRequest, REPO, sha, startWorld, until, type World } from "./harness.js";

let world: World;
afterEach(async () => {
  await world?.close();
});

const checkRunRequests = () => world.gh.requests.filter((r) => r.path.includes("/check-runs"));
const unknownKeys = (count: number) =>
  PREVIEW_YML + Array.from({ length: count }, (_, i) => `unknown_setting_number_${i}: ${i}`).join("\n") + "\n";

async function openedWith(files: Record<string, string>) {
  world = await startWorld();
  world.commit(sha(1), files);
  world.gh.setPull(REPO, 2, { headSha: sha(1) });
  await world.deliver(pullRequest("opened", { sha: sha(1) }));
  return world.settled();
}

describe("fitting text to GitHub's limits", () => {
  it("cuts at a line boundary and says how many lines were cut", () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const fitted = fitText(text, 300);
    expect(githubLength(fitted)).toBeLessThanOrEqual(300);
    const shown = fitted.split("\n").filter((l) => l.startsWith("line "));
    expect(shown.at(-1)).toBe(`line ${shown.length - 1}`);
    expect(fitted).toContain(`… ${100 - shown.length} more lines cut (GitHub shows at most 300 characters here).`);
  });

  it("cuts a single line longer than the limit in the middle", () => {
    const fitted = fitText(`head\n${"x".repeat(5000)}\nlast`, 1000, { unit: ["problem", "problems"] });
    expect(githubLength(fitted)).toBeLessThanOrEqual(1000);
    expect(fitted).toMatch(/^head\nx{500,}\n/);
    expect(fitted).toContain("… the rest of this line and 1 more problem cut");
  });

  it("closes a code fence the cut leaves open, so the note is not shown as code", () => {
    const text = ["before", "````", ...Array.from({ length: 200 }, (_, i) => `output ${i}`), "````", "after"].join("\n");
    const fitted = fitText(text, 500);
    const lines = fitted.split("\n");
    expect(lines.filter((l) => l === "````")).toHaveLength(2);
    expect(lines.indexOf("````", 2)).toBeLessThan(lines.findIndex((l) => l.startsWith("… ")));
    expect(githubLength(fitted)).toBeLessThanOrEqual(500);
  });

  it("counts a character as the bytes it takes, as GitHub measures check runs", () => {
    const fitted = fitText("🚀".repeat(1000), 400);
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(400);
    expect(fitted).not.toContain("\uFFFD");
    expect(fitText("short", 400)).toBe("short");
  });
});

describe("GitHub's limits on what we write", () => {
  it("a .preview.yml with 3,000 unknown keys fails a check run GitHub accepts, saying how many problems were cut", async () => {
    const row = await openedWith({ Dockerfile: DOCKERFILE, ".preview.yml": unknownKeys(3000) });
    expect(row.status).toBe("failed");
    const [check] = world.gh.checkRuns;
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(Buffer.byteLength(check.output!.summary!)).toBeLessThanOrEqual(65_535);
    expect(check.output!.summary).toContain("has 3,000 problems");
    expect(check.output!.summary).toMatch(/… [\d,]+ more problems cut \(GitHub shows at most 65,535 characters here\)\./);
    // The first 250 are marked on the file, 50 a request: one create and four updates.
    expect(check.output!.summary).toContain("The first 250 are marked on the file.");
    expect(check.output!.annotations).toHaveLength(250);
    const sent = checkRunRequests().map((r) => r.body.output.annotations.length);
    expect(sent).toEqual([50, 50, 50, 50, 50]);
    expect(checkRunRequests().every((r) => r.body.output.summary === check.output!.summary)).toBe(true);
  });

  it("120 config problems are all marked on the file, in 3 requests of at most 50", async () => {
    await openedWith({ Dockerfile: DOCKERFILE, ".preview.yml": unknownKeys(120) });
    const [check] = world.gh.checkRuns;
    expect(check.conclusion).toBe("failure");
    expect(checkRunRequests().map((r) => [r.method, r.body.output.annotations.length])).toEqual([
      ["POST", 50],
      ["PATCH", 50],
      ["PATCH", 20],
    ]);
    expect(check.output!.annotations!.map((a) => a.message)).toEqual(
      Array.from({ length: 120 }, (_, i) => expect.stringContaining(`unknown_setting_number_${i}`)),
    );
  });

  it("a deploy whose flyctl prints a 200 kB line ends with a successful check run", async () => {
    world = await startWorld();
    world.fly.setBehavior({ longLine: 200_000 });
    world.commit(sha(1));
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();
    expect(row.status).toBe("ready");
    const [check] = world.gh.checkRuns;
    expect(check).toMatchObject({ status: "completed", conclusion: "success" });
    expect(Buffer.byteLength(check.output!.text!)).toBeLessThanOrEqual(65_535);
    // The long line is shortened and the lines after it are still shown.
    expect(check.output!.text).toMatch(/#2 x{1000,}…\n/);
    expect(check.output!.text).toContain("Visit your newly deployed app at");
  });

  it("a reply to a command whose text is near GitHub's limit is cut to fit", async () => {
    world = await startWorld();
    world.commit(sha(1));
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    const huge = `/preview ${"z".repeat(65_000)}`;
    await world.deliverEvent("issue_comment", issueComment(huge, { user: "someone" }));
    await world.commandsDone();
    const [reply] = world.comments();
    expect([...reply.body].length).toBeLessThanOrEqual(65_536);
    expect(reply.body).toMatch(/^I don't know `\/preview z+/);
    expect(reply.body).toContain("cut (GitHub shows at most 65,536 characters here).");
  });

  it("a sticky comment body past 65,536 characters is cut to fit", async () => {
    world = await startWorld();
    const octokit = await world.probot.auth(1);
    const where = { owner: "Codertocat", repo: "Hello-World", number: 2, appId: 1 };
    const body = `${COMMENT_MARKER}\n${"a long line of output\n".repeat(5000)}`;
    const id = await upsertComment(octokit, where, null, body);
    const [comment] = world.comments();
    expect(comment.id).toBe(id);
    expect([...comment.body].length).toBeLessThanOrEqual(65_536);
    expect(comment.body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(comment.body).toMatch(/… [\d,]+ more lines cut/);
  });
});

describe("only our own comment is the sticky comment", () => {
  const otherApp = { id: 999, slug: "someone-elses-preview" };

  it("another App's comment holding our marker is left alone and we write our own", async () => {
    world = await startWorld();
    const theirs = world.gh.seedComment(`${REPO}#2`, `${COMMENT_MARKER}\nTheir preview is ready`, otherApp);
    world.commit(sha(1));
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.status).toBe("ready");
    expect(theirs.body).toBe(`${COMMENT_MARKER}\nTheir preview is ready`);
    expect(world.gh.requests.filter((r) => r.method === "PATCH" && r.path.endsWith(`/comments/${theirs.id}`))).toEqual([]);
    const ours = world.comments().filter((c) => c.id !== theirs.id);
    expect(ours).toHaveLength(1);
    expect(ours[0].id).toBe(row.comment_id);
    expect(ours[0].body).toContain("✅ Preview ready");
    expect(ours[0].performed_via_github_app).toEqual({ id: 1, slug: "fly-preview" });
  });

  it("our own comment is still found by its marker and edited", async () => {
    world = await startWorld();
    world.gh.seedComment(`${REPO}#2`, `${COMMENT_MARKER}\nsomeone else`, otherApp);
    // Ours, from a run whose comment id was lost (a crash between create and save).
    const ours = world.gh.seedComment(`${REPO}#2`, `${COMMENT_MARKER}\n🔨 Building preview`, { id: 1, slug: "fly-preview" });
    world.commit(sha(1));
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.comment_id).toBe(ours.id);
    expect(world.comments()).toHaveLength(2);
    await until("our comment to say ready", () => ours.body.includes("✅ Preview ready"));
  });

  it("a comment of ours that only quotes the marker (a reply echoing what someone wrote) is not the sticky comment", async () => {
    world = await startWorld();
    // Our unknown-command reply repeats the line a participant wrote, marker and all.
    const reply = world.gh.seedComment(`${REPO}#2`, `I don't know \`/preview x ${COMMENT_MARKER}\`.`, { id: 1, slug: "fly-preview" });
    world.commit(sha(1));
    world.gh.setPull(REPO, 2, { headSha: sha(1) });
    await world.deliver(pullRequest("opened", { sha: sha(1) }));
    const row = await world.settled();

    expect(row.comment_id).not.toBe(reply.id);
    expect(reply.body).toBe(`I don't know \`/preview x ${COMMENT_MARKER}\`.`);
    await until("our own comment to say ready", () => world.comments().find((c) => c.id === row.comment_id && c.body.includes("✅ Preview ready")));
  });
});

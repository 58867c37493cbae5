// Whether a push changed an app's `paths`: GitHub's compare API through the fake GitHub
// with a real Probot Octokit, the paths globs, and the per-app decision.
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { changedFiles, COMPARE_FILES_MAX, type ChangedFiles } from "../src/github/compare.js";
import { appsToRebuild, type AppChanges } from "../src/preview/rebuild.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/server.js";

const REPO = "acme/monorepo";
const [owner, repo] = REPO.split("/");
const sha = (n: number) => n.toString(16).padStart(40, "0");

describe("changed files, through GitHub's compare API", () => {
  let gh: FakeGitHub;
  let octokit: InstanceType<typeof ProbotOctokit>;
  beforeEach(async () => {
    gh = await startFakeGitHub();
    octokit = new ProbotOctokit({ auth: { token: "t" }, baseUrl: `${gh.url}/api/v3`, throttle: { enabled: false }, retry: { enabled: false } });
  });
  afterEach(() => gh.close());

  const compare = (base: string, head: string) => changedFiles(octokit, { owner, repo, base, head });
  const compareRequests = () => gh.requests.filter((r) => r.path.includes("/compare/"));

  const ROOT = { "services/api/main.go": "package main\n", "apps/web/index.ts": "export {};\n", "README.md": "# monorepo\n" };

  it("lists the files added, modified and removed since the base, in one request", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    // README.md removed, the api modified, a shared package added.
    gh.setCommit(REPO, sha(2), { "services/api/main.go": "package main // v2\n", "apps/web/index.ts": "export {};\n", "packages/shared/x.ts": "1\n" }, [sha(1)]);
    expect(await compare(sha(1), sha(2))).toEqual({ files: ["README.md", "packages/shared/x.ts", "services/api/main.go"] });
    expect(compareRequests()).toHaveLength(1);
    expect(compareRequests()[0].path).toBe(`/api/v3/repos/${REPO}/compare/${sha(1)}...${sha(2)}?per_page=1&page=1`);
  });

  it("counts a renamed file under its new name and its old one", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    gh.setCommit(REPO, sha(2), { "services/api/server.go": "package main\n", "apps/web/index.ts": "export {};\n", "README.md": "# monorepo\n" }, [sha(1)]);
    const answer = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(1)}...${sha(2)}` });
    expect(answer.data.files).toEqual([expect.objectContaining({ filename: "services/api/server.go", previous_filename: "services/api/main.go", status: "renamed" })]);
    expect(await compare(sha(1), sha(2))).toEqual({ files: ["services/api/server.go", "services/api/main.go"] });
  });

  it("finds nothing changed between a commit and itself without asking GitHub", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    expect(await compare(sha(1), sha(1))).toEqual({ files: [] });
    expect(compareRequests()).toHaveLength(0);
  });

  it("diffs from the base across several commits, as GitHub's ahead_by and commits say", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    gh.setCommit(REPO, sha(2), { ...ROOT, "apps/web/index.ts": "export const a = 1;\n" }, [sha(1)]);
    gh.setCommit(REPO, sha(3), { ...ROOT, "apps/web/index.ts": "export const a = 1;\n", "docs/x.md": "x\n" }, [sha(2)]);
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(1)}...${sha(3)}` });
    expect(data).toMatchObject({ status: "ahead", ahead_by: 2, behind_by: 0, total_commits: 2, merge_base_commit: { sha: sha(1) } });
    expect(data.commits.map((c) => c.sha)).toEqual([sha(2), sha(3)]);
    // Pages page the commits; the files come on the first page only.
    const second = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(1)}...${sha(3)}`, per_page: 1, page: 2 });
    expect(second.data.commits.map((c) => c.sha)).toEqual([sha(3)]);
    expect(second.data.files).toBeUndefined();
    expect(await compare(sha(1), sha(3))).toEqual({ files: ["apps/web/index.ts", "docs/x.md"] });
  });

  it("answers unknown when GitHub's list may be cut at 300 files, and lists 299 whole", async () => {
    const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`gen/file-${String(i).padStart(4, "0")}.txt`, `${i}\n`]));
    gh.setCommit(REPO, sha(1), ROOT, []);
    gh.setCommit(REPO, sha(2), { ...ROOT, ...many(299) }, [sha(1)]);
    gh.setCommit(REPO, sha(3), { ...ROOT, ...many(350), "services/api/z.go": "late in the order\n" }, [sha(1)]);
    const whole = await compare(sha(1), sha(2));
    expect("files" in whole && whole.files).toHaveLength(299);
    // GitHub leaves files past 300 out silently: the fake too, so services/api/z.go is not listed.
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(1)}...${sha(3)}` });
    expect(data.files).toHaveLength(COMPARE_FILES_MAX);
    expect(data.files!.map((f) => f.filename)).not.toContain("services/api/z.go");
    expect(await compare(sha(1), sha(3))).toEqual({ unknown: expect.stringContaining("at most 300 changed files") });
  });

  it("answers unknown for a base GitHub no longer has (force-pushed away), with GitHub's 404", async () => {
    gh.setCommit(REPO, sha(2), ROOT, []);
    const error = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(9)}...${sha(2)}` }).catch((e) => e);
    expect(error.status).toBe(404);
    expect(error.response.data).toEqual({ message: "Not Found", documentation_url: "https://docs.github.com/rest/commits/commits#compare-two-commits", status: "404" });
    expect(await compare(sha(9), sha(2))).toEqual({ unknown: expect.stringContaining("cannot compare with 0000000") });
  });

  it("answers unknown for histories with no common ancestor", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    gh.setCommit(REPO, sha(2), ROOT, []);
    const error = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(1)}...${sha(2)}` }).catch((e) => e);
    expect(error.status).toBe(404);
    expect(error.message).toContain(`No common ancestor between ${sha(1)} and ${sha(2)}.`);
    expect("unknown" in (await compare(sha(1), sha(2)))).toBe(true);
  });

  it("answers unknown after a force push (diverged): a change the deployed commit had and the new one dropped is not in GitHub's diff", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    // The deployed commit changed the api; the force-pushed one drops that change and edits the web app.
    gh.setCommit(REPO, sha(2), { ...ROOT, "services/api/main.go": "package main // bug\n" }, [sha(1)]);
    gh.setCommit(REPO, sha(3), { ...ROOT, "apps/web/index.ts": "export const b = 2;\n" }, [sha(1)]);
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(2)}...${sha(3)}` });
    expect(data).toMatchObject({ status: "diverged", ahead_by: 1, behind_by: 1, merge_base_commit: { sha: sha(1) } });
    expect(data.files!.map((f) => f.filename)).toEqual(["apps/web/index.ts"]);
    expect(await compare(sha(2), sha(3))).toEqual({ unknown: expect.stringContaining("force-pushed") });
  });

  it("answers unknown after a reset to an earlier commit (behind): GitHub's diff is empty", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    gh.setCommit(REPO, sha(2), { ...ROOT, "services/api/main.go": "package main // v2\n" }, [sha(1)]);
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(2)}...${sha(1)}` });
    expect(data).toMatchObject({ status: "behind", ahead_by: 0, behind_by: 1, files: [] });
    expect(await compare(sha(2), sha(1))).toEqual({ unknown: expect.stringContaining("reset") });
  });

  it("answers unknown when GitHub cannot produce the diff, and throws what is worth retrying", async () => {
    gh.setCommit(REPO, sha(1), ROOT, []);
    gh.setCommit(REPO, sha(2), { ...ROOT, "README.md": "# v2\n" }, [sha(1)]);
    gh.failNext("GET", `/api/v3/repos/${REPO}/compare/`, 500, 1, { message: "Server Error: Sorry, this diff is taking too long to generate." });
    expect(await compare(sha(1), sha(2))).toEqual({ unknown: expect.stringContaining("could not produce the diff") });
    gh.failNext("GET", `/api/v3/repos/${REPO}/compare/`, 422, 1, { message: "Server Error: Sorry, this diff is taking too long to generate." });
    expect("unknown" in (await compare(sha(1), sha(2)))).toBe(true);
    gh.failNext("GET", `/api/v3/repos/${REPO}/compare/`, 502, 1, { message: "Bad Gateway" });
    await expect(compare(sha(1), sha(2))).rejects.toMatchObject({ status: 502 });
    expect(await compare(sha(1), sha(2))).toEqual({ files: ["README.md"] });
  });

  it("fake: a commit whose parents were never set is compared as a child of the base", async () => {
    gh.setCommit(REPO, sha(1), ROOT);
    gh.setCommit(REPO, sha(2), { ...ROOT, "README.md": "# v2\n" });
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${sha(1)}...${sha(2)}` });
    expect(data).toMatchObject({ status: "ahead", ahead_by: 1, merge_base_commit: { sha: sha(1) } });
    expect(() => gh.setCommit(REPO, sha(3), ROOT, [sha(8)])).toThrow(/set the parent/);
  });
});

describe("which apps a push rebuilds", () => {
  const HEAD = sha(9);
  const lookupOf = (answers: Record<string, ChangedFiles>) => {
    const calls: string[] = [];
    const lookup = async (base: string, head: string) => {
      calls.push(`${base}...${head}`);
      const answer = answers[base];
      if (!answer) throw Object.assign(new Error("Bad Gateway"), { status: 502 });
      return answer;
    };
    return { calls, lookup };
  };

  it("builds an app without paths, and one never deployed, without comparing", async () => {
    const { calls, lookup } = lookupOf({});
    const apps = new Map<string, AppChanges>([
      ["worker", { deployedSha: sha(1) }],
      ["api", { paths: ["services/api/**"] }],
    ]);
    expect(await appsToRebuild(apps, HEAD, lookup)).toEqual(
      new Map([
        ["worker", { action: "build", because: { kind: "no-paths" } }],
        ["api", { action: "build", because: { kind: "never-deployed" } }],
      ]),
    );
    expect(calls).toEqual([]);
  });

  it("builds an app whose paths changed, leaves the others unchanged, and compares once per deployed commit", async () => {
    const { calls, lookup } = lookupOf({ [sha(1)]: { files: ["apps/web/page.tsx", "README.md"] }, [sha(2)]: { files: ["packages/shared/x.ts"] } });
    const apps = new Map<string, AppChanges>([
      ["web", { paths: ["apps/web/**", "packages/shared/**"], deployedSha: sha(1) }],
      ["api", { paths: ["services/api/**", "packages/shared/**"], deployedSha: sha(1) }],
      ["docs", { paths: ["docs/**"], deployedSha: sha(1) }],
      ["worker", { paths: ["services/worker/**", "packages/shared/**"], deployedSha: sha(2) }],
    ]);
    expect(await appsToRebuild(apps, HEAD, lookup)).toEqual(
      new Map([
        ["web", { action: "build", because: { kind: "changed", file: "apps/web/page.tsx" } }],
        ["api", { action: "unchanged", since: sha(1) }],
        ["docs", { action: "unchanged", since: sha(1) }],
        ["worker", { action: "build", because: { kind: "changed", file: "packages/shared/x.ts" } }],
      ]),
    );
    expect(calls.sort()).toEqual([`${sha(1)}...${HEAD}`, `${sha(2)}...${HEAD}`]);
  });

  it("builds every app whose comparison GitHub could not give, with its reason", async () => {
    const { lookup } = lookupOf({ [sha(1)]: { unknown: "the branch was force-pushed" } });
    const apps = new Map<string, AppChanges>([["api", { paths: ["services/api/**"], deployedSha: sha(1) }]]);
    expect(await appsToRebuild(apps, HEAD, lookup)).toEqual(new Map([["api", { action: "build", because: { kind: "unknown", reason: "the branch was force-pushed" } }]]));
  });

  it("fails whole when a comparison fails for a passing reason, so the run is retried", async () => {
    const { lookup } = lookupOf({ [sha(1)]: { files: [] } });
    const apps = new Map<string, AppChanges>([
      ["api", { paths: ["services/api/**"], deployedSha: sha(1) }],
      ["web", { paths: ["apps/web/**"], deployedSha: sha(3) }],
    ]);
    await expect(appsToRebuild(apps, HEAD, lookup)).rejects.toMatchObject({ status: 502 });
  });

  it("decides from the fake GitHub end to end: a push touching the api only", async () => {
    const gh = await startFakeGitHub();
    try {
      const octokit = new ProbotOctokit({ auth: { token: "t" }, baseUrl: `${gh.url}/api/v3`, throttle: { enabled: false }, retry: { enabled: false } });
      const root = { "services/api/main.go": "v1\n", "apps/web/index.ts": "v1\n" };
      gh.setCommit(REPO, sha(1), root, []);
      gh.setCommit(REPO, sha(2), { ...root, "services/api/main.go": "v2\n" }, [sha(1)]);
      const apps = new Map<string, AppChanges>([
        ["api", { paths: ["services/api/**"], deployedSha: sha(1) }],
        ["web", { paths: ["apps/web/**"], deployedSha: sha(1) }],
      ]);
      const decided = await appsToRebuild(apps, sha(2), (base, head) => changedFiles(octokit, { owner, repo, base, head }));
      expect(decided.get("api")).toEqual({ action: "build", because: { kind: "changed", file: "services/api/main.go" } });
      expect(decided.get("web")).toEqual({ action: "unchanged", since: sha(1) });
      expect(gh.requests.filter((r) => r.path.includes("/compare/"))).toHaveLength(1);
    } finally {
      await gh.close();
    }
  });
});

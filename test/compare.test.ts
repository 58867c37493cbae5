// Whether a push changed an app's `paths`: GitHub's compare API through the fake GitHub
// with a real Probot Octokit, the paths globs, and the per-app decision.
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pathListProblem, pathPatternProblem, touchedBy, touches } from "../src/config/paths.js";
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

describe("paths globs", () => {
  const api = ["services/api/**", "packages/shared/**"];

  it("matches files under the listed directories, from the repository root", () => {
    expect(touches(api, ["services/api/main.go"])).toBe(true);
    expect(touches(api, ["packages/shared/src/deep/x.ts"])).toBe(true);
    expect(touches(api, ["apps/web/index.ts", "README.md"])).toBe(false);
    // Relative to the root, not anywhere: a nested services/api is another directory.
    expect(touches(api, ["vendor/services/api/x.go"])).toBe(false);
    expect(touches(api, ["services/apix/main.go"])).toBe(false);
    expect(touches(api, [])).toBe(false);
  });

  it("matches dot files and dot directories", () => {
    expect(touches(api, ["services/api/.env.example"])).toBe(true);
    expect(touches(api, ["services/api/.config/x.yml"])).toBe(true);
    expect(touches(["*"], [".tool-versions"])).toBe(true);
    expect(touches(["**/*.go"], [".github/x.go"])).toBe(true);
  });

  it("matches a file at the root by its name, and only that file", () => {
    expect(touches(["go.mod"], ["go.mod"])).toBe(true);
    expect(touches(["go.mod"], ["services/api/go.mod", "go.sum"])).toBe(false);
    expect(touches(["*.lock"], ["yarn.lock"])).toBe(true);
    expect(touches(["*.lock"], ["apps/web/yarn.lock"])).toBe(false);
    expect(touches(["**/*.lock"], ["apps/web/yarn.lock", "x"])).toBe(true);
  });

  it("takes in everything under a directory a pattern names", () => {
    expect(touches(["services/api"], ["services/api/cmd/main.go"])).toBe(true);
    expect(touches(["services/api/"], ["services/api/cmd/main.go"])).toBe(true);
    expect(touches(["services/*"], ["services/worker/main.go"])).toBe(true);
    expect(touches(["services/api"], ["services/api2/main.go"])).toBe(false);
  });

  it("knows *, ?, [sets] and ** within a path", () => {
    expect(touches(["packages/*/src/**"], ["packages/ui/src/a.tsx"])).toBe(true);
    expect(touches(["packages/*/src/**"], ["packages/ui/test/a.tsx"])).toBe(false);
    expect(touches(["**/Dockerfile"], ["Dockerfile"])).toBe(true);
    expect(touches(["**/Dockerfile"], ["a/b/c/Dockerfile"])).toBe(true);
    expect(touches(["a/**/z.txt"], ["a/z.txt", "q"])).toBe(true);
    expect(touches(["a/**/z.txt"], ["a/b/c/z.txt"])).toBe(true);
    expect(touches(["v?/x"], ["v2/x"])).toBe(true);
    expect(touches(["v?/x"], ["v10/x"])).toBe(false);
    expect(touches(["v[0-9]/x"], ["v7/x"])).toBe(true);
    expect(touches(["v[!0-9]/x"], ["v7/x"])).toBe(false);
    expect(touches(["v[!0-9]/x"], ["vb/x"])).toBe(true);
    expect(touches(["*.test.*"], ["a.test.ts"])).toBe(true);
    // * never crosses a "/".
    expect(touches(["services/*.go"], ["services/api/main.go"])).toBe(false);
    // Names are case-sensitive, as in git.
    expect(touches(["Services/**"], ["services/x"])).toBe(false);
  });

  it("excludes with !, a later entry overriding an earlier one", () => {
    const paths = ["services/api/**", "!services/api/docs/**", "services/api/docs/openapi.yml"];
    expect(touches(paths, ["services/api/docs/guide.md"])).toBe(false);
    expect(touches(paths, ["services/api/docs/openapi.yml"])).toBe(true);
    expect(touches(paths, ["services/api/docs/guide.md", "services/api/main.go"])).toBe(true);
    expect(touchedBy(paths, ["README.md", "services/api/docs/guide.md", "services/api/main.go"])).toBe("services/api/main.go");
    expect(touches(["!**/*.md", "docs/**"], ["docs/a.md"])).toBe(true);
  });

  it("stays fast on a pattern built to make a backtracking matcher take minutes", () => {
    const started = performance.now();
    // picomatch's regular expression for this took over five minutes on a 60-letter name.
    expect(touches(["*a*a*a*a*a*a*a*a*a*a*a*a*b"], ["a".repeat(250)])).toBe(false);
    expect(touches(["**/a*/**/a*/**/a*/**/b"], ["a/".repeat(200) + "c"])).toBe(false);
    // Past the step budget a file counts as touched: a rebuild is always right.
    const worst = Array.from({ length: 300 }, (_, i) => `${"a/".repeat(100)}${"a".repeat(200)}${i}`);
    expect(touches(Array(50).fill("**/*a*a*a*a*a*a*b/**/*a*a*a*a*b"), worst)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("refuses patterns that cannot name a file of the repository, saying what to write", () => {
    expect(pathPatternProblem("services/api/**")).toBeUndefined();
    expect(pathPatternProblem("!services/api/docs/**")).toBeUndefined();
    expect(pathPatternProblem("v[0-9]/**")).toBeUndefined();
    expect(pathPatternProblem("")).toBe("a path is empty");
    expect(pathPatternProblem("  ")).toBe("a path is empty");
    expect(pathPatternProblem("!")).toContain("excludes nothing");
    expect(pathPatternProblem("/services/api/**")).toBe('"/services/api/**" starts with "/": paths are relative to the repository root, so write "services/api/**"');
    expect(pathPatternProblem("../other/**")).toContain('"." or ".."');
    expect(pathPatternProblem("services/../../etc")).toContain('"." or ".."');
    expect(pathPatternProblem("./services/api")).toContain('"." or ".."');
    expect(pathPatternProblem("services//api")).toContain('"//"');
    expect(pathPatternProblem("services\\api\\**")).toContain('separate directories with "/"');
    expect(pathPatternProblem("{api,web}/**")).toContain("braces");
    expect(pathPatternProblem("services/api**")).toContain("whole name");
    expect(pathPatternProblem("v[0-9/x")).toContain('"[" with no "]"');
    expect(pathPatternProblem("!!x")).toContain('two "!"');
    expect(pathPatternProblem("a\nb")).toContain("control character");
    expect(pathPatternProblem("a/".repeat(200))).toContain("longer than 256 characters");
  });

  it("refuses a list that takes in nothing", () => {
    expect(pathListProblem(["services/api/**", "!services/api/docs/**"])).toBeUndefined();
    expect(pathListProblem([])).toContain("paths is empty");
    expect(pathListProblem(["!docs/**"])).toContain('starts with "!"');
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

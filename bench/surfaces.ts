// Reads the fake GitHub's request log the way a person reads a pull request: which
// preview each write was for, when each of its three surfaces (check run, deployment,
// sticky comment) last changed, and whether they show a given commit in a given state.
import type { FakeGitHub, RecordedRequest } from "../test/fake-github/server.js";

export type Surface = "check" | "deployment" | "comment" | "reaction" | "other";

export interface Write {
  at: number;
  method: string;
  path: string;
  /** The pull request it was for, when the bench can tell. */
  pr?: number;
  surface: Surface;
  /** For a check run write: the commit of the check run. */
  sha?: string;
}

/**
 * A request that changes content on GitHub: what GitHub asks Apps to space a second
 * apart. Creating an installation token is a POST too, but it is authentication, and
 * Octokit's throttling leaves it out of the write lane as well (plugin-throttling's `isAuth`).
 */
export function isContentWrite(request: RecordedRequest): boolean {
  if (request.method === "GET" || request.method === "HEAD") return false;
  return !/^\/api\/v3\/app\/installations\/\d+\/access_tokens/.test(request.path);
}

const environmentPr = (environment: string | undefined) => {
  const m = /^pr-(\d+)$/.exec(environment ?? "");
  return m ? Number(m[1]) : undefined;
};
const issuePr = (issue: string | undefined) => (issue ? Number(issue.split("#")[1]) : undefined);

/** Every content write so far, each with its pull request and surface. `prOfSha` maps commits to pull requests. */
export function writesOf(gh: FakeGitHub, prOfSha: (sha: string) => number | undefined): Write[] {
  const writes: Write[] = [];
  for (const request of gh.requests) {
    if (!isContentWrite(request)) continue;
    const path = request.path.split("?")[0];
    const write: Write = { at: request.at, method: request.method, path, surface: "other" };
    let m: RegExpMatchArray | null;
    if ((m = path.match(/\/check-runs(?:\/(\d+))?$/))) {
      write.surface = "check";
      const sha = m[1] ? gh.checkRuns.find((r) => r.id === Number(m![1]))?.head_sha : request.body?.head_sha;
      write.sha = sha;
      write.pr = sha ? prOfSha(sha) : undefined;
    } else if ((m = path.match(/\/deployments\/(\d+)\/statuses$/))) {
      write.surface = "deployment";
      write.pr = environmentPr(gh.deployments.find((d) => d.id === Number(m![1]))?.environment);
    } else if (/\/deployments$/.test(path)) {
      write.surface = "deployment";
      write.pr = environmentPr(request.body?.environment);
    } else if ((m = path.match(/\/issues\/(\d+)\/comments$/))) {
      write.surface = "comment";
      write.pr = Number(m[1]);
    } else if ((m = path.match(/\/issues\/comments\/(\d+)\/reactions$/))) {
      write.surface = "reaction";
      write.pr = issuePr(gh.comments.find((c) => c.id === Number(m![1]))?.issue);
    } else if ((m = path.match(/\/issues\/comments\/(\d+)$/))) {
      write.surface = "comment";
      write.pr = issuePr(gh.comments.find((c) => c.id === Number(m![1]))?.issue);
    }
    writes.push(write);
  }
  return writes;
}

export type Wanted = "ready" | "destroyed";

/**
 * When each surface of pull request `pr` of `repo` came to show `sha` as `wanted`, and
 * stayed so: the time of the last write to it, or undefined while it shows something
 * else. Ready: the commit's check run completed with success, the newest deployment of
 * the commit with a success status, the comment saying ready at the commit. Destroyed:
 * the deployment inactive and the comment saying destroyed.
 */
export function surfacesOf(gh: FakeGitHub, writes: readonly Write[], repo: string, pr: number, sha: string, wanted: Wanted) {
  const short = sha.slice(0, 7);
  const lastWrite = (surface: Surface) => writes.filter((w) => w.pr === pr && w.surface === surface).at(-1)?.at;

  const checks = gh.checkRuns.filter((r) => r.repo === repo && r.head_sha === sha);
  const check = checks.at(-1);
  const checkOk = wanted === "destroyed" || (check?.status === "completed" && check.conclusion === "success");
  // Writes to other commits' check runs do not change what this commit shows.
  const checkAt = writes.filter((w) => w.surface === "check" && w.sha === sha).at(-1)?.at;

  const deployment = gh.deployments.filter((d) => d.repo === repo && environmentPr(d.environment) === pr).at(-1);
  const lastState = deployment?.statuses.at(-1)?.state;
  const deploymentOk = wanted === "ready" ? deployment?.ref === sha && lastState === "success" : lastState === "inactive";

  const comment = gh.comments.find((c) => c.issue === `${repo}#${pr}` && c.performed_via_github_app);
  const headline = wanted === "ready" ? "✅ Preview ready" : "🗑️ Preview destroyed";
  const commentOk = !!comment && comment.body.includes(headline) && (wanted === "destroyed" || comment.body.includes(`\`${short}\``));

  return {
    check: checkOk ? (wanted === "ready" ? checkAt : 0) : undefined,
    deployment: deploymentOk ? lastWrite("deployment") : undefined,
    comment: commentOk ? lastWrite("comment") : undefined,
  };
}

/** The two consecutive content writes closest together (undefined with fewer than two). */
export function minimumGap(writes: readonly Write[]): { ms: number; between: [Write, Write] } | undefined {
  const sorted = [...writes].sort((a, b) => a.at - b.at);
  let best: { ms: number; between: [Write, Write] } | undefined;
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i].at - sorted[i - 1].at;
    if (!best || gap < best.ms) best = { ms: gap, between: [sorted[i - 1], sorted[i]] };
  }
  return best;
}

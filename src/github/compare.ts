import { shortSha } from "./markdown.js";
import { httpStatus, worthRetrying, type Octokit, type RepoRef } from "./octokit.js";

/**
 * "Compare two commits" lists at most this many changed files, on the first page only,
 * for the whole comparison, and says nothing when it leaves some out: a list this long
 * may be cut, so it cannot say which paths were not touched.
 */
export const COMPARE_FILES_MAX = 300;

/**
 * The files that differ between two commits, or why GitHub cannot say: then the caller
 * must take it that every file changed (and rebuild).
 */
export type ChangedFiles = { files: string[] } | { unknown: string };

export interface Comparison extends RepoRef {
  /** The commit deployed before. */
  base: string;
  /** The commit pushed. */
  head: string;
}

/**
 * Which files changed from `base` (the commit an app last deployed) to `head` (the
 * commit pushed), through GitHub's compare API (`GET /repos/{owner}/{repo}/compare/
 * BASE...HEAD`, a read). A renamed file counts under both names: it left the old path
 * and arrived at the new one, and either may be one of an app's paths.
 *
 * The three-dot compare diffs the merge base of the two commits against `head`. That
 * is the change from `base` only when `base` is an ancestor of `head` (status "ahead",
 * or "identical"). After a force push it is not:
 * - "diverged" (the branch rebased, or a commit amended): the diff runs from the merge
 *   base, so a change `base` had and `head` dropped (a reverted edit to an app) is not
 *   in it, although the app deployed from `base` still holds it;
 * - "behind" (the branch reset to an earlier commit): the diff is empty, although
 *   everything `base` added on top of `head` is deployed and now gone.
 * Both are unknown. A 404 (`base` no longer exists: force-pushed away and collected,
 * or a history with no common ancestor) and a diff GitHub cannot produce are unknown
 * too. Errors worth retrying (GitHub's 5xx, rate limits, the network) are thrown, as
 * any other read of a run.
 */
export async function changedFiles(octokit: Octokit, where: Comparison): Promise<ChangedFiles> {
  const { owner, repo, base, head } = where;
  if (base === head) return { files: [] };
  let data: Awaited<ReturnType<Octokit["rest"]["repos"]["compareCommitsWithBasehead"]>>["data"];
  try {
    // With a page parameter the files still come whole on the first page (GitHub:
    // "the list of changed files is only shown on the first page of results"), while
    // the commits, unused here, shrink to one instead of up to 250.
    ({ data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${base}...${head}`, per_page: 1, page: 1 }));
  } catch (error) {
    const unknown = refusal(error, base);
    if (unknown === undefined) throw error;
    return { unknown };
  }
  if (data.status === "diverged") {
    return { unknown: `the branch was force-pushed: ${shortSha(base)} is no longer in the history of ${shortSha(head)}` };
  }
  if (data.status === "behind") {
    return { unknown: `the branch was reset: ${shortSha(head)} is older than ${shortSha(base)}` };
  }
  if (data.status === "identical") return { files: [] };
  const files = data.files;
  if (files === undefined) return { unknown: "GitHub's comparison listed no files" };
  if (files.length >= COMPARE_FILES_MAX) {
    return { unknown: `GitHub lists at most ${COMPARE_FILES_MAX} changed files, and ${shortSha(base)}...${shortSha(head)} reached that` };
  }
  const names = files.flatMap((file) => (file.previous_filename ? [file.filename, file.previous_filename] : [file.filename]));
  return { files: [...new Set(names)] };
}

/**
 * Why GitHub's refusal of a comparison means the files are unknown, or undefined when
 * it is worth retrying. GitHub answers a diff too large to produce with "Server Error:
 * Sorry, this diff is taking too long to generate." (seen as 500, 422 and 406) or
 * "Sorry, this diff is temporarily unavailable due to heavy server load."; asking again
 * soon tends to meet the same answer, and a rebuild is always right.
 */
function refusal(error: unknown, base: string): string | undefined {
  const status = httpStatus(error);
  const message = error instanceof Error ? error.message : "";
  if (/diff is (taking too long|temporarily unavailable)|not_available/i.test(message)) return "GitHub could not produce the diff (too large)";
  if (status === 404) return `GitHub cannot compare with ${shortSha(base)} (force-pushed away, or no common history)`;
  if (worthRetrying(error)) return undefined;
  return `GitHub refused the comparison (HTTP ${status})`;
}

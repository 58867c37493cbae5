import { appName } from "../model/app-name.js";
import type { Octokit, RepoRef } from "./octokit.js";
import type { PullRequestInfo } from "../model/pull-request.js";

/** A head branch in another repository (or in a deleted one) is someone else's code. */
export function isFork(pr: { head: { repo: { full_name: string } | null }; base: { repo: { full_name: string } } }): boolean {
  return pr.head.repo?.full_name !== pr.base.repo.full_name;
}

/** What the REST API says of a pull request (pulls.get, pulls.list), in the store's terms. */
export interface ApiPullRequest {
  number: number;
  draft?: boolean;
  head: { sha: string; ref: string; repo: { full_name: string } | null };
  base: { ref: string; repo: { full_name: string } };
  labels: Array<{ name?: string }>;
}

export function pullRequestFromApi(installationId: number, owner: string, repo: string, data: ApiPullRequest): PullRequestInfo {
  return {
    installationId,
    owner,
    repo,
    number: data.number,
    appName: appName(owner, repo, data.number),
    headSha: data.head.sha,
    headRef: data.head.ref,
    baseRef: data.base.ref,
    draft: data.draft ?? false,
    labels: data.labels.map((l) => l.name ?? ""),
    fork: isFork(data),
  };
}

/**
 * The branch whose .preview.yml governs a pull request from a fork. Its author writes
 * its head and chooses its base branch, where an old file may trust forks or name
 * secrets: only the default branch is the repository's word.
 */
export async function defaultBranch(octokit: Octokit, where: RepoRef): Promise<string> {
  const { data } = await octokit.rest.repos.get({ owner: where.owner, repo: where.repo });
  return data.default_branch;
}

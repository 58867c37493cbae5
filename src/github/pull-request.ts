import { appName } from "../preview/app-name.js";
import type { PullRequestInfo } from "../store/store.js";

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

import type { ProbotOctokit } from "probot";

export type Octokit = InstanceType<typeof ProbotOctokit>;

export interface RepoRef {
  owner: string;
  repo: string;
}

export function httpStatus(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "status" in error
    ? Number((error as { status: unknown }).status)
    : undefined;
}

/**
 * GitHub refused a token for the installation: it was deleted. Probot asks for the
 * token at an installation's first request (POST /app/installations/{id}/access_tokens),
 * so this surfaces from whichever request came first.
 */
export function installationGone(error: unknown): boolean {
  const url = (error as { request?: { url?: unknown } }).request?.url;
  return httpStatus(error) === 404 && typeof url === "string" && /\/app\/installations\/\d+\/access_tokens$/.test(url);
}

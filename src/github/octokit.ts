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

/**
 * Whether trying again later may succeed: GitHub's server errors and rate limits,
 * and errors with no HTTP status at all (a reset connection, a timeout, DNS). A 4xx
 * answer (a permission, a missing resource) would fail the same way again.
 */
export function worthRetrying(error: unknown): boolean {
  const status = httpStatus(error);
  if (status === undefined || Number.isNaN(status)) return true;
  if (status >= 500 || status === 429) return true;
  // GitHub answers a rate limit with 403 as well as 429 ("Rate limits for the REST
  // API": a secondary limit says so and may send `retry-after`; a spent primary limit
  // sends `x-ratelimit-remaining: 0`). Any other 403 is a permission.
  return (
    status === 403 &&
    (retryAfterMs(error) !== undefined ||
      responseHeader(error, "x-ratelimit-remaining") === "0" ||
      /secondary rate limit/i.test(error instanceof Error ? error.message : ""))
  );
}

function responseHeader(error: unknown, name: string): string | undefined {
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers;
  const value = headers?.[name];
  return value === undefined || value === null ? undefined : String(value);
}

/** GitHub's `retry-after` (seconds), when an answer carries one: no retry may come sooner. */
export function retryAfterMs(error: unknown): number | undefined {
  const seconds = Number(responseHeader(error, "retry-after"));
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

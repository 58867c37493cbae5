import { checkRunName } from "./check-run.js";
import type { Octokit, RepoRef } from "./octokit.js";

export type DeploymentState = "success" | "failure" | "inactive";

/**
 * The deployment's environment: "pr-12" for a pull request's one app, "pr-12-web" for
 * one of several (`apps:` in .preview.yml), so each app gets its own "View deployment"
 * and its own history. A pull request's number has no hyphen, so no app of one pull
 * request has the environment of another's.
 */
export function environmentName(number: number, app?: string): string {
  return app ? `pr-${number}-${app}` : `pr-${number}`;
}

/** A transient, non-production deployment of one commit (of one app, with `app`): the PR shows "View deployment". */
export async function createDeployment(octokit: Octokit, where: RepoRef & { sha: string; number: number; app?: string }): Promise<number> {
  const { data } = await octokit.rest.repos.createDeployment({
    owner: where.owner,
    repo: where.repo,
    ref: where.sha,
    environment: environmentName(where.number, where.app),
    transient_environment: true,
    production_environment: false,
    auto_merge: false,
    required_contexts: [],
    description: checkRunName(where.app),
  });
  if (!("id" in data)) throw new Error(`GitHub did not create a deployment: ${data.message ?? "no reason given"}`);
  return data.id;
}

/**
 * The deployment of a commit this App created, if GitHub has one: a run that died
 * between creating it and saving its id finds it again instead of creating a second.
 * Another App's deployment of the same environment is not ours to update, and another
 * app's of the same commit (`app`) is in an environment of its own.
 */
export async function findDeployment(
  octokit: Octokit,
  where: RepoRef & { sha: string; number: number; appId: number; app?: string },
): Promise<number | undefined> {
  const { data } = await octokit.rest.repos.listDeployments({
    owner: where.owner,
    repo: where.repo,
    sha: where.sha,
    environment: environmentName(where.number, where.app),
    per_page: 100,
  });
  const ours = data.filter((d) => d.performed_via_github_app?.id === where.appId).map((d) => d.id);
  return ours.length ? Math.max(...ours) : undefined;
}

export async function setDeploymentState(
  octokit: Octokit,
  where: RepoRef & { id: number },
  state: DeploymentState,
  extra: { environmentUrl?: string; logUrl?: string; description?: string } = {},
): Promise<void> {
  await octokit.rest.repos.createDeploymentStatus({
    owner: where.owner,
    repo: where.repo,
    deployment_id: where.id,
    state,
    environment_url: extra.environmentUrl,
    log_url: extra.logUrl,
    description: extra.description?.slice(0, 140),
    auto_inactive: state === "success",
  });
}

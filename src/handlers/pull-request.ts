import type { Context, Probot } from "probot";
import { pullRequestFromApi } from "../github/pull-request.js";
import type { Metrics } from "../metrics/metrics.js";
import type { PullRequestInfo, Store } from "../store/store.js";
import { handle } from "./outcomes.js";

export interface HandlerDeps {
  store: Store;
  /** Tells the worker pool that a desire changed, or (`commands`) that a command waits. */
  wake: (what?: { commands?: boolean }) => void;
  /** Counts each delivery's outcome (src/handlers/outcomes.ts). */
  metrics?: Metrics;
}

type PullRequestContext = Context<"pull_request">;

const DEPLOY_ACTIONS = [
  "pull_request.opened",
  "pull_request.reopened",
  "pull_request.synchronize",
  "pull_request.ready_for_review",
  "pull_request.labeled",
] as const;

// Events after which the trigger rules may no longer let the preview through: the
// worker judges it again even though its commit did not change.
const RECHECK_ACTIONS = ["pull_request.unlabeled", "pull_request.converted_to_draft"] as const;

export function pullRequestInfo(context: PullRequestContext): PullRequestInfo {
  const { pull_request: pr, repository } = context.payload;
  const installation = (context.payload as { installation?: { id: number } }).installation;
  if (!installation) throw new Error("pull_request event without an installation: is this a GitHub App delivery?");
  return pullRequestFromApi(installation.id, repository.owner.login, repository.name, pr);
}

/**
 * Handlers only record what should be true and return: GitHub waits at most ten
 * seconds for an answer, and a deploy takes minutes. The worker pool does the work.
 */
export function registerPullRequestHandlers(app: Probot, deps: HandlerDeps): void {
  handle(app, deps.metrics, DEPLOY_ACTIONS, async (context) => {
    const pr = pullRequestInfo(context);
    const desired = await deps.store.desireDeployOnce(context.id, pr);
    if (!desired) return "duplicate";
    const { changed } = desired;
    context.log.info({ repo: `${pr.owner}/${pr.repo}`, pr: pr.number, app: pr.appName, sha: pr.headSha, changed }, `desire: deploy (${context.payload.action})`);
    if (changed) deps.wake();
    return "recorded";
  });

  handle(app, deps.metrics, RECHECK_ACTIONS, async (context) => {
    const pr = pullRequestInfo(context);
    const desired = await deps.store.desireDeployOnce(context.id, pr);
    if (!desired) return "duplicate";
    // The handler reads no .preview.yml: whether the labels or draft status still
    // match the trigger rules is the worker's to judge.
    const changed = desired.changed || (await deps.store.recheck(pr.owner, pr.repo, pr.number)).changed;
    context.log.info({ repo: `${pr.owner}/${pr.repo}`, pr: pr.number, app: pr.appName, changed }, `desire: check the trigger rules again (${context.payload.action})`);
    if (changed) deps.wake();
    return "recorded";
  });

  handle(app, deps.metrics, ["pull_request.closed"], async (context) => {
    if (!(await deps.store.firstDelivery(context.id))) return "duplicate";
    const { repository, pull_request: pr } = context.payload;
    const { changed } = await deps.store.desireDestroy(repository.owner.login, repository.name, pr.number);
    context.log.info({ repo: repository.full_name, pr: pr.number, changed }, "desire: destroy (closed)");
    if (changed) deps.wake();
    return "recorded";
  });
}

import { failureOutput, supersededOutput } from "../github/check-run.js";
import { react } from "../github/comment.js";
import { installationGone } from "../github/octokit.js";
import type { Claim, Preview, PreviewPatch } from "../store/store.js";
import { deployDesire } from "./deploy-run.js";
import { destroy, quietDestroy } from "./destroy-run.js";
import { endOpenChecks, offerFreedSlot, resendPullRequestComment, showFor, type Attempt, type Run, type RunDeps } from "./run.js";
import type { WantedDeployment } from "./surfaces.js";

// One claimed desire, carried out: a deploy (deploy-run.ts, which plans with plan.ts and
// does the Fly work in deploy-steps.ts) or a destroy (destroy-run.ts). What the pool
// needs of a run is exported from here.
export { RetryLater, Superseded, type Attempt, type ReconcileDeps, type RunDeps } from "./run.js";

/** Carries out one claimed desire: deploy at a commit, or destroy. */
export async function reconcile(
  claim: Claim,
  worker: string,
  signal: AbortSignal,
  deps: RunDeps,
  attempt: Attempt,
): Promise<void> {
  const { preview, generation } = claim;
  const log = deps.log.child({ repo: `${preview.owner}/${preview.repo}`, pr: preview.number, app: preview.app_name });
  const clock = deps.clock ?? Date.now;
  const flyctl = deps.flyctl.withLog(log);
  const save = (patch: PreviewPatch) => deps.store.save(preview.id, worker, patch);

  if (preview.desired_action === "destroy" && preview.quiet) {
    // The App was uninstalled from the repository: GitHub no longer answers us. The
    // apps of an `apps:` block go the same way, each in its own run.
    if (preview.app_key === "") await deps.store.destroyApps(preview, { reason: "uninstalled" });
    await quietDestroy(preview, flyctl, log, (patch) => deps.store.finish(preview.id, worker, generation, patch), clock);
    await offerFreedSlot(deps.store, preview.installation_id);
    return;
  }

  const octokit = await deps.github(preview.installation_id);
  // Probot's request logging reads octokit.log at each request: bind it to this run.
  octokit.log = log.child({ name: "github" });
  // The comment of a command this run carries out gets 🚀 or 😕 when the run ends; a
  // superseded run leaves that to the run that supersedes it.
  const finish = async (patch: PreviewPatch) => {
    const commandDone = preview.command_comment_id !== null && patch.status !== "superseded";
    await deps.store.finish(preview.id, worker, generation, commandDone ? { ...patch, command_comment_id: null } : patch);
    if (commandDone) {
      const content = patch.status === "failed" || patch.status === "limited" ? "confused" : "rocket";
      await react(octokit, { owner: preview.owner, repo: preview.repo, commentId: preview.command_comment_id! }, content).catch((error) =>
        log.warn({ err: error }, "could not react to the command"),
      );
    }
    // An app's outcome is in its pull request's comment, which reads it from the row just saved.
    if (preview.app_key !== "") await resendPullRequestComment(preview, deps);
  };
  const show = showFor(preview, generation, deps);
  const run: Run = { preview, sha: preview.desired_sha ?? preview.head_sha, octokit, show, generation, save, finish, signal, deps, flyctl, log, clock, attempt };

  try {
    if (preview.desired_action === "destroy") await destroy(run);
    else await deployDesire(run);
  } catch (error) {
    if (!installationGone(error)) throw error;
    // GitHub gives no token for a deleted installation (its uninstall webhook was lost,
    // or this run is older than it): its previews can only be destroyed quietly. This
    // run's desire changed with them; the pool claims it again.
    log.warn({ installationId: preview.installation_id }, "installation gone: destroying its previews quietly");
    await deps.store.appRemoved({ installationId: preview.installation_id });
    await deps.store.release(preview.id, worker);
  }
}

/**
 * After an unexpected error ended a deploy for good (the pool gave up at `generation`):
 * tells GitHub what the store now says. Otherwise the check run would spin
 * `in_progress` and the comment say "building" forever. The commit's check run (and
 * deployment) end `failure` with the reason, and the sticky comment says failed,
 * naming the commit that still serves.
 */
export async function reportGivenUp(preview: Preview, generation: number, deps: RunDeps, reason: string): Promise<void> {
  const sha = preview.desired_sha ?? preview.head_sha;
  if (preview.quiet) return;
  const show = showFor(preview, generation, deps);
  const deploying = preview.desired_action === "deploy";
  const failed = { conclusion: "failure" as const, output: failureOutput({ appName: preview.app_name, sha, timings: {}, tail: [], reason }) };
  const writes = deps.store.surfaceWrites;
  // Only a run that already showed something for this commit has something to correct:
  // before its check run, it may not even have known whether the repository has a config.
  const checkShown = preview.check_run_sha === sha || (await writes.get(preview.id, `check:${sha}`)) !== undefined;
  if (deploying && checkShown) {
    await show({ surface: "check", state: { sha, ...failed } });
    const deployment = await writes.get(preview.id, "deployment");
    const deploymentSha = deployment ? (JSON.parse(deployment.state) as WantedDeployment).sha : preview.deployment_sha;
    if (deploymentSha === sha) await show({ surface: "deployment", state: { sha, state: "failure", description: reason } });
    await show({ surface: "comment", state: { status: "failed", sha, reason, url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined } });
  }
  // Check runs earlier runs left open, which this one gave up before ending, end now
  // rather than at the next push: older commits' cancelled, this commit's (its id lost) failed.
  await endOpenChecks(preview, deps, show, (old) =>
    !deploying || old !== sha
      ? { conclusion: "cancelled", output: supersededOutput(old, deploying ? sha : null, preview.destroyed_by) }
      : checkShown
        ? undefined
        : failed,
  );
}

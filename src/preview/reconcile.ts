import { failureOutput, supersededOutput } from "../github/check-run.js";
import { commandReplyMarker, endedAsAsked, postOnce, react, renderAppsCommandReply } from "../github/comment.js";
import { installationGone } from "../github/octokit.js";
import type { Logger } from "probot";
import type { AppsCommandEnded, Claim, Preview, PreviewPatch } from "../store/store.js";
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
  // superseded run leaves that to the run that supersedes it, and a pull request's run
  // that passed it on to its apps (`commandPassedOn`) to their runs.
  let command = preview.command_comment_id;
  const finish = async (patch: PreviewPatch) => {
    const commandDone = command !== null && patch.status !== "superseded";
    await deps.store.finish(preview.id, worker, generation, commandDone ? { ...patch, command_comment_id: null } : patch);
    if (commandDone) {
      const failed = patch.status === "failed" || patch.status === "limited";
      const where = { owner: preview.owner, repo: preview.repo, number: preview.number, commentId: command! };
      // Bookkeeping: failing to write it must not turn a run that ended into a failed one.
      await deps.store
        .commandAnswered(where, failed ? `failed: ${patch.last_error ?? patch.status}` : `done: ${patch.status}`)
        .catch((error) => log.warn({ err: error }, "could not record the command's outcome"));
      await react(octokit, where, failed ? "confused" : "rocket").catch((error) => log.warn({ err: error }, "could not react to the command"));
    }
    if (preview.app_key !== "") await appRunEnded(preview, deps, log);
  };
  const show = showFor(preview, generation, deps);
  const run: Run = {
    preview,
    sha: preview.desired_sha ?? preview.head_sha,
    octokit,
    show,
    generation,
    save,
    finish,
    commandPassedOn: () => {
      command = null;
    },
    signal,
    deps,
    flyctl,
    log,
    clock,
    attempt,
  };

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
  if (preview.app_key !== "") await appRunEnded(preview, deps, deps.log);
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

/**
 * An app's run ended, by itself or given up: what waits on its pull request's apps goes on.
 * The pull request's comment is sent again (it reads the row just saved); a command on the
 * whole pull request whose apps have now all ended is answered (`answerAppsCommand`); and
 * once every app's destroy has ended, the pull request's row is asked to drop the database
 * they shared (src/preview/destroy-run.ts).
 */
async function appRunEnded(app: Preview, deps: RunDeps, log: Logger): Promise<void> {
  await resendPullRequestComment(app, deps);
  // The run has ended: nothing here may make it look failed. A command left unanswered by
  // an error stays so; a database left by one is the sweep's.
  try {
    for (const ended of await deps.store.endedAppsCommands(app)) {
      await answerAppsCommand(app, ended, deps, log).catch((error) => log.warn({ err: error, commentId: ended.commentId }, "could not answer the command"));
    }
    if (app.desired_action === "destroy" && (await deps.store.wakeForDatabase(app))) {
      log.info("every app of the pull request is destroyed: its row drops their database");
    }
  } catch (error) {
    log.warn({ err: error }, "could not carry on what waits for the pull request's apps");
  }
}

/**
 * A command on every app of a pull request, answered once each app it acted on ended its
 * run: 🚀 when every one is up (or destroyed, for a destroy); otherwise 😕 and a reply that
 * names the apps that are not, and why (posted once: a retry finds its marker).
 */
async function answerAppsCommand(app: Preview, ended: AppsCommandEnded, deps: RunDeps, log: Logger): Promise<void> {
  const apps = ended.apps.map((a) => ({ name: a.appKey, action: a.action, status: a.status, reason: a.lastError ?? undefined }));
  const wrong = apps.filter((a) => !endedAsAsked(a));
  const where = { owner: app.owner, repo: app.repo, number: app.number, commentId: ended.commentId };
  const outcome = wrong.length
    ? `failed: ${wrong.map((a) => `${a.name} ${a.status}`).join(", ")}`
    : `done: ${apps.map((a) => a.name).join(", ")} ${apps.every((a) => a.action === "destroy") ? "destroyed" : "up"}`;
  const command = await deps.store.commandAnswered(where, outcome).catch((error) => void log.warn({ err: error }, "could not record the command's outcome"));
  const octokit = await deps.github(app.installation_id);
  await react(octokit, where, wrong.length ? "confused" : "rocket");
  if (!wrong.length) return;
  const reply = renderAppsCommandReply({ commentId: ended.commentId, command, apps });
  await postOnce(octokit, { ...where, appId: deps.appId }, commandReplyMarker(ended.commentId), reply);
}

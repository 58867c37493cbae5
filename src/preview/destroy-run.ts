import type { Logger } from "probot";
import type { Flyctl } from "../fly/index.js";
import { supersededOutput } from "../github/check-run.js";
import { formatTtl } from "../github/markdown.js";
import { destroyedDescription, destroyFailedError, destroyFailedReason, hookFailure } from "../github/messages.js";
import type { HookShown } from "../model/pull-request.js";
import type { Preview, PreviewPatch } from "../store/store.js";
import { DEFAULT_TTL_MS } from "./reaper.js";
import { dropDatabases } from "./database.js";
import { readHookSpec, runHook } from "./hooks.js";
import { describe, endOpenChecks, offerFreedSlot, type Run } from "./run.js";

/**
 * Destroys the preview: the Fly app, its deployment, and a comment that says why. With
 * `untriggered` the trigger rules took it away: the comment says how to bring it back,
 * and the row ends with `untriggered.patch` instead of "destroyed".
 */
export async function destroy(run: Run, untriggered?: { reason: string; remedy: string; patch: PreviewPatch }): Promise<void> {
  const { preview, show, flyctl, log, clock, finish, deps } = run;
  // Before anything else: a run that died may have left a check run open with nothing
  // else to show for it (no comment yet, no app).
  await endOpenChecks(preview, deps, show, (old) => ({ conclusion: "cancelled", output: supersededOutput(old, null, preview.destroyed_by) }));
  // A pull request with several apps: each app's row destroys its own Fly app, in a run
  // of its own; this row's comment shows them go.
  const why = untriggered ? "trigger" : (preview.destroy_reason ?? "closed");
  if (preview.app_key === "") {
    const apps = await deps.store.destroyApps(preview, { reason: why, by: preview.destroyed_by ?? undefined });
    if (apps.length) log.info({ apps }, "the pull request's apps asked to be destroyed");
  }
  // A PR that never got a preview (no config, or skipped) has nothing to tear down
  // and nothing to say.
  const hadSurface = preview.comment_id !== null || preview.app_created === 1 || (await deps.store.surfaceWrites.get(preview.id, "comment")) !== undefined;
  if (!hadSurface) {
    await finish({ status: "destroyed", status_at: clock() });
    return;
  }
  const predestroy = await runPredestroy(run);
  try {
    if (preview.app_created) {
      const outcome = await flyctl.destroyApp(preview.app_name);
      log.info({ outcome, reason: preview.destroy_reason }, "fly app destroyed");
    }
  } catch (error) {
    const reason = flyctl.redactor.redact(describe(error));
    log.warn({ reason }, "destroy failed: the reaper retries it");
    await show({
      surface: "comment",
      state: { status: "failed", sha: preview.deployed_sha ?? preview.head_sha, reason: destroyFailedReason(reason), url: preview.url ?? undefined },
    });
    await finish({ status: "failed", status_at: clock(), last_error: destroyFailedError(reason) });
    return;
  }
  // The database goes after the app that used it (an app of several: its own user of the
  // pull request's database, which the pull request's row drops). One not dropped now (its
  // provider failing) stays recorded, and the sweep (reaper, `fly-preview gc`) drops it later.
  await dropDatabases(deps, preview, log);
  await show({ surface: "deployment", state: { sha: null, state: "inactive", description: destroyedDescription(why) } });
  await show({
    surface: "comment",
    state: {
      status: "destroyed",
      sha: preview.deployed_sha ?? preview.head_sha,
      url: preview.url ?? undefined,
      destroyReason: why,
      destroyedBy: preview.destroyed_by ?? undefined,
      ttl: formatTtl(preview.config_ttl_ms ?? DEFAULT_TTL_MS),
      reason: untriggered?.reason,
      remedy: untriggered?.remedy,
      hook: predestroy,
    },
  });
  // A preview that comes back gets a new app: its postdeploy runs again there.
  await finish({ status: "destroyed", last_error: null, ...untriggered?.patch, status_at: clock(), app_created: 0, url: null, image_sha: null, postdeploy_at: null, predestroy_hook: null });
  await offerFreedSlot(deps.store, preview.installation_id);
}

/**
 * The predestroy hook the last deploy that was up remembered, before its app goes: best
 * effort, under its timeout. Its failure is logged and shown in the final comment, and
 * never stops the destroy. Forgotten once it ran, so a destroy retried after Fly.io
 * failed does not run it twice. Nothing runs for an app never created or never up.
 */
async function runPredestroy(run: Run): Promise<HookShown | undefined> {
  const { preview, flyctl, log, deps, signal } = run;
  const spec = readHookSpec(preview.predestroy_hook);
  if (!spec || !preview.app_created) return undefined;
  // The hook may print the repository's secrets (it runs with them): hidden like the deploy's.
  if (deps.secrets) {
    try {
      const names = (await deps.secrets.list(preview.owner, preview.repo)).map((s) => s.name);
      const { values } = await deps.secrets.resolve(preview.owner, preview.repo, names);
      for (const value of Object.values(values)) flyctl.redactor.add(value);
    } catch (error) {
      // Without the values its output cannot be shown safely: the hook does not run.
      log.warn({ reason: describe(error) }, "predestroy skipped: the repository's secrets could not be read to hide them");
      return { name: "predestroy", command: spec.command, ok: false, durationMs: 0, reason: "did not run: the repository's secrets could not be read" };
    }
  }
  const hook = await runHook({ flyctl, metrics: deps.metrics, installationId: preview.installation_id }, preview.app_name, "predestroy", spec, signal);
  if (hook.ok) log.info({ hook: "predestroy", durationMs: hook.durationMs }, "predestroy ran");
  else log.warn({ hook: "predestroy", reason: hookFailure(hook), tail: hook.tail }, "predestroy failed: destroying the app anyway");
  await run.save({ predestroy_hook: null });
  const { tail: _tail, ...shown } = hook;
  return shown;
}

/**
 * A destroy after the App lost access to the repository (uninstalled): Fly only,
 * nothing said on GitHub, which no longer answers us.
 */
export async function quietDestroy(
  preview: Preview,
  flyctl: Flyctl,
  log: Logger,
  finish: (patch: PreviewPatch) => Promise<void>,
  clock: () => number,
): Promise<void> {
  try {
    if (preview.app_created) log.info({ outcome: await flyctl.destroyApp(preview.app_name) }, "fly app destroyed (App uninstalled)");
  } catch (error) {
    const reason = flyctl.redactor.redact(describe(error));
    log.warn({ reason }, "destroy failed: the reaper retries it");
    await finish({ status: "failed", status_at: clock(), last_error: destroyFailedError(reason) });
    return;
  }
  // No predestroy here: the repository is gone for the App, and nobody would see its outcome.
  await finish({ status: "destroyed", status_at: clock(), app_created: 0, url: null, image_sha: null, last_error: null, postdeploy_at: null, predestroy_hook: null });
}

import { CONFIG_PATH, loadPreviewConfig, readRepoFile, resolveAppUrls, type AppConfig, type LoadedConfig, type PreviewConfig } from "../config/index.js";
import { changedFiles } from "../github/compare.js";
import { appName } from "../model/app-name.js";
import { appsToRebuild } from "./rebuild.js";
import { appHashes, unchangedPathsAction } from "./app-config.js";
import { dropOtherLayoutDatabase, ensureSharedDatabase, resetSharedDatabase } from "./database.js";
import { DatabaseError } from "../database/errors.js";
import type { DatabaseShown } from "../model/pull-request.js";
import type { PreviewPatch, WantedApp } from "../store/store.js";
import {
  APPROVE_ACTION,
  awaitingApprovalOutput,
  invalidConfigOutput,
  notDeployedOutput,
  supersededOutput,
  waitingForSlotOutput,
} from "../github/check-run.js";
import {
  appRemovedReason,
  databaseFailingReason,
  lastAttemptReason,
  FORKS_OFF_REASON,
  fullLimitReason,
  invalidConfigReason,
  noConfigReason,
  refusedFlyTomlReason,
  retryNotice,
} from "../github/messages.js";
import { defaultBranch } from "../github/pull-request.js";
import { deploy } from "./deploy-steps.js";
import { destroy } from "./destroy-run.js";
import { plan, type Plan } from "./plan.js";
import type { WantedComment } from "./reporter.js";
import { endOpenChecks, RetryLater, type Run } from "./run.js";
import type { WantedCheck } from "./surfaces.js";

/**
 * Carries out a deploy desire: reads what the plan judges on (.preview.yml, the
 * repository's fly.toml, how many slots are taken), and does what it decides.
 */
export async function deployDesire(run: Run): Promise<void> {
  const { preview, sha, log, generation } = run;
  log.info({ sha, generation }, "deploy started");
  // Runs for older commits that died, or were stopped before cancelling, left their check runs open.
  await endOpenChecks(preview, run.deps, run.show, (old) => (old === sha ? undefined : { conclusion: "cancelled", output: supersededOutput(old, sha) }));

  // A fork's own .preview.yml is its author's to write, and so is its choice of base
  // branch: read the default branch's instead.
  // An app of an `apps:` block may release its last image (an older commit) with its block
  // as the pull request's head has it: an app reads the head's .preview.yml.
  const configRef = preview.fork ? await defaultBranch(run.octokit, preview) : preview.app_key ? preview.head_sha : sha;
  const loaded = await loadPreviewConfig(run.octokit, { owner: preview.owner, repo: preview.repo, ref: configRef });
  const apps = loaded.found && loaded.ok ? loaded.apps : undefined;
  // Several apps (docs/monorepos.md): the pull request's row hands each app its desire,
  // and each app's row deploys it, with the app's own configuration.
  if (preview.app_key !== "") return deployApp(run, loaded, configRef);
  if (apps) return coordinate(run, { ...(loaded as Extract<LoadedConfig, { ok: true }>), apps }, configRef);
  // A file that lost its `apps:`: the apps' previews go (and their Fly Postgres database),
  // the pull request's row deploys the one app.
  if ((await run.deps.store.appsOf(preview.owner, preview.repo, preview.number)).length) {
    await run.deps.store.desireApps(preview, sha, []);
    await dropOtherLayoutDatabase(run.deps, preview, log, "single");
  }
  const config = loaded.found && loaded.ok ? loaded.config : undefined;
  const decided = plan({
    preview,
    sha,
    loaded,
    settings: run.deps.settings,
    active: config ? await activePreviews(run, config) : {},
    repoFlyToml: config?.fly_toml
      ? await readRepoFile(run.octokit, { owner: preview.owner, repo: preview.repo, ref: sha, path: config.fly_toml })
      : undefined,
  });
  await carryOut(run, decided, configRef);
}

/**
 * The run of one app of an `apps:` block: planned and deployed like a preview of its own,
 * with the app's configuration (its `${apps.NAME.url}` resolved). An app no longer in the
 * file is left to the pull request's run, which destroys it.
 */
async function deployApp(run: Run, loaded: LoadedConfig, configRef: string): Promise<void> {
  const { preview, sha, log, clock, finish } = run;
  const apps = loaded.found && loaded.ok ? loaded.apps : undefined;
  const resolved = apps && resolveAppUrls(apps, preview);
  const app = resolved?.ok ? resolved.apps.find((a) => a.name === preview.app_key) : undefined;
  if (!app) {
    log.info({ app: preview.app_key }, "the app is no longer in apps: of .preview.yml: its pull request's run destroys it");
    await finish({ status: "skipped", status_at: clock(), last_error: appRemovedReason(preview.app_key) });
    return;
  }
  const hashes = appHashes(app.config);
  const decided = plan({
    preview,
    sha,
    loaded: { found: true, text: "", ok: true, config: app.config },
    settings: run.deps.settings,
    active: await activePreviews(run, app.config),
    hashes,
    repoFlyToml: app.config.fly_toml
      ? await readRepoFile(run.octokit, { owner: preview.owner, repo: preview.repo, ref: sha, path: app.config.fly_toml })
      : undefined,
  });
  // Remembered once the app is up: the pull request's next run compares its block with them.
  await carryOut(run, decided, configRef, { config_hash: hashes.config, env_hash: hashes.env });
}

/**
 * The run of a pull request whose .preview.yml has `apps:`: the gates that are the pull
 * request's (trigger rules, forks, limits counting every app) as for one app; past them,
 * each app gets its desire (src/store/apps.ts): built again when a file under its `paths`
 * changed since its last deploy, or on a command; left as it is otherwise. A removed app
 * is destroyed. The apps' rows then deploy on their own, each in a run of the pool.
 */
async function coordinate(run: Run, loaded: Extract<LoadedConfig, { ok: true }> & { apps: AppConfig[] }, configRef: string): Promise<void> {
  const { preview, sha, deps, log, clock } = run;
  const { apps } = loaded;
  const own = await deps.store.appsOf(preview.owner, preview.repo, preview.number);
  const config = loaded.config;
  // Apps already running hold their slots; the others must all fit, or none starts.
  const holding = own.filter((row) => row.app_created === 1 && row.desired_action === "deploy" && apps.some((a) => a.name === row.app_key));
  const active = await activePreviews(run, config);
  const decided = plan({
    preview,
    sha,
    loaded,
    settings: deps.settings,
    active: {
      repository: active.repository === undefined ? undefined : active.repository - holding.length,
      installation: active.installation === undefined ? undefined : active.installation - holding.length,
    },
    need: apps.length - holding.length,
  });
  // The trigger rules taking the pull request away take its apps: this row has no Fly app
  // of its own, so the plan's `destroy` (an app of this row) is whether any app is left.
  if (decided.kind === "skip") {
    const left = own.some((row) => row.app_created === 1 || (row.desired_action === "deploy" && row.status !== "destroyed"));
    return carryOut(run, { ...decided, destroy: decided.destroy || left }, configRef);
  }
  if (decided.kind !== "deploy" && decided.kind !== "stay") return carryOut(run, decided, configRef);

  // A file that gained `apps:`: the pull request's own Fly app (one app before) goes, and its
  // Fly Postgres database (the apps share another).
  if (preview.app_created) {
    log.info({ outcome: await run.flyctl.destroyApp(preview.app_name) }, "the pull request's single app is replaced by its apps: destroyed");
    await run.save({ app_created: 0, url: null, image_sha: null, deployed_sha: null });
  }
  await dropOtherLayoutDatabase(deps, preview, log, "apps");
  // A command (redeploy, approve, reset-db) builds every app; a push those it touched.
  const forced = preview.desired_by !== null;
  const decisions = forced
    ? undefined
    : await appsToRebuild(
        new Map(apps.map((a) => [a.name, { paths: a.paths, deployedSha: own.find((r) => r.app_key === a.name && r.status === "ready")?.deployed_sha ?? undefined }])),
        sha,
        (base, head) => changedFiles(run.octokit, { owner: preview.owner, repo: preview.repo, base, head }),
      );
  // An app whose paths the push left alone is still built when its block changed, and its
  // image released again when only its env did (src/preview/app-config.ts).
  const resolved = resolveAppUrls(apps, preview);
  const wanted = apps.map((a): WantedApp => {
    const want = { appKey: a.name, appName: appName(preview.owner, preview.repo, preview.number, a.name) };
    const row = own.find((r) => r.app_key === a.name);
    const config = resolved.ok ? resolved.apps.find((r) => r.name === a.name)?.config : undefined;
    if (forced || decisions?.get(a.name)?.action !== "unchanged" || !row || !config) return { ...want, rebuild: true };
    const action = unchangedPathsAction(row, appHashes(config));
    if (action === "release") return { ...want, rebuild: true, releaseAt: row.deployed_sha ?? undefined };
    return { ...want, rebuild: action === "rebuild" };
  });
  // The apps' one database (a Neon branch, or a Fly Postgres database each app gets a user
  // of), made or reset before any app deploys against it, and owned by this row: its
  // destroy drops it, the sweep finds it.
  let database: DatabaseShown | undefined;
  let reseed = false;
  if (config.database) {
    const trusted = config.forks === "trusted";
    try {
      if (preview.reset_db === 1) {
        await resetSharedDatabase(deps, preview, config.database, trusted);
        await run.save({ reset_db: 0 });
        reseed = true;
      }
      database = await ensureSharedDatabase(deps, preview, config.database, trusted, run.signal);
    } catch (error) {
      if (!(error instanceof DatabaseError)) throw error;
      // The provider failing for a passing reason (a 5xx, the network): tried again on the
      // pool's schedule, as one app's run does (deploy-steps.ts), while attempts are left.
      if (error.transient && run.attempt.retryInMs !== undefined) {
        const at = clock() + run.attempt.retryInMs;
        const problem = databaseFailingReason(run.flyctl.redactor.redact(error.reason));
        log.warn({ reason: problem }, "the apps' database could not be made: trying again later");
        await run.show({ surface: "comment", state: { status: "queued", sha, reason: retryNotice(problem, at, run.attempt) } });
        throw new RetryLater(at, problem);
      }
      const reason = run.flyctl.redactor.redact(error.transient ? lastAttemptReason(databaseFailingReason(error.reason), run.attempt) : error.reason);
      log.warn({ reason }, "the apps' database could not be made");
      await run.show({ surface: "comment", state: { status: "failed", sha, reason } });
      await run.finish({ status: "failed", status_at: clock(), last_error: reason });
      return;
    }
  }
  const done = await deps.store.desireApps(preview, sha, wanted, { reseed });
  log.info(done, "apps handed their desires");
  // A command's 🚀 or 😕 says what came of the apps it acted on: their runs give it.
  if (done.commandPassedOn) run.commandPassedOn();
  await run.show({ surface: "comment", state: { status: "building", sha, database } });
  await run.finish({ config_ttl_ms: config.ttlMs, notify_comment: config.notify === "comment" ? 1 : 0, status: "ready", status_at: clock(), last_error: null, fresh: 0, reset_db: 0 });
}

/** The previews besides this one that hold a slot, counted only for the limits that are set. */
async function activePreviews(run: Run, config: PreviewConfig): Promise<{ repository?: number; installation?: number }> {
  const { preview, deps } = run;
  return {
    repository: config.max_previews === undefined ? undefined : await deps.store.countActive({ owner: preview.owner, repo: preview.repo }, preview.id),
    installation:
      deps.settings.maxPerInstallation === undefined ? undefined : await deps.store.countActive({ installationId: preview.installation_id }, preview.id),
  };
}

async function carryOut(run: Run, decided: Plan, configRef: string, onReady: PreviewPatch = {}): Promise<void> {
  const { preview, sha, show, log, clock, finish } = run;
  const current = { url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined };
  const completedCheck = (conclusion: WantedCheck["conclusion"], output: WantedCheck["output"], actions?: WantedCheck["actions"]) =>
    show({ surface: "check", state: { sha, conclusion, output, actions } });
  const comment = (state: WantedComment) => show({ surface: "comment", state });
  // This commit's check run, left open by a run that died, ends too when this run shows none.
  const notDeployed = (reason: string) => endOpenChecks(preview, run.deps, show, () => ({ conclusion: "neutral", output: notDeployedOutput(reason) }));

  if (decided.kind === "none") {
    log.info({ ref: configRef }, "no .preview.yml: nothing to do");
    await notDeployed(noConfigReason(configRef));
    await finish({ status: "none", status_at: clock() });
    return;
  }
  if (decided.kind === "invalid") {
    const reason = invalidConfigReason(decided.problems[0]);
    log.info({ problems: decided.problems.length }, "invalid .preview.yml");
    await completedCheck("failure", invalidConfigOutput(CONFIG_PATH, decided.problems));
    await comment({ status: "failed", sha, reason, ...current });
    await finish({ status: "failed", status_at: clock(), last_error: reason });
    return;
  }

  const { config } = decided;
  const remembered = { config_ttl_ms: config.ttlMs, notify_comment: config.notify === "comment" ? 1 : 0 };
  switch (decided.kind) {
    case "skip": {
      log.info({ reason: decided.reason }, "trigger rules skip this pull request");
      await notDeployed(decided.reason);
      // The row keeps its deploy desire, so the PR deploys again once the rules let it through.
      const skipped = { ...remembered, status: "skipped" as const, last_error: decided.reason };
      if (decided.destroy) await destroy(run, { reason: decided.reason, remedy: decided.remedy, patch: skipped });
      else await finish({ ...skipped, status_at: clock() });
      return;
    }
    case "blocked":
      log.info("previews are off for forks");
      await notDeployed(FORKS_OFF_REASON);
      await comment({ status: "blocked", sha });
      await finish({ ...remembered, status: "blocked", status_at: clock(), last_error: null });
      return;
    case "approve":
      log.info({ sha }, "fork commit waiting for approval");
      await completedCheck("neutral", awaitingApprovalOutput(sha), [APPROVE_ACTION]);
      await comment({ status: "awaiting_approval", sha, ...current });
      await finish({ ...remembered, status: "awaiting_approval", status_at: clock(), last_error: null });
      return;
    case "stay":
      log.info({ sha }, "the trigger rules still let the preview through: it stays as it is");
      await finish({ ...remembered, status: "ready" });
      return;
    case "wait": {
      const reason = fullLimitReason(decided.limit);
      log.info({ reason }, "no free preview slot");
      await completedCheck("neutral", waitingForSlotOutput(reason));
      await comment({ status: "limited", sha, reason, ...current });
      await finish({ ...remembered, status: "limited", status_at: clock(), last_error: reason });
      return;
    }
    case "refused": {
      const reason = refusedFlyTomlReason(decided.file, decided.problems[0]);
      log.info({ problems: decided.problems.length }, "fly.toml refused");
      await completedCheck("failure", invalidConfigOutput(decided.file, decided.problems));
      await comment({ status: "failed", sha, reason, ...current });
      await finish({ ...remembered, status: "failed", status_at: clock(), last_error: reason });
      return;
    }
    case "deploy": {
      const deployed = await deploy(run, decided);
      await finish({ ...deployed, ...remembered, ...(deployed.status === "ready" ? onReady : {}) });
    }
  }
}

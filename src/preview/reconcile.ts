import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "probot";
import { CONFIG_PATH, checkTrigger, interpolate, loadPreviewConfig, readRepoFile, type PreviewConfig } from "../config/index.js";
import { FlyError, flyTomlProblems, renderFlyToml, type DeployResult, type Flyctl } from "../fly/index.js";
import {
  APPROVE_ACTION,
  awaitingApprovalOutput,
  failureOutput,
  invalidConfigOutput,
  retryingOutput,
  startedOutput,
  successOutput,
  supersededOutput,
  type Timings,
} from "../github/check-run.js";
import { react } from "../github/comment.js";
import { formatClock, formatTtl, inline, shortSha } from "../github/markdown.js";
import { installationGone, type Octokit } from "../github/octokit.js";
import { defaultBranch } from "../github/pull-request.js";
import { SecretsError, type SecretStore } from "../secrets/index.js";
import type { Settings } from "../settings.js";
import type { Claim, Preview, PreviewPatch, Store } from "../store/store.js";
import { waitForHealthy } from "./health.js";
import { deadline, LimitExceeded } from "./limits.js";
import { DEFAULT_TTL_MS } from "./reaper.js";
import type { WantedComment } from "./reporter.js";
import type { Wanted, WantedCheck, WantedDeployment } from "./surfaces.js";
import { fetchSource, SourceError } from "./source.js";
import type { WriteQueue } from "./write-queue.js";

export interface ReconcileDeps {
  /** This GitHub App's id: it finds our sticky comment among other Apps' (see upsertComment). */
  appId: number;
  store: Store;
  settings: Settings;
  flyctl: Flyctl;
  github: (installationId: number) => Promise<Octokit>;
  /** Per-repository secret values; without it, a config that names secrets fails. */
  secrets?: SecretStore;
  log: Logger;
  fetch?: typeof fetch;
  clock?: () => number;
  healthIntervalMs?: number;
}

/** A run's deps: the pool adds its write queue, where runs say what GitHub should show. */
export type RunDeps = ReconcileDeps & { writes: Pick<WriteQueue, "want"> };

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
  const show = (wanted: Wanted) => deps.writes.want(preview, generation, wanted);
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
 * Ends the check runs earlier runs of this preview left in progress (they died, or
 * were stopped before their last word), each as `end(itsSha)` says; undefined leaves
 * one as it is (this run carries it on). One never created is never created.
 */
async function endOpenChecks(
  preview: Preview,
  deps: RunDeps,
  show: (wanted: Wanted) => Promise<void>,
  end: (sha: string) => Pick<WantedCheck, "conclusion" | "output"> | undefined,
): Promise<void> {
  const open = new Set([...(await deps.store.openCheckRuns(preview.id)), ...(await deps.store.surfaceWrites.checksInProgress(preview.id))]);
  for (const sha of open) {
    const how = end(sha);
    if (how) await show({ surface: "check", state: { sha, ...how, ifOpen: true } });
  }
}

/** Where a run stands in the pool's schedule of attempts at one desire. */
export interface Attempt {
  /** This run's place, from 1. */
  number: number;
  of: number;
  /** How long the pool waits before the next attempt; absent on the last. */
  retryInMs?: number;
}

/**
 * A deploy that Fly.io failed for a passing reason, with an attempt left: GitHub
 * already says when it tries again, and the pool schedules it for `at`.
 */
export class RetryLater extends Error {
  constructor(
    readonly at: number,
    problem: string,
  ) {
    super(problem);
  }
}

/** Why a run was stopped: the preview was given a newer desire (a push, a close). */
export class Superseded extends Error {
  constructor(readonly newer: Preview) {
    super("superseded");
  }
}

// The name of the generated fly.toml inside the extracted source. It never replaces
// the repository's own fly.toml, which we only read.
const GENERATED_TOML = ".fly-preview.toml";

interface Run {
  preview: Preview;
  sha: string;
  /** For reads (config, tarball); writes go through `show`. */
  octokit: Octokit;
  /** Says what a surface should show: queued, never awaited on GitHub. */
  show: (wanted: Wanted) => Promise<void>;
  /** The desire generation this run carries out. */
  generation: number;
  save: (patch: PreviewPatch) => Promise<void>;
  finish: (patch: PreviewPatch) => Promise<void>;
  signal: AbortSignal;
  deps: RunDeps;
  /** This run's flyctl: its logger carries the preview, its redactor the run's secrets. */
  flyctl: Flyctl;
  log: Logger;
  clock: () => number;
  attempt: Attempt;
}

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
    // The App was uninstalled from the repository: GitHub no longer answers us.
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
  };
  const show = (wanted: Wanted) => deps.writes.want(preview, generation, wanted);
  const run: Run = { preview, sha: preview.desired_sha ?? preview.head_sha, octokit, show, generation, save, finish, signal, deps, flyctl, log, clock, attempt };

  try {
    if (preview.desired_action === "destroy") await destroy(run);
    else await deployDesire(run, generation);
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

async function deployDesire(run: Run, generation: number): Promise<void> {
  const { preview, sha, show, log, clock, finish } = run;
  log.info({ sha, generation }, "deploy started");
  const current = { url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined };
  const completedCheck = (conclusion: WantedCheck["conclusion"], output: WantedCheck["output"], actions?: WantedCheck["actions"]) =>
    show({ surface: "check", state: { sha, conclusion, output, actions } });
  const comment = (state: WantedComment) => show({ surface: "comment", state });
  const openChecks = (end: Parameters<typeof endOpenChecks>[3]) => endOpenChecks(preview, run.deps, show, end);

  // Runs for older commits that died, or were stopped before cancelling, left their check runs open.
  await openChecks((old) => (old === sha ? undefined : { conclusion: "cancelled", output: supersededOutput(old, sha) }));
  // This commit's own, left open by a run that died, ends too when this run shows none.
  const notDeployed = (reason: string) => openChecks(() => ({ conclusion: "neutral", output: { title: "Not deployed", summary: inline(reason) } }));

  // A fork's own .preview.yml is its author's to write, and so is its choice of base
  // branch: read the default branch's instead.
  const configRef = preview.fork ? await defaultBranch(run.octokit, preview) : sha;
  const loaded = await loadPreviewConfig(run.octokit, { owner: preview.owner, repo: preview.repo, ref: configRef });
  if (!loaded.found) {
    log.info({ ref: configRef }, "no .preview.yml: nothing to do");
    await notDeployed(`No ${CONFIG_PATH} at ${configRef}: nothing to deploy.`);
    await finish({ status: "none", status_at: clock() });
    return;
  }
  if (!loaded.ok) {
    const first = loaded.problems[0];
    const reason = `${CONFIG_PATH} is invalid: line ${first.line}: ${first.message}`;
    log.info({ problems: loaded.problems.length }, "invalid .preview.yml");
    await completedCheck("failure", invalidConfigOutput(CONFIG_PATH, loaded.problems));
    await comment({ status: "failed", sha, reason, ...current });
    await finish({ status: "failed", status_at: clock(), last_error: reason });
    return;
  }
  const config = loaded.config;
  const remembered = { config_ttl_ms: config.ttlMs, config_max_previews: config.max_previews ?? null };
  const trigger = checkTrigger(config.trigger, {
    labels: JSON.parse(preview.labels) as string[],
    baseRef: preview.base_ref,
    draft: preview.draft === 1,
  });
  // A command from someone with write access deploys whatever the trigger rules say.
  if (!trigger.ok && !preview.desired_by) {
    log.info({ reason: trigger.reason }, "trigger rules skip this pull request");
    await notDeployed(trigger.reason);
    // A preview the rules no longer let through (its label removed, back to draft) goes,
    // as with Vercel's or Heroku's opt-in previews: it frees its slot and its Fly app.
    // The row keeps its deploy desire, so the PR deploys again once they let it through.
    const skipped = { ...remembered, status: "skipped" as const, last_error: trigger.reason };
    if (preview.app_created) await destroy(run, { ...trigger, patch: skipped });
    else await finish({ ...skipped, status_at: clock() });
    return;
  }

  if (preview.fork && config.forks === "off") {
    log.info("previews are off for forks");
    await notDeployed("Previews are off for pull requests from forks (forks: off).");
    await comment({ status: "blocked", sha });
    await finish({ ...remembered, status: "blocked", status_at: clock(), last_error: null });
    return;
  }
  if (preview.fork && config.forks === "approve" && preview.approved_sha !== sha) {
    log.info({ sha }, "fork commit waiting for approval");
    await completedCheck("neutral", awaitingApprovalOutput(sha), [APPROVE_ACTION]);
    await comment({ status: "awaiting_approval", sha, ...current });
    await finish({ ...remembered, status: "awaiting_approval", status_at: clock(), last_error: null });
    return;
  }

  // A label added or removed, or a draft toggled, judges the preview again: when it
  // already serves this commit and the rules still let it through, nothing changes.
  if (!preview.desired_by && preview.status === "ready" && preview.app_created && preview.deployed_sha === sha) {
    log.info({ sha }, "the trigger rules still let the preview through: it stays as it is");
    await finish({ ...remembered, status: "ready" });
    return;
  }

  const full = preview.app_created ? undefined : await fullLimit(run, config);
  if (full) {
    log.info({ reason: full }, "no free preview slot");
    await completedCheck("neutral", { title: "Waiting for a free slot", summary: inline(full) });
    await comment({ status: "limited", sha, reason: full, ...current });
    await finish({ ...remembered, status: "limited", status_at: clock(), last_error: full });
    return;
  }

  // The repository's fly.toml is the pull request's to write, and flyctl reads files of the
  // server it names: judged before anything is created on Fly.io.
  const flyToml = config.fly_toml
    ? await readRepoFile(run.octokit, { owner: preview.owner, repo: preview.repo, ref: sha, path: config.fly_toml })
    : undefined;
  const flyTomlRefused = config.fly_toml && flyToml !== undefined ? flyTomlProblems(flyToml, config.fly_toml) : [];
  if (flyTomlRefused.length > 0) {
    const first = flyTomlRefused[0];
    const reason = `${config.fly_toml} cannot be used: line ${first.line}: ${first.message}`;
    log.info({ problems: flyTomlRefused.length }, "fly.toml refused");
    await completedCheck("failure", invalidConfigOutput(config.fly_toml!, flyTomlRefused));
    await comment({ status: "failed", sha, reason, ...current });
    await finish({ ...remembered, status: "failed", status_at: clock(), last_error: reason });
    return;
  }

  await finish({ ...(await deploy(run, config, flyToml)), ...remembered });
}

/** Names the limit this preview would break by starting, or undefined when a slot is free. */
async function fullLimit(run: Run, config: PreviewConfig): Promise<string | undefined> {
  const { preview, deps } = run;
  const free = "Close a pull request, or comment `/preview destroy` on one, to free a slot: this preview then deploys by itself.";
  if (config.max_previews !== undefined) {
    const active = await deps.store.countActive({ owner: preview.owner, repo: preview.repo }, preview.id);
    if (active >= config.max_previews) {
      return `This repository already has ${active} previews running, its limit (max_previews: ${config.max_previews} in .preview.yml). ${free}`;
    }
  }
  const perInstallation = deps.settings.maxPerInstallation;
  if (perInstallation !== undefined) {
    const active = await deps.store.countActive({ installationId: preview.installation_id }, preview.id);
    if (active >= perInstallation) {
      return `This installation already has ${active} previews running, the server's limit (PREVIEW_MAX_PER_INSTALLATION=${perInstallation}). ${free}`;
    }
  }
  return undefined;
}

/** The secrets this preview gets: none for an untrusted fork. Throws on missing names. */
async function secretsFor(run: Run, config: PreviewConfig): Promise<{ values: Record<string, string>; withheld: boolean }> {
  const { preview, deps } = run;
  if (config.secrets.length === 0) return { values: {}, withheld: false };
  if (preview.fork && config.forks !== "trusted") return { values: {}, withheld: true };
  if (!deps.secrets) throw new DeployFailure("This server has no secret store; ask the operator to set PREVIEW_SECRETS_KEY");
  const { values, missing } = await deps.secrets.resolve(preview.owner, preview.repo, config.secrets);
  if (missing.length) {
    throw new DeployFailure(
      `Missing secrets: ${missing.join(", ")}. An operator stores them with \`fly-preview secrets set ${preview.owner}/${preview.repo} NAME\``,
    );
  }
  return { values, withheld: false };
}

/** `repoFlyToml`: the text of the repository's own `fly_toml`, when it names one that exists. */
async function deploy(run: Run, config: PreviewConfig, repoFlyToml: string | undefined): Promise<PreviewPatch> {
  const { preview, sha, show, signal, deps, log, flyctl, clock } = run;
  const app = preview.app_name;
  const redact = (text: string) => flyctl.redactor.redact(text);
  const timings: Timings = {};
  let tail: string[] = [];
  let flyToml: string | undefined;
  let reusedImage: string | undefined;
  let withheld = false;
  const cleanups: Array<() => Promise<void>> = [];
  const report = () => ({ appName: app, sha, timings, flyToml: flyToml && redact(flyToml), tail, reusedImage, secretsWithheld: withheld });
  // However the preview's code behaves (a build that never ends, say), the worker is free again by then.
  const runLimit = deadline(signal, deps.settings.maxRunMs, `The deploy took longer than PREVIEW_MAX_RUN (${formatTtl(deps.settings.maxRunMs)}), the server's limit`);

  // What `fly-preview status` and `list` show while the run is under way.
  await run.save({ status: "building", status_at: clock() });
  // GitHub hears of the run beside the Fly work, never before it: flyctl starts at once.
  // These are queued (src/preview/write-queue.ts), and replaced by the run's outcome if
  // it comes before their turn.
  const current = { url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined };
  await show({ surface: "check", state: { sha, output: startedOutput(app, sha) } });
  await show({ surface: "deployment", state: { sha, state: "pending" } });
  await show({ surface: "comment", state: { status: "building", sha, ...current } });
  // The run's last word on each surface. Without a comment (closed or destroyed: the
  // destroy that follows writes it), a comment this run wanted and GitHub never got is forgotten.
  const end = async (check: Omit<WantedCheck, "sha">, deployment?: Omit<WantedDeployment, "sha">, comment?: WantedComment) => {
    await show({ surface: "check", state: { sha, ...check } });
    if (deployment) await show({ surface: "deployment", state: { sha, ...deployment } });
    if (comment) await show({ surface: "comment", state: comment });
    else await deps.store.surfaceWrites.forgetUnsent(preview.id, "comment", run.generation);
  };

  try {
    if (config.fly_toml && repoFlyToml === undefined) {
      throw new DeployFailure(`fly_toml: "${config.fly_toml}" does not exist in the repository at this commit`);
    }
    const secrets = await secretsFor(run, config);
    withheld = secrets.withheld;
    for (const value of Object.values(secrets.values)) flyctl.redactor.add(value);
    if (!preview.app_created) {
      // `acme-web/api` and `acme/web-api` both give pr-1-acme-web-api: the app would be shared.
      const holder = await deps.store.sameAppName(app, preview.id);
      if (holder) {
        throw new DeployFailure(
          `The Fly app name ${app} is already used by the preview of ${holder.owner}/${holder.repo}#${holder.number}; it frees when that preview is destroyed`,
        );
      }
      // Before asking Fly: a crash after the create still leaves this row the owner the reaper sweeps for.
      if (!preview.app_owner) await run.save({ app_owner: 1 });
      const created = await flyctl.createApp(app, runLimit.signal);
      log.info({ created }, "fly app ready");
      await run.save({ app_created: 1 });
    }
    if (Object.keys(secrets.values).length) {
      // Staged, not set: they take effect with the deploy below, in one release.
      await flyctl.importSecrets(app, secrets.values, runLimit.signal);
      log.info({ names: Object.keys(secrets.values) }, "secrets staged");
    }
    runLimit.signal.throwIfAborted();

    const defaultUrl = `https://${app}.fly.dev`;
    const vars = { PR_NUMBER: String(preview.number), PREVIEW_URL: defaultUrl, APP_NAME: app, HEAD_SHA: sha, HEAD_REF: preview.head_ref };
    const label = `pr-${preview.number}-${shortSha(sha)}`;
    // Where flyctl runs: the commit's source for a build; for releasing an image the
    // registry already holds, only the generated fly.toml, so no tarball is downloaded.
    const withSource = async () => {
      const started = clock();
      const source = await fetchSource(run.octokit, { owner: preview.owner, repo: preview.repo, sha }, undefined, runLimit.signal);
      cleanups.push(source.cleanup);
      timings.sourceMs = clock() - started;
      log.info({ files: source.files, bytes: source.bytes }, "source downloaded");
      runLimit.signal.throwIfAborted();
      const generated = await writeFlyToml(source.dir, app, config, deps.settings, repoFlyToml);
      flyToml = generated.text;
      return { cwd: join(source.dir, config.context), configPath: generated.path };
    };
    const withoutSource = async () => {
      const dir = await mkdtemp(join(tmpdir(), "fly-preview-"));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      flyToml = generateFlyToml(app, config, deps.settings, repoFlyToml);
      const configPath = join(dir, GENERATED_TOML);
      await writeFile(configPath, flyToml);
      return { cwd: dir, configPath };
    };

    let phase: "building" | "deploying" = "building";
    let phaseSaved = Promise.resolve();
    const flyDeploy = (where: { cwd: string; configPath: string }, image: string | undefined, limited: AbortSignal) =>
      flyctl.deploy({
        ...where,
        app,
        ...(image ? { image } : { imageLabel: label, buildArgs: interpolate(config.build_args, vars) }),
        env: interpolate(config.env, vars),
        memoryMb: config.resources.memoryMb,
        cpus: config.resources.cpus,
        cpuKind: config.resources.cpu_kind,
        signal: limited,
        onLine: (line: string) => {
          log.debug({ flyctl: line });
          // The image is pushed (or reused): the rest is Fly rolling out machines. Only
          // the store hears of it: a comment edit for it would cost a write of the
          // installation's lane, for a state nobody acts on.
          if (phase === "building" && /Pushing image done|^Watch your deployment at/.test(line)) {
            phase = "deploying";
            phaseSaved = phaseSaved.then(() => run.save({ status: "deploying", status_at: clock() }));
          }
        },
      });
    // flyctl's build and release, bounded by build.timeout.
    const flyDeployWithin = async (where: { cwd: string; configPath: string }, image?: string) => {
      const build = deadline(runLimit.signal, config.build.timeoutMs, `The build took longer than build.timeout (${config.build.timeout}) in ${CONFIG_PATH}`);
      try {
        return await flyDeploy(where, image, build.signal);
      } catch (error) {
        throw build.signal.reason instanceof LimitExceeded ? build.signal.reason : error;
      } finally {
        build.clear();
      }
    };

    let result: DeployResult | undefined;
    // The registry already holds this commit's image (a redeploy, or a run resumed
    // after a crash): release it again without building.
    const imageOnly = preview.image_sha === sha && preview.app_created ? await withoutSource() : undefined;
    let started = clock();
    if (imageOnly) {
      const image = `registry.fly.io/${app}:${label}`;
      try {
        result = await flyDeployWithin(imageOnly, image);
        reusedImage = image;
      } catch (error) {
        if (!(error instanceof FlyError) || !["build", "not_found"].includes(error.kind)) throw error;
        log.info({ image }, "the earlier image is gone: building again");
      }
    }
    if (!result) {
      const source = await withSource();
      started = clock();
      result = await flyDeployWithin(source);
    }
    await phaseSaved;
    await run.save({ image_sha: sha });
    tail = result.tail;
    timings.deployMs = clock() - started;
    const url = (result.url ?? defaultUrl).replace(/\/$/, "");

    const health = await waitForHealthy(url + config.health.path, {
      timeoutMs: config.health.timeoutMs,
      intervalMs: deps.healthIntervalMs,
      fetch: deps.fetch,
      signal: runLimit.signal,
    });
    timings.healthMs = health.durationMs;
    if (!health.ok) {
      throw new DeployFailure(
        `The app did not answer ${config.health.path} with a 2xx status within ${config.health.timeout} (last: ${health.lastProblem ?? "no answer"})`,
      );
    }

    const ready = successOutput({ ...report(), url });
    await end({ conclusion: "success", output: ready }, { state: "success", environmentUrl: url }, { status: "ready", sha, url });
    log.info({ sha, url, timings }, "preview ready");
    return { status: "ready", status_at: clock(), deployed_sha: sha, url, last_error: null };
  } catch (error) {
    // Shutting down or a lost lease: leave every surface as it is for whoever runs this next.
    if (signal.aborted && !(signal.reason instanceof Superseded)) throw signal.reason;
    if (signal.aborted) {
      const newer = (signal.reason as Superseded).newer;
      const newerSha = newer.desired_action === "deploy" ? newer.desired_sha : null;
      log.info({ sha, newerSha }, "deploy superseded");
      const cancelled = supersededOutput(sha, newerSha, newer.destroyed_by);
      const description = newerSha ? `Superseded by ${shortSha(newerSha)}` : "Superseded";
      const reason = newerSha && `${shortSha(sha)} was not deployed: ${shortSha(newerSha)} superseded it and deploys next.`;
      // Closed or destroyed: the destroy that follows writes the comment.
      // A commit superseded before GitHub heard of it gets no check run and no deployment.
      await end(
        { conclusion: "cancelled", output: cancelled, ifOpen: true },
        { state: "inactive", description },
        reason ? { status: "superseded", sha, reason, ...current } : undefined,
      );
      return { status: "superseded", status_at: clock() };
    }
    // A limit ends flyctl or a download with an error of its own ("cancelled"): name the limit instead.
    const limit = [error, runLimit.signal.reason].find((e) => e instanceof LimitExceeded);
    let reason = limit ? limit.message : redact(describe(error));
    if (error instanceof FlyError) tail = error.tail;
    // Fly.io's API or builder down after flyctl's own quick retries: an outage of
    // minutes, which the pool's schedule rides out without anyone pushing again.
    if (error instanceof FlyError && error.kind === "transient") {
      const { attempt } = run;
      if (attempt.retryInMs !== undefined) {
        const at = clock() + attempt.retryInMs;
        const problem = `Fly.io is failing (${redact(error.detail ?? error.reason)})`;
        const waiting = `${problem}; trying again at ${formatClock(at)} (attempt ${attempt.number} of ${attempt.of} failed). A push deploys at once.`;
        const retrying = retryingOutput({ ...report(), reason: waiting, at });
        await end({ output: retrying }, undefined, { status: "queued", sha, reason: waiting, ...current });
        throw new RetryLater(at, problem);
      }
      reason += `${attempt.of > 1 ? `; attempt ${attempt.number} of ${attempt.of}` : ""}. A push or /preview redeploy tries again`;
    }
    log.warn({ sha, reason }, "deploy failed");
    const failed = failureOutput({ ...report(), reason });
    await end({ conclusion: "failure", output: failed }, { state: "failure", description: reason }, { status: "failed", sha, reason, ...current });
    return { status: "failed", status_at: clock(), last_error: reason };
  } finally {
    runLimit.clear();
    for (const cleanup of cleanups) await cleanup();
  }
}

/**
 * Destroys the preview: the Fly app, its deployment, and a comment that says why. With
 * `untriggered` the trigger rules took it away: the comment says how to bring it back,
 * and the row ends with `untriggered.patch` instead of "destroyed".
 */
async function destroy(run: Run, untriggered?: { reason: string; remedy: string; patch: PreviewPatch }): Promise<void> {
  const { preview, show, flyctl, log, clock, finish, deps } = run;
  // Before anything else: a run that died may have left a check run open with nothing
  // else to show for it (no comment yet, no app).
  await endOpenChecks(preview, deps, show, (old) => ({ conclusion: "cancelled", output: supersededOutput(old, null, preview.destroyed_by) }));
  // A PR that never got a preview (no config, or skipped) has nothing to tear down
  // and nothing to say.
  const hadSurface = preview.comment_id !== null || preview.app_created === 1 || (await deps.store.surfaceWrites.get(preview.id, "comment")) !== undefined;
  if (!hadSurface) {
    await finish({ status: "destroyed", status_at: clock() });
    return;
  }
  try {
    if (preview.app_created) {
      const outcome = await flyctl.destroyApp(preview.app_name);
      log.info({ outcome, reason: preview.destroy_reason }, "fly app destroyed");
    }
  } catch (error) {
    const reason = flyctl.redactor.redact(describe(error));
    log.warn({ reason }, "destroy failed: the reaper retries it");
    await show({ surface: "comment", state: {
      status: "failed",
      sha: preview.deployed_sha ?? preview.head_sha,
      reason: `Could not destroy the Fly app: ${reason}`,
      url: preview.url ?? undefined,
    } });
    await finish({ status: "failed", status_at: clock(), last_error: `destroy: ${reason}` });
    return;
  }
  const why = untriggered ? "trigger" : (preview.destroy_reason ?? "closed");
  const description =
    why === "closed" ? "Pull request closed" : untriggered ? "Preview destroyed: the trigger rules no longer match" : `Preview destroyed (${why})`;
  await show({ surface: "deployment", state: { sha: null, state: "inactive", description } });
  await show({ surface: "comment", state: {
    status: "destroyed",
    sha: preview.deployed_sha ?? preview.head_sha,
    url: preview.url ?? undefined,
    destroyReason: why,
    destroyedBy: preview.destroyed_by ?? undefined,
    ttl: formatTtl(preview.config_ttl_ms ?? DEFAULT_TTL_MS),
    reason: untriggered?.reason,
    remedy: untriggered?.remedy,
  } });
  await finish({ status: "destroyed", last_error: null, ...untriggered?.patch, status_at: clock(), app_created: 0, url: null, image_sha: null });
  await offerFreedSlot(deps.store, preview.installation_id);
}

/** A destroy after the App lost access to the repository: Fly only, nothing said on GitHub. */
async function quietDestroy(
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
    await finish({ status: "failed", status_at: clock(), last_error: `destroy: ${reason}` });
    return;
  }
  await finish({ status: "destroyed", status_at: clock(), app_created: 0, url: null, image_sha: null, last_error: null });
}

/** A slot freed: previews waiting for one try again (the first to run takes it). */
async function offerFreedSlot(store: Store, installationId: number): Promise<void> {
  for (const waiting of await store.waitingForSlot(installationId)) await store.redesire(waiting.id);
}

class DeployFailure extends Error {}

function describe(error: unknown): string {
  if (error instanceof FlyError || error instanceof SourceError) return error.reason;
  if (error instanceof DeployFailure || error instanceof SecretsError) return error.message;
  return `Internal error: ${error instanceof Error ? error.message : String(error)}`;
}

async function writeFlyToml(
  dir: string,
  app: string,
  config: PreviewConfig,
  settings: Settings,
  base: string | undefined,
): Promise<{ path: string; text: string }> {
  const dockerfile = join(dir, config.dockerfile);
  if (!existsSync(dockerfile)) {
    throw new DeployFailure(`dockerfile: "${config.dockerfile}" does not exist in the repository at this commit`);
  }
  const text = generateFlyToml(app, config, settings, base);
  const path = join(dir, GENERATED_TOML);
  await writeFile(path, text);
  return { path, text };
}

/** The fly.toml flyctl gets: ours, over the repository's own `fly_toml` when it names one. */
function generateFlyToml(app: string, config: PreviewConfig, settings: Settings, base: string | undefined): string {
  try {
    return renderFlyToml({
      app,
      region: config.region ?? settings.flyRegion,
      dockerfile: config.dockerfile,
      port: config.port,
      memory: config.resources.memory,
      cpus: config.resources.cpus,
      cpuKind: config.resources.cpu_kind,
      base,
      basePath: config.fly_toml,
    });
  } catch (error) {
    throw new DeployFailure(`fly_toml: ${(error as Error).message}`);
  }
}

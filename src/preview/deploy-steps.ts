import { statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PreviewConfig } from "../config/index.js";
import { estimateCost, FlyError, type DeployResult } from "../fly/index.js";
import {
  failureOutput,
  postdeployFailedOutput,
  retryingOutput,
  startedOutput,
  successOutput,
  supersededOutput,
  type GeneratedDockerfileShown,
  type Timings,
} from "../github/check-run.js";
import {
  appNameTakenReason,
  buildTimeoutReason,
  flyFailingReason,
  databaseFailingReason,
  internalErrorReason,
  hookFailure,
  releaseFailedReason,
  lastAttemptReason,
  maxRunReason,
  missingFileReason,
  missingSecretsReason,
  NO_SECRET_STORE_REASON,
  retryNotice,
  supersededDescription,
  supersededReason,
  unhealthyReason,
} from "../github/messages.js";
import type { PreviewPatch } from "../store/store.js";
import type { FlyDeployOptions } from "./fly-config.js";
import { waitForHealthy } from "./health.js";
import { deadline, LimitExceeded } from "./limits.js";
import type { DeployPlan } from "./plan.js";
import type { WantedComment } from "./reporter.js";
import { DeployFailure, describe, RetryLater, Superseded, type Run } from "./run.js";
import { fetchSource } from "./source.js";
import { DockerfileGenerationFailed, generateDockerfile, GENERATOR, GENERATOR_VERSION } from "./dockerfile.js";
import type { WantedCheck, WantedDeployment } from "./surfaces.js";
import { DatabaseError } from "../database/errors.js";
import type { DatabaseShown } from "../model/pull-request.js";
import { ensureAppDatabase, ensureDatabase, resetDatabase } from "./database.js";
import { hookSpec, runHook, type HookRun } from "./hooks.js";

// The name of the generated fly.toml inside the extracted source. It never replaces
// the repository's own fly.toml, which we only read.
const GENERATED_TOML = ".fly-preview.toml";

type Where = { cwd: string; configPath: string };

/**
 * The Fly work of a deploy the plan allowed: the app, its secrets, the source,
 * flyctl deploy, the health check; and what each GitHub surface shows of it.
 * Returns the row's end.
 */
export async function deploy(run: Run, planned: { config: PreviewConfig } & DeployPlan): Promise<PreviewPatch> {
  const { preview, sha, show, signal, deps, log, flyctl, clock } = run;
  const { config, fly } = planned;
  const app = preview.app_name;
  const redact = (text: string) => flyctl.redactor.redact(text);
  const timings: Timings = {};
  const timer = deps.metrics?.deployTimer(preview);
  let tail: string[] = [];
  // The generated fly.toml, once written: the report shows what flyctl got.
  let flyToml: string | undefined;
  let reusedImage: string | undefined;
  let withheld = false;
  const cleanups: Array<() => Promise<void>> = [];
  // The preview's own database, once made (or adopted) for this deploy.
  let database: DatabaseShown | undefined;
  // The Dockerfile generated for a repository without one, or why none could be.
  let generated: GeneratedDockerfileShown | undefined;
  let generatorFailure: DockerfileGenerationFailed["suggest"];
  // hooks.postdeploy runs once per app: after its first deploy that is up, and again after
  // a database reset or `/preview redeploy --fresh` (docs/hooks.md).
  let postdeployDue = preview.postdeploy_at === null;
  let hook: HookRun | undefined;
  const report = () => ({
    appName: app,
    sha,
    timings,
    flyToml: flyToml && redact(flyToml),
    tail,
    reusedImage,
    secretsWithheld: withheld,
    database,
    generatedDockerfile: generated,
    generatorFailure,
    hook,
  });
  // The comment says so too, on the outcomes that follow a build with it.
  const builtWith = () => (generated ? { generatedDockerfile: true } : {});
  // However the preview's code behaves (a build that never ends, say), the worker is free again by then.
  const runLimit = deadline(signal, deps.settings.maxRunMs, maxRunReason(deps.settings.maxRunMs));

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
    if (planned.missingFlyToml) throw new DeployFailure(missingFileReason("fly_toml", planned.missingFlyToml));
    const secrets = await resolveSecrets(run, planned.secrets);
    withheld = planned.secretsWithheld;
    for (const value of Object.values(secrets)) flyctl.redactor.add(value);
    if (!preview.app_created) {
      // `acme-web/api` and `acme/web-api` both give pr-1-acme-web-api: the app would be shared.
      const holder = await deps.store.sameAppName(app, preview.id);
      if (holder) throw new DeployFailure(appNameTakenReason(app, holder));
      // Before asking Fly: a crash after the create still leaves this row the owner the reaper sweeps for.
      if (!preview.app_owner) await run.save({ app_owner: 1 });
      const created = await flyctl.createApp(app, runLimit.signal);
      log.info({ created }, "fly app ready");
      await run.save({ app_created: 1 });
    }
    if (config.database) {
      // An app of an `apps:` block shares its pull request's database: that row's run made
      // (and reset) it, and owns it; here the app gets its URL (Neon) or its user (Fly Postgres).
      const owner = preview.app_key ? await deps.store.get(preview.owner, preview.repo, preview.number) : preview;
      if (!owner) throw new DeployFailure(internalErrorReason("the pull request's own row is gone"));
      // `/preview reset-db`: the parent's data again, then the deploy below restarts the
      // machines with it and release_command migrates it. Cleared once done, so a retry
      // of this run does not reset twice.
      if (preview.reset_db === 1 && !preview.app_key) {
        const reset = await resetDatabase(deps, preview, config.database, config.forks === "trusted");
        // The data is the parent's again: postdeploy seeds it once more.
        await run.save({ reset_db: 0, postdeploy_at: null });
        postdeployDue = true;
        log.info({ provider: reset.provider, name: reset.name }, "database reset");
      }
      // Before the deploy (the app exists by now, for Fly Postgres to attach to): its URL
      // is staged with the other secrets, and release_command migrates it.
      const trusted = config.forks === "trusted";
      const made = preview.app_key
        ? await ensureAppDatabase(deps, preview, owner, config.database, trusted, runLimit.signal)
        : await ensureDatabase(deps, preview, config.database, trusted, runLimit.signal);
      database = made.shown;
      Object.assign(secrets, made.stage);
      log.info({ provider: made.shown.provider, name: made.shown.name }, "database ready");
    }
    if (Object.keys(secrets).length) {
      // Staged, not set: they take effect with the deploy below, in one release.
      await flyctl.importSecrets(app, secrets, runLimit.signal);
      log.info({ names: Object.keys(secrets) }, "secrets staged");
    }
    runLimit.signal.throwIfAborted();

    // Where flyctl runs: the commit's source for a build; for releasing an image the
    // registry already holds, only the generated fly.toml, so no tarball is downloaded.
    const withSource = async (): Promise<Where> => {
      const started = clock();
      const source = await fetchSource(run.octokit, { owner: preview.owner, repo: preview.repo, sha }, undefined, runLimit.signal);
      cleanups.push(source.cleanup);
      timings.sourceMs = clock() - started;
      log.info({ files: source.files, bytes: source.bytes }, "source downloaded");
      runLimit.signal.throwIfAborted();
      if (!isFile(join(source.dir, config.dockerfile))) {
        if (config.dockerfileNamed) throw new DeployFailure(missingFileReason("dockerfile", config.dockerfile));
        const started = clock();
        const made = await generateDockerfile({ root: source.dir, config, signal: runLimit.signal });
        timings.generateMs = clock() - started;
        generated = { generator: `${GENERATOR} ${GENERATOR_VERSION}`, path: made.path, context: config.context, text: redact(made.text), created: made.created, port: config.port };
        log.info({ path: made.path, created: made.created, networkIsolated: made.networkIsolated }, "Dockerfile generated");
      }
      return { cwd: join(source.dir, config.context), configPath: await writeFlyToml(source.dir) };
    };
    const withoutSource = async (): Promise<Where> => {
      const dir = await mkdtemp(join(tmpdir(), "fly-preview-"));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      return { cwd: dir, configPath: await writeFlyToml(dir) };
    };
    const writeFlyToml = async (dir: string) => {
      const path = join(dir, GENERATED_TOML);
      await writeFile(path, planned.flyToml);
      flyToml = planned.flyToml;
      return path;
    };

    let phase: "building" | "deploying" = "building";
    let phaseSaved = Promise.resolve();
    // flyctl's build and release, bounded by build.timeout.
    const flyDeploy = async (where: Where, options: FlyDeployOptions) => {
      const build = deadline(runLimit.signal, config.build.timeoutMs, buildTimeoutReason(config.build.timeout));
      timer?.flyctlStarted(!options.image);
      try {
        return await flyctl.deploy({
          ...where,
          ...options,
          signal: build.signal,
          onLine: (line: string) => {
            log.debug({ flyctl: line });
            // The image is pushed (or reused): the rest is Fly rolling out machines. Only
            // the store hears of it: a comment edit for it would cost a write of the
            // installation's lane, for a state nobody acts on.
            if (phase === "building" && /Pushing image done|^Watch your deployment at/.test(line)) {
              phase = "deploying";
              phaseSaved = phaseSaved.then(() => run.save({ status: "deploying", status_at: clock() }));
              timer?.imagePushed();
            }
          },
        });
      } catch (error) {
        throw build.signal.reason instanceof LimitExceeded ? build.signal.reason : error;
      } finally {
        build.clear();
      }
    };

    let result: DeployResult | undefined;
    // The registry already holds this commit's image (a redeploy, or a run resumed
    // after a crash): release it again without building, unless `--fresh` asked for a build.
    const imageOnly = preview.image_sha === sha && preview.app_created && !preview.fresh ? await withoutSource() : undefined;
    let started = clock();
    if (imageOnly) {
      try {
        result = await flyDeploy(imageOnly, fly.release);
        reusedImage = fly.release.image;
      } catch (error) {
        if (!(error instanceof FlyError) || !["build", "not_found"].includes(error.kind)) throw error;
        log.info({ image: fly.release.image }, "the earlier image is gone: building again");
      }
    }
    if (!result) {
      const source = await withSource();
      started = clock();
      result = await flyDeploy(source, fly.build);
    }
    await phaseSaved;
    // `--fresh` is done once built: a retry of this run may release this image, and postdeploy is due.
    if (preview.fresh && !reusedImage) {
      await run.save({ image_sha: sha, fresh: 0, postdeploy_at: null });
      postdeployDue = true;
    } else {
      await run.save({ image_sha: sha });
    }
    tail = result.tail;
    timings.deployMs = clock() - started;
    const url = (result.url ?? fly.url).replace(/\/$/, "");

    const health = await waitForHealthy(url + config.health.path, {
      timeoutMs: config.health.timeoutMs,
      intervalMs: deps.healthIntervalMs,
      fetch: deps.fetch,
      signal: runLimit.signal,
    });
    timings.healthMs = health.durationMs;
    if (!health.ok) throw new DeployFailure(unhealthyReason(config.health, health.lastProblem));

    // What runs before this app is destroyed: this deploy's predestroy (it fits the image now serving).
    const predestroy = config.hooks.predestroy ? JSON.stringify(hookSpec(config.hooks.predestroy, config.hooks, fly.machine)) : null;
    if (config.hooks.postdeploy && postdeployDue) {
      hook = await runHook({ flyctl, metrics: deps.metrics, installationId: preview.installation_id }, app, "postdeploy", hookSpec(config.hooks.postdeploy, config.hooks, fly.machine), runLimit.signal);
      log.info({ hook: "postdeploy", ok: hook.ok, durationMs: hook.durationMs, reason: hook.reason }, "postdeploy ran");
      // Recorded only once it succeeded: a crash or a failure leaves it due for the next deploy that is up.
      if (hook.ok) await run.save({ postdeploy_at: clock() });
    }
    // What the machine costs while it runs: the comment says it, `fly-preview list` totals it.
    const { machine } = fly;
    const cost = estimateCost(deps.settings.prices, machine);
    const ready = {
      status: "ready" as const,
      status_at: clock(),
      deployed_sha: sha,
      url,
      predestroy_hook: predestroy,
      build_ms: timings.deployMs ?? null,
      machine_cpu_kind: machine.cpuKind,
      machine_cpus: machine.cpus,
      machine_memory_mb: machine.memoryMb,
    };
    const comment = { status: "ready" as const, sha, url, database, cost, ...builtWith() };
    if (hook && !hook.ok) {
      // The app serves (the deployment succeeded), but it is not seeded: the check run fails and says so.
      const reason = hookFailure(hook);
      await end({ conclusion: "failure", output: postdeployFailedOutput({ ...report(), url, hook }) }, { state: "success", environmentUrl: url }, { ...comment, hook });
      timer?.ended("success", timings);
      log.warn({ sha, url, reason }, "preview ready, but postdeploy failed");
      return { ...ready, last_error: reason };
    }
    await end({ conclusion: "success", output: successOutput({ ...report(), url }) }, { state: "success", environmentUrl: url }, comment);
    timer?.ended("success", timings);
    log.info({ sha, url, timings }, "preview ready");
    return { ...ready, last_error: null };
  } catch (error) {
    // Shutting down or a lost lease: leave every surface as it is for whoever runs this next.
    if (signal.aborted && !(signal.reason instanceof Superseded)) throw signal.reason;
    if (signal.aborted) {
      const newer = (signal.reason as Superseded).newer;
      const newerSha = newer.desired_action === "deploy" ? newer.desired_sha : null;
      log.info({ sha, newerSha }, "deploy superseded");
      // Closed or destroyed: the destroy that follows writes the comment.
      // A commit superseded before GitHub heard of it gets no check run and no deployment.
      await end(
        { conclusion: "cancelled", output: supersededOutput(sha, newerSha, newer.destroyed_by), ifOpen: true },
        { state: "inactive", description: supersededDescription(newerSha) },
        newerSha ? { status: "superseded", sha, reason: supersededReason(sha, newerSha), ...current } : undefined,
      );
      timer?.ended("superseded", timings);
      return { status: "superseded", status_at: clock() };
    }
    // A limit ends flyctl or a download with an error of its own ("cancelled"): name the limit instead.
    const limit = [error, runLimit.signal.reason].find((e) => e instanceof LimitExceeded);
    let reason = limit ? limit.message : redact(describe(error));
    if (error instanceof FlyError) tail = error.tail;
    if (error instanceof DockerfileGenerationFailed && error.suggest) {
      generatorFailure = { ...error.suggest, output: error.suggest.output.map(redact) };
    }
    if (error instanceof FlyError && error.kind === "release") reason = releaseFailedReason(config.hooks.release, error.detail && redact(error.detail.replace(/^release command failed - aborting deployment\. /, "")));
    // Fly.io's API or builder down after flyctl's own quick retries: an outage of
    // minutes, which the pool's schedule rides out without anyone pushing again.
    const passing = (error instanceof FlyError && error.kind === "transient") || (error instanceof DatabaseError && error.transient);
    if (passing) {
      const { attempt } = run;
      if (attempt.retryInMs !== undefined) {
        const at = clock() + attempt.retryInMs;
        const problem =
          error instanceof FlyError ? flyFailingReason(redact(error.detail ?? error.reason)) : databaseFailingReason(redact(error.reason));
        const waiting = retryNotice(problem, at, attempt);
        await end({ output: retryingOutput({ ...report(), reason: waiting, at }) }, undefined, { status: "queued", sha, reason: waiting, ...current });
        throw new RetryLater(at, problem);
      }
      reason = lastAttemptReason(reason, attempt);
    }
    timer?.failed(error, timings);
    log.warn({ sha, reason }, "deploy failed");
    const failed = failureOutput({ ...report(), reason });
    await end({ conclusion: "failure", output: failed }, { state: "failure", description: reason }, { status: "failed", sha, reason, ...current, ...builtWith() });
    return { status: "failed", status_at: clock(), last_error: reason };
  } finally {
    runLimit.clear();
    for (const cleanup of cleanups) await cleanup();
  }
}

/** Whether flyctl would build `path`: a file, or a symlink to one (flyctl's helpers.FileExists). */
function isFile(path: string): boolean {
  try {
    return !statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The values of the secrets the plan names; a missing one, or no secret store, fails the deploy. */
async function resolveSecrets(run: Run, names: string[]): Promise<Record<string, string>> {
  const { preview, deps } = run;
  if (names.length === 0) return {};
  if (!deps.secrets) throw new DeployFailure(NO_SECRET_STORE_REASON);
  const { values, missing } = await deps.secrets.resolve(preview.owner, preview.repo, names);
  if (missing.length) throw new DeployFailure(missingSecretsReason(missing, preview));
  return values;
}

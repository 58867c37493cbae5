import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "probot";
import { CONFIG_PATH, checkTrigger, interpolate, loadPreviewConfig, type PreviewConfig } from "../config/index.js";
import { FlyError, renderFlyToml, type DeployResult, type Flyctl } from "../fly/index.js";
import { failureOutput, invalidConfigOutput, startedOutput, successOutput, supersededOutput, type Timings } from "../github/check-run.js";
import { react } from "../github/comment.js";
import { shortSha } from "../github/markdown.js";
import type { Octokit } from "../github/octokit.js";
import type { Settings } from "../settings.js";
import type { Claim, Preview, PreviewPatch, Store } from "../store/store.js";
import { waitForHealthy } from "./health.js";
import { Reporter } from "./reporter.js";
import { fetchSource, SourceError } from "./source.js";

export interface ReconcileDeps {
  store: Store;
  settings: Settings;
  flyctl: Flyctl;
  github: (installationId: number) => Promise<Octokit>;
  log: Logger;
  fetch?: typeof fetch;
  clock?: () => number;
  healthIntervalMs?: number;
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

/** Carries out one claimed desire: deploy at a commit, or destroy. */
export async function reconcile(claim: Claim, worker: string, signal: AbortSignal, deps: ReconcileDeps): Promise<void> {
  const { preview, generation } = claim;
  const log = deps.log.child({ repo: `${preview.owner}/${preview.repo}`, pr: preview.number, app: preview.app_name });
  const clock = deps.clock ?? Date.now;
  const save = (patch: PreviewPatch) => deps.store.save(preview.id, worker, patch);
  const octokit = await deps.github(preview.installation_id);
  // The comment of a command this run carries out gets 🚀 or 😕 when the run ends; a
  // superseded run leaves that to the run that supersedes it.
  const finish = async (patch: PreviewPatch) => {
    const commandDone = preview.command_comment_id !== null && patch.status !== "superseded";
    await deps.store.finish(preview.id, worker, generation, commandDone ? { ...patch, command_comment_id: null } : patch);
    if (commandDone) {
      const content = patch.status === "failed" ? "confused" : "rocket";
      await react(octokit, { owner: preview.owner, repo: preview.repo, commentId: preview.command_comment_id! }, content).catch((error) =>
        log.warn({ err: error }, "could not react to the command"),
      );
    }
  };
  // Probot's request logging reads octokit.log at each request: bind it to this run.
  octokit.log = log.child({ name: "github" });
  deps = { ...deps, flyctl: deps.flyctl.withLog(log) };
  const reporter = new Reporter(octokit, preview, save, clock);

  if (preview.desired_action === "destroy") {
    await destroy(preview, reporter, deps, log, finish, clock);
    return;
  }
  const sha = preview.desired_sha ?? preview.head_sha;
  log.info({ sha, generation }, "deploy started");

  // A run that died after opening a check run for an older commit left it open.
  if (preview.check_run_id && preview.check_run_sha !== sha && ["building", "deploying", "queued"].includes(preview.status)) {
    await reporter.finishCheck("cancelled", supersededOutput(preview.check_run_sha!, sha));
  }

  const loaded = await loadPreviewConfig(octokit, { owner: preview.owner, repo: preview.repo, ref: sha });
  if (!loaded.found) {
    log.info("no .preview.yml at this commit: nothing to do");
    await finish({ status: "none", status_at: clock() });
    return;
  }
  if (!loaded.ok) {
    const first = loaded.problems[0];
    const reason = `${CONFIG_PATH} is invalid: line ${first.line}: ${first.message}`;
    log.info({ problems: loaded.problems.length }, "invalid .preview.yml");
    await reporter.failedCheck(sha, invalidConfigOutput(CONFIG_PATH, loaded.problems));
    await reporter.comment({ status: "failed", sha, reason, url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined });
    await finish({ status: "failed", status_at: clock(), last_error: reason });
    return;
  }
  const config = loaded.config;
  const trigger = checkTrigger(config.trigger, {
    labels: JSON.parse(preview.labels) as string[],
    baseRef: preview.base_ref,
    draft: preview.draft === 1,
  });
  // A command from someone with write access deploys whatever the trigger rules say.
  if (!trigger.ok && !preview.desired_by) {
    log.info({ reason: trigger.reason }, "trigger rules skip this pull request");
    await finish({ status: "skipped", status_at: clock(), last_error: trigger.reason });
    return;
  }
  await finish({
    ...(await deploy({ preview, sha, octokit, reporter, save, signal, deps, log }, config)),
    config_ttl_ms: config.ttlMs ?? null,
    config_max_previews: config.max_previews ?? null,
  });
}

interface Run {
  preview: Preview;
  sha: string;
  octokit: Octokit;
  reporter: Reporter;
  save: (patch: PreviewPatch) => Promise<void>;
  signal: AbortSignal;
  deps: ReconcileDeps;
  log: Logger;
}

async function deploy(run: Run, config: PreviewConfig): Promise<PreviewPatch> {
  const { preview, sha, reporter, signal, deps, log } = run;
  const clock = deps.clock ?? Date.now;
  const app = preview.app_name;
  const timings: Timings = {};
  let tail: string[] = [];
  let flyToml: string | undefined;
  let reusedImage: string | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const report = () => ({ appName: app, sha, timings, flyToml, tail, reusedImage });

  await reporter.startCheck(sha, startedOutput(app, sha));
  await reporter.startDeployment(sha);
  await reporter.comment({ status: "building", sha, url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined });

  try {
    if (!preview.app_created) {
      const created = await deps.flyctl.createApp(app);
      log.info({ created }, "fly app ready");
      await run.save({ app_created: 1 });
    }
    signal.throwIfAborted();

    let started = clock();
    const source = await fetchSource(run.octokit, { owner: preview.owner, repo: preview.repo, sha });
    cleanup = source.cleanup;
    timings.sourceMs = clock() - started;
    log.info({ files: source.files, bytes: source.bytes }, "source downloaded");
    signal.throwIfAborted();

    const defaultUrl = `https://${app}.fly.dev`;
    const vars = { PR_NUMBER: String(preview.number), PREVIEW_URL: defaultUrl, APP_NAME: app, HEAD_SHA: sha, HEAD_REF: preview.head_ref };
    const generated = await writeFlyToml(source.dir, app, config, deps.settings);
    flyToml = generated.text;

    let phase: "building" | "deploying" = "building";
    let commentChain = Promise.resolve();
    const label = `pr-${preview.number}-${shortSha(sha)}`;
    const flyDeploy = (image?: string) =>
      deps.flyctl.deploy({
        cwd: join(source.dir, config.context),
        configPath: generated.path,
        app,
        ...(image ? { image } : { imageLabel: label, buildArgs: interpolate(config.build_args, vars) }),
        env: interpolate(config.env, vars),
        memoryMb: config.resources.memoryMb,
        cpus: config.resources.cpus,
        cpuKind: config.resources.cpu_kind,
        signal,
        onLine: (line: string) => {
          log.debug({ flyctl: line });
          // The image is pushed (or reused): the rest is Fly rolling out machines.
          if (phase === "building" && /Pushing image done|^Watch your deployment at/.test(line)) {
            phase = "deploying";
            commentChain = commentChain.then(() =>
              reporter.comment({ status: "deploying", sha, url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined }),
            );
          }
        },
      });

    started = clock();
    let result: DeployResult | undefined;
    // The registry already holds this commit's image (a redeploy, or a run resumed
    // after a crash): release it again without building.
    if (preview.image_sha === sha && preview.app_created) {
      const image = `registry.fly.io/${app}:${label}`;
      try {
        result = await flyDeploy(image);
        reusedImage = image;
      } catch (error) {
        if (!(error instanceof FlyError) || !["build", "not_found"].includes(error.kind)) throw error;
        log.info({ image }, "the earlier image is gone: building again");
      }
    }
    result ??= await flyDeploy();
    await commentChain;
    await run.save({ image_sha: sha });
    tail = result.tail;
    timings.deployMs = clock() - started;
    const url = (result.url ?? defaultUrl).replace(/\/$/, "");

    const health = await waitForHealthy(url + config.health.path, {
      timeoutMs: config.health.timeoutMs,
      intervalMs: deps.healthIntervalMs,
      fetch: deps.fetch,
      signal,
    });
    timings.healthMs = health.durationMs;
    if (!health.ok) {
      throw new DeployFailure(
        `The app did not answer ${config.health.path} with a 2xx status within ${config.health.timeout} (last: ${health.lastProblem ?? "no answer"})`,
      );
    }

    await reporter.finishCheck("success", successOutput({ ...report(), url }));
    await reporter.deploymentState("success", { environmentUrl: url });
    await reporter.comment({ status: "ready", sha, url });
    log.info({ sha, url, timings }, "preview ready");
    return { status: "ready", status_at: clock(), deployed_sha: sha, url, last_error: null };
  } catch (error) {
    // Shutting down or a lost lease: leave every surface as it is for whoever runs this next.
    if (signal.aborted && !(signal.reason instanceof Superseded)) throw signal.reason;
    if (signal.aborted) {
      const newer = (signal.reason as Superseded).newer;
      const newerSha = newer.desired_action === "deploy" ? newer.desired_sha : null;
      log.info({ sha, newerSha }, "deploy superseded");
      await reporter.finishCheck("cancelled", supersededOutput(sha, newerSha, newer.destroyed_by));
      await reporter.deploymentState("inactive", { description: newerSha ? `Superseded by ${shortSha(newerSha)}` : "Superseded" });
      if (newerSha) {
        await reporter.comment({
          status: "superseded",
          sha,
          reason: `${shortSha(sha)} was not deployed: ${shortSha(newerSha)} superseded it and deploys next.`,
          url: preview.url ?? undefined,
          servingSha: preview.deployed_sha ?? undefined,
        });
      }
      return { status: "superseded", status_at: clock() };
    }
    const reason = describe(error);
    if (error instanceof FlyError) tail = error.tail;
    log.warn({ sha, reason }, "deploy failed");
    await reporter.finishCheck("failure", failureOutput({ ...report(), reason }));
    await reporter.deploymentState("failure", { description: reason });
    await reporter.comment({ status: "failed", sha, reason, url: preview.url ?? undefined, servingSha: preview.deployed_sha ?? undefined });
    return { status: "failed", status_at: clock(), last_error: reason };
  } finally {
    await cleanup?.();
  }
}

async function destroy(
  preview: Preview,
  reporter: Reporter,
  deps: ReconcileDeps,
  log: Logger,
  finish: (patch: PreviewPatch) => Promise<void>,
  clock: () => number,
): Promise<void> {
  // A PR that never got a preview (no config, or skipped) has nothing to tear down
  // and nothing to say.
  const hadSurface = preview.comment_id !== null || preview.app_created === 1;
  if (!hadSurface) {
    await finish({ status: "destroyed", status_at: clock() });
    return;
  }
  if (["building", "deploying", "queued"].includes(preview.status) && preview.check_run_sha) {
    await reporter.finishCheck("cancelled", supersededOutput(preview.check_run_sha, null, preview.destroyed_by));
  }
  try {
    if (preview.app_created) {
      const outcome = await deps.flyctl.destroyApp(preview.app_name);
      log.info({ outcome }, "fly app destroyed");
    }
  } catch (error) {
    const reason = describe(error);
    log.warn({ reason }, "destroy failed");
    await reporter.comment({
      status: "failed",
      sha: preview.deployed_sha ?? preview.head_sha,
      reason: `Could not destroy the Fly app: ${reason}`,
      url: preview.url ?? undefined,
    });
    await finish({ status: "failed", status_at: clock(), last_error: `destroy: ${reason}` });
    return;
  }
  await reporter.deploymentState("inactive", { description: "Pull request closed" });
  await reporter.comment({
    status: "destroyed",
    sha: preview.deployed_sha ?? preview.head_sha,
    url: preview.url ?? undefined,
    destroyedBy: preview.destroyed_by ?? undefined,
  });
  await finish({ status: "destroyed", status_at: clock(), app_created: 0, url: null, image_sha: null, last_error: null });
}

class DeployFailure extends Error {}

function describe(error: unknown): string {
  if (error instanceof FlyError || error instanceof SourceError) return error.reason;
  if (error instanceof DeployFailure) return error.message;
  return `Internal error: ${error instanceof Error ? error.message : String(error)}`;
}

async function writeFlyToml(dir: string, app: string, config: PreviewConfig, settings: Settings): Promise<{ path: string; text: string }> {
  const dockerfile = join(dir, config.dockerfile);
  if (!existsSync(dockerfile)) {
    throw new DeployFailure(`dockerfile: "${config.dockerfile}" does not exist in the repository at this commit`);
  }
  let base: string | undefined;
  if (config.fly_toml) {
    const path = join(dir, config.fly_toml);
    if (!existsSync(path)) throw new DeployFailure(`fly_toml: "${config.fly_toml}" does not exist in the repository at this commit`);
    base = await readFile(path, "utf8");
  }
  let text: string;
  try {
    text = renderFlyToml({
      app,
      region: config.region ?? settings.flyRegion,
      dockerfile: config.dockerfile,
      port: config.port,
      memory: config.resources.memory,
      cpus: config.resources.cpus,
      cpuKind: config.resources.cpu_kind,
      base,
    });
  } catch (error) {
    throw new DeployFailure(`fly_toml: ${(error as Error).message}`);
  }
  const path = join(dir, GENERATED_TOML);
  await writeFile(path, text);
  return { path, text };
}

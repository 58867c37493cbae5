import { interpolate, type PreviewConfig, type PreviewVars } from "../config/index.js";
import { renderFlyToml, type DeployOptions, type FlyTomlInput, type MachineSize } from "../fly/index.js";
import { shortSha } from "../github/markdown.js";
import { appUrl } from "../model/app-name.js";
import type { Settings } from "../settings.js";

/** What the mapping reads of the server's settings. */
export type FlySettings = Pick<Settings, "flyRegion">;

/** flyctl deploy's options apart from where it runs and how the run follows it. */
export type FlyDeployOptions = Omit<DeployOptions, "cwd" | "configPath" | "signal" | "onLine">;

/** Everything Fly gets for one preview of a commit. */
export interface FlyDeploy {
  /** flyctl deploy's options for a build of the commit. */
  build: FlyDeployOptions;
  /** Its options for releasing the image an earlier build of this commit pushed, without building. */
  release: FlyDeployOptions;
  /** What the generated fly.toml is rendered from, the repository's own fly.toml aside. */
  toml: Omit<FlyTomlInput, "base">;
  /** The machine the preview runs on, and its hooks' one-off machines: what its cost is estimated from. */
  machine: FlyMachine;
  /** Where Fly serves the app unless flyctl says otherwise. */
  url: string;
}

// Kept beside the app name (src/model/) so .preview.yml's ${apps.NAME.url} resolves to the same URL.
export { appUrl };

/** A preview's machine: where it runs and its size. */
export type FlyMachine = MachineSize & { region: string };

/** The ${…} variables of env and build_args for a pull request's commit. */
export function previewVars(preview: { number: number; app_name: string; head_ref: string }, sha: string): PreviewVars {
  return { PR_NUMBER: String(preview.number), PREVIEW_URL: appUrl(preview.app_name), APP_NAME: preview.app_name, HEAD_SHA: sha, HEAD_REF: preview.head_ref };
}

/**
 * The mapping from .preview.yml (and the server's settings) to Fly, written once: the
 * flyctl deploy flags and the generated fly.toml both come from here, so they cannot
 * disagree about the machine (flyctl's --vm-* flags win over the fly.toml's [[vm]]).
 */
export function flyFor(app: string, config: PreviewConfig, settings: FlySettings, vars: PreviewVars): FlyDeploy {
  const { resources } = config;
  const toml = {
    app,
    region: config.region ?? settings.flyRegion,
    dockerfile: config.dockerfile,
    port: config.port,
    memory: resources.memory,
    cpus: resources.cpus,
    cpuKind: resources.cpu_kind,
    basePath: config.fly_toml,
    ...(config.hooks.release ? { release: { command: config.hooks.release, timeout: goDuration(config.hooks.timeoutMs) } } : {}),
  };
  const machine: FlyMachine = { region: toml.region, memoryMb: resources.memoryMb, cpus: toml.cpus, cpuKind: toml.cpuKind };
  const deploy = { app, env: interpolate(config.env, vars), memoryMb: machine.memoryMb, cpus: machine.cpus, cpuKind: machine.cpuKind };
  // The registry keeps each build's image under this label: a later run for the same commit releases it again.
  const imageLabel = `pr-${vars.PR_NUMBER}-${shortSha(vars.HEAD_SHA)}`;
  return {
    build: { ...deploy, imageLabel, buildArgs: interpolate(config.build_args, vars) },
    release: { ...deploy, image: `registry.fly.io/${app}:${imageLabel}` },
    toml,
    machine,
    url: vars.PREVIEW_URL,
  };
}

/**
 * A duration as Go's time.ParseDuration reads it (flyctl's fly.Duration in fly.toml): our
 * `d` unit is not one of Go's, so the longest unit written is the hour.
 */
export function goDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// The fly.toml takes none of the ${…} variables (env and build args go to flyctl as
// flags), so it can be shown without a pull request: these stand in for one.
const NO_PULL_REQUEST: PreviewVars = { PR_NUMBER: "0", PREVIEW_URL: "", APP_NAME: "", HEAD_SHA: "", HEAD_REF: "" };

/**
 * The fly.toml a preview of `config` is deployed with, as the app `app`, over the
 * repository's own fly.toml (`repoFlyToml`, the text of the file `config.fly_toml` names)
 * when there is one. No I/O. Throws FlyTomlRefused when that file cannot be used.
 */
export function flyTomlFor(app: string, config: PreviewConfig, settings: FlySettings, repoFlyToml?: string): string {
  return renderFlyToml({ ...flyFor(app, config, settings, NO_PULL_REQUEST).toml, base: repoFlyToml });
}

import { checkTrigger, type ConfigProblem, type LoadedConfig, type PreviewConfig } from "../config/index.js";
import { FlyTomlRefused, type FlyTomlProblem } from "../fly/index.js";
import type { FullLimit } from "../github/messages.js";
import type { Settings } from "../settings.js";
import type { Preview } from "../store/store.js";
import type { AppHashes } from "./app-config.js";
import { flyFor, flyTomlFor, previewVars, type FlyDeploy } from "./fly-config.js";

/** What the plan reads of a preview's row. */
export type PlannedPreview = Pick<
  Preview,
  | "number"
  | "app_name"
  | "head_ref"
  | "base_ref"
  | "labels"
  | "draft"
  | "fork"
  | "approved_sha"
  | "desired_by"
  | "status"
  | "app_created"
  | "deployed_sha"
  | "config_hash"
  | "env_hash"
>;

/** Everything a deploy desire is judged on, read beforehand: the plan does no I/O. */
export interface PlanInput {
  preview: PlannedPreview;
  /** The commit to deploy. */
  sha: string;
  loaded: LoadedConfig;
  settings: Pick<Settings, "flyRegion" | "maxPerInstallation">;
  /**
   * Previews other than this one that hold a slot, in its repository and its
   * installation; each needed only when that limit is set (max_previews,
   * PREVIEW_MAX_PER_INSTALLATION).
   */
  active: { repository?: number; installation?: number };
  /**
   * Fly apps this deploy would start: 1, or for a pull request with `apps:` those of its
   * apps that hold no slot yet. It waits whole rather than start some of them.
   */
  need?: number;
  /**
   * An app of an `apps:` block: what its block holds now (src/preview/app-config.ts). It
   * "stays" only when it deployed this commit with these, not when its env changed since.
   */
  hashes?: AppHashes;
  /** The text of the fly.toml .preview.yml names (`fly_toml`) at the commit; undefined when it names none or the file is missing. */
  repoFlyToml?: string;
}

/** What a deploy desire comes to; every outcome past .preview.yml carries its config. */
export type Plan =
  /** No .preview.yml: the repository has not opted in. */
  | { kind: "none" }
  | { kind: "invalid"; problems: ConfigProblem[] }
  /** The trigger rules say no; a preview that exists is destroyed (`destroy`). */
  | { kind: "skip"; config: PreviewConfig; reason: string; remedy: string; destroy: boolean }
  /** A fork under `forks: off`. */
  | { kind: "blocked"; config: PreviewConfig }
  /** A fork under `forks: approve` whose commit nobody with write access approved. */
  | { kind: "approve"; config: PreviewConfig }
  /** The preview already serves this commit and the trigger rules still let it through. */
  | { kind: "stay"; config: PreviewConfig }
  /** Starting would break a limit: it deploys once a slot frees. */
  | { kind: "wait"; config: PreviewConfig; limit: FullLimit }
  /** The repository's fly.toml (at `file`) makes flyctl read the server's files: nothing is created. */
  | { kind: "refused"; config: PreviewConfig; file: string; problems: FlyTomlProblem[] }
  | ({ kind: "deploy"; config: PreviewConfig } & DeployPlan);

export interface DeployPlan {
  /** flyctl deploy's options and the fly.toml's inputs. */
  fly: FlyDeploy;
  /** The generated fly.toml flyctl deploys with. */
  flyToml: string;
  /** The secrets to resolve and stage; none for an untrusted fork. */
  secrets: string[];
  /** The config names secrets and this fork's preview does not get them. */
  secretsWithheld: boolean;
  /**
   * The fly_toml .preview.yml names, when the commit has no such file: the deploy
   * starts and fails saying so, as it does for a dockerfile that is missing.
   */
  missingFlyToml?: string;
}

/** Decides what a run for a deploy desire does, gate by gate, in the order people meet them. */
export function plan(input: PlanInput): Plan {
  const { preview, sha, loaded } = input;
  if (!loaded.found) return { kind: "none" };
  if (!loaded.ok) return { kind: "invalid", problems: loaded.problems };
  const config = loaded.config;

  const trigger = checkTrigger(config.trigger, {
    labels: JSON.parse(preview.labels) as string[],
    baseRef: preview.base_ref,
    draft: preview.draft === 1,
  });
  // A command from someone with write access deploys whatever the trigger rules say.
  // A preview the rules no longer let through (its label removed, back to draft) goes,
  // as with Vercel's or Heroku's opt-in previews: it frees its slot and its Fly app.
  if (!trigger.ok && !preview.desired_by) {
    return { kind: "skip", config, reason: trigger.reason, remedy: trigger.remedy, destroy: preview.app_created === 1 };
  }

  // A fork's code is its author's: see docs/security.md.
  if (preview.fork && config.forks === "off") return { kind: "blocked", config };
  if (preview.fork && config.forks === "approve" && preview.approved_sha !== sha) return { kind: "approve", config };

  // A label added or removed, or a draft toggled, judges the preview again: when it
  // already serves this commit and the rules still let it through, nothing changes.
  const sameConfig = !input.hashes || (preview.config_hash === input.hashes.config && preview.env_hash === input.hashes.env);
  if (!preview.desired_by && preview.status === "ready" && preview.app_created && preview.deployed_sha === sha && sameConfig) {
    return { kind: "stay", config };
  }

  // An app that exists already holds its slot.
  const limit = preview.app_created ? undefined : fullLimit(config, input);
  if (limit) return { kind: "wait", config, limit };

  // The repository's fly.toml is the pull request's to write, and flyctl reads files of
  // the server it names: judged before anything is created on Fly.io.
  let flyToml: string;
  try {
    flyToml = flyTomlFor(preview.app_name, config, input.settings, input.repoFlyToml);
  } catch (error) {
    if (!(error instanceof FlyTomlRefused)) throw error;
    return { kind: "refused", config, file: config.fly_toml!, problems: error.problems };
  }

  const withheld = config.secrets.length > 0 && preview.fork === 1 && config.forks !== "trusted";
  return {
    kind: "deploy",
    config,
    fly: flyFor(preview.app_name, config, input.settings, previewVars(preview, sha)),
    flyToml,
    secrets: withheld ? [] : config.secrets,
    secretsWithheld: withheld,
    ...(config.fly_toml && input.repoFlyToml === undefined ? { missingFlyToml: config.fly_toml } : {}),
  };
}

/** The limit this preview would break by starting, or undefined when a slot is free. */
function fullLimit(config: PreviewConfig, input: PlanInput): FullLimit | undefined {
  const { repository = 0, installation = 0 } = input.active;
  const need = input.need ?? 1;
  if (config.max_previews !== undefined && repository + need > config.max_previews) {
    return { scope: "repository", active: repository, max: config.max_previews, need };
  }
  const perInstallation = input.settings.maxPerInstallation;
  if (perInstallation !== undefined && installation + need > perInstallation) {
    return { scope: "installation", active: installation, max: perInstallation, need };
  }
  return undefined;
}

import { createHash } from "node:crypto";
import type { PreviewConfig } from "../config/index.js";

// What an app of an `apps:` block deploys with, hashed, so the pull request's run can tell
// on a push that leaves the app's `paths` alone whether its .preview.yml block changed:
// anything but its env (a Dockerfile, a build arg, the machine) builds it again; its env
// alone releases its image again with the new values; nothing leaves it as it is. Hashed as
// written (before ${…} variables such as ${HEAD_SHA} are filled in, which change each push).

export interface AppHashes {
  config: string;
  env: string;
}

const hash = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);

export function appHashes(config: PreviewConfig): AppHashes {
  const { env, ...rest } = config;
  return { config: hash(rest), env: hash(env) };
}

/** What a push that leaves an app's paths alone does to it. */
export function unchangedPathsAction(deployed: { config_hash: string | null; env_hash: string | null }, now: AppHashes): "rebuild" | "release" | "leave" {
  if (deployed.config_hash !== now.config) return "rebuild";
  return deployed.env_hash === now.env ? "leave" : "release";
}

export interface PreviewConfig {
  /** Normalised POSIX path relative to the repository root, e.g. "docker/web.Dockerfile". */
  dockerfile: string;
  /** Normalised; "." for the repository root. */
  context: string;
  fly_toml?: string;
  port: number;
  region?: string;
  env: Record<string, string>;
  build_args: Record<string, string>;
  build: { timeout: string; timeoutMs: number };
  health: { path: string; timeout: string; timeoutMs: number };
  resources: { memory: string; memoryMb: number; cpus: number; cpu_kind: "shared" | "performance" };
  secrets: string[];
  ttl: string;
  ttlMs: number;
  max_previews?: number;
  trigger: { labels: string[]; branches: string[]; drafts: boolean };
  forks: "approve" | "off" | "trusted";
}

/** One thing wrong with a .preview.yml, placed where a check-run annotation can point at it. */
export interface ConfigProblem {
  /** Dotted field path such as "resources.memory"; "" for the file as a whole. */
  path: string;
  message: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export type ConfigResult = { ok: true; config: PreviewConfig } | { ok: false; problems: ConfigProblem[] };

/** Where a repository opts in: the file's presence at the pull request's head commit. */
export { CONFIG_PATH } from "../model/config-file.js";

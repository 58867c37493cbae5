export interface PreviewConfig {
  /** Normalised POSIX path relative to the repository root, e.g. "docker/web.Dockerfile". */
  dockerfile: string;
  /**
   * Whether .preview.yml names `dockerfile` rather than leaving it to its default. A
   * Dockerfile it names must exist; a missing default one is generated for a Node.js
   * project (src/preview/dockerfile.ts).
   */
  dockerfileNamed: boolean;
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
  /** How the reminder before expiry is given: an edit of the sticky comment, or a new comment. */
  notify: "edit" | "comment";
  max_previews?: number;
  trigger: { labels: string[]; branches: string[]; drafts: boolean };
  forks: "approve" | "off" | "trusted";
  database?: DatabaseConfig;
  hooks: HooksConfig;
}

/** `hooks` of .preview.yml: commands run in machines of the preview's app (docs/hooks.md). */
export interface HooksConfig {
  /** Fly's `release_command`, before each deploy's machines start. */
  release?: string;
  /** Once per preview, after its first deploy that is up. */
  postdeploy?: string;
  /** Before the preview's app is destroyed, best effort. */
  predestroy?: string;
  /** Per hook, as written ("10m"). */
  timeout: string;
  timeoutMs: number;
}

/**
 * `database` of .preview.yml: the provider block the file gives (the schema allows exactly
 * one), named again in `provider` so code can switch on it and record it.
 */
export type DatabaseConfig =
  | { provider: "neon"; neon: NeonConfig; env: string }
  | { provider: "fly_postgres"; fly_postgres: FlyPostgresConfig; env: string };

/** `database.neon`: a branch of a Neon project per preview. */
export interface NeonConfig {
  /** A Neon project id, like "proud-fog-123456". */
  project: string;
  /** Name of the branch to copy; undefined means the project's default branch (Neon's own default when a branch is made without a parent). */
  parent?: string;
  /** Name of the repository secret holding the Neon API key; undefined means the server's NEON_API_KEY. */
  api_key_secret?: string;
}

/** `database.fly_postgres`: a database and user per preview on an existing Fly Postgres app. */
export interface FlyPostgresConfig {
  /** The Fly Postgres app, in the server's FLY_ORG. */
  cluster: string;
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

/**
 * One app of a .preview.yml with `apps:` (a monorepo's web, api, worker previewed together).
 * `config` is the app's effective configuration: its own fields with their defaults, and the
 * repository-wide fields (`ttl`, `notify`, `max_previews`, `trigger`, `forks`, `database`)
 * copied in, so code written for one app reads it unchanged. `${apps.NAME.url}` in its `env`
 * and `build_args` is left as written: `resolveAppUrls` replaces it once the pull request is
 * known.
 */
export interface AppConfig {
  /** The app's key under `apps:`: lowercase letters, digits and "-", at most 20 characters. */
  name: string;
  config: PreviewConfig;
  /** Globs (src/config/glob.ts) of the files whose changes rebuild the app; undefined: it rebuilds on every push. */
  paths?: string[];
}

/**
 * A valid file's configuration. Without `apps:` (every file written before them), `config`
 * is the one app and `apps` is undefined. With `apps:`, `apps` lists every app in the order
 * the file declares them, and `config` is the first one's (`apps[0].config`, the very same
 * object): its repository-wide fields are the file's, the same in every app, so code that
 * reads only those (trigger rules, forks, limits, ttl) may keep reading `config`; anything
 * that deploys must switch on `apps`, or it would preview the first app alone.
 */
export type ConfigResult = { ok: true; config: PreviewConfig; apps?: AppConfig[] } | { ok: false; problems: ConfigProblem[] };

/** Where a repository opts in: the file's presence at the pull request's head commit. */
export { CONFIG_PATH } from "../model/config-file.js";

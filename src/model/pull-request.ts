// A pull request and the states of its preview, as every layer speaks of them: the
// handlers, the store, the reconciler and the renderers. A leaf: it imports nothing
// from src/, so any layer may import it.

// The pull request as a webhook describes it; enough to plan a deploy without
// asking GitHub again.
export interface PullRequestInfo {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  appName: string;
  headSha: string;
  headRef: string;
  baseRef: string;
  draft: boolean;
  labels: string[];
  /** The head branch lives in another repository: untrusted code. */
  fork: boolean;
}

export type DesiredAction = "deploy" | "destroy";

/** Why a preview is (to be) destroyed; the sticky comment says it. */
// `trigger`: the trigger rules no longer let the preview through (a label removed, back
// to draft); the row keeps its deploy desire and deploys again when they do.
/** Why a preview was destroyed; "removed": its app left the `apps:` block of .preview.yml. */
export type DestroyReason = "closed" | "command" | "expired" | "uninstalled" | "operator" | "trigger" | "removed";

// What the sticky comment and logs call the state of a preview.
export type PreviewStatus =
  | "none" // no .preview.yml at the head: nothing shown
  | "skipped" // the trigger rules said no: nothing shown
  | "queued"
  | "building"
  | "deploying"
  | "ready"
  | "failed"
  | "superseded"
  | "awaiting_approval" // a fork under `forks: approve`, this commit not approved yet
  | "blocked" // a fork under `forks: off`
  | "limited" // past max_previews or PREVIEW_MAX_PER_INSTALLATION: deploys when a slot frees
  | "destroyed";

/**
 * A preview's own database as people are shown it (comment, check run, `fly-preview
 * status`): where it lives and what it was copied from, never its URL or password.
 */
/** What a preview's machine costs while it runs, estimated from the server's price table (src/fly/prices.ts). */
export interface CostShown {
  /** The Fly preset of its CPU kind and count, like "shared-cpu-1x". */
  preset: string;
  memoryMb: number;
  perHour: number;
  perMonth: number;
  currency: string;
  /** The region the prices are for, and when and where they were read. */
  region: string;
  date: string;
  source: string;
}

export interface DatabaseShown {
  provider: "neon" | "fly_postgres";
  /** Neon: the branch (`preview/pr-N`); Fly Postgres: the database. */
  name: string;
  /** Neon: the branch it was copied from; Fly Postgres: the cluster. */
  parent: string | null;
  /** A fork's Neon branch: the parent's schema, none of its data. */
  schemaOnly?: boolean;
}

/** A hook of .preview.yml that ran (postdeploy, predestroy), as people are shown it. */
export interface HookShown {
  name: "postdeploy" | "predestroy";
  /** As written in .preview.yml. */
  command: string;
  ok: boolean;
  durationMs: number;
  /** One line: why it failed (its exit code, its timeout, flyctl's error). */
  reason?: string;
}

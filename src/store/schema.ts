import type { Generated } from "kysely";
import type { DesiredAction, DestroyReason, PreviewStatus } from "../model/pull-request.js";
import type { SlashCommandName } from "../model/slash-commands.js";

// Timestamps are epoch milliseconds (numbers), not dialect date types, so the same
// comparisons work on SQLite and PostgreSQL without conversion code.

// The pull request's vocabulary lives in src/model/ (every layer speaks it); re-exported
// here for the code that reads it as the store's columns.
export type { DesiredAction, DestroyReason, PreviewStatus };

export interface PreviewsTable {
  id: Generated<number>;
  installation_id: number;
  owner: string;
  repo: string;
  number: number;
  app_name: string;

  // The pull request as the newest webhook described it.
  head_sha: string;
  head_ref: string;
  base_ref: string;
  draft: number;
  labels: string; // JSON array of label names

  // Desired state: bumped generation on every new desire.
  desired_action: DesiredAction;
  desired_sha: string | null;
  desired_generation: number;
  desired_at: number;

  // Observed state, written only by the worker holding the lease.
  observed_generation: number;
  status: PreviewStatus;
  status_at: number;
  deployed_sha: string | null;
  url: string | null;
  app_created: Generated<number>;
  // Set before this row first asks Fly to create its app, and kept after a destroy: only
  // this row may sweep an app of its name (another repository's name can fold to it).
  app_owner: Generated<number>;
  last_error: string | null;
  comment_id: number | null;
  comment_body_hash: string | null;
  check_run_id: number | null;
  check_run_sha: string | null;
  /** The check run's page on GitHub: the comment and the deployment link to it. */
  check_run_url: string | null;
  deployment_id: number | null;
  deployment_sha: string | null;
  config_ttl_ms: number | null;
  // config_max_previews (0001) was written and never read: no longer written; the column stays.
  /** `/preview reset-db` asked: the next deploy run resets the database first, then clears it. */
  reset_db: Generated<number>;
  /** The machine the last successful deploy runs on (shared | performance, CPUs, MB); null before one. */
  machine_cpu_kind: "shared" | "performance" | null;
  machine_cpus: number | null;
  machine_memory_mb: number | null;
  /**
   * "": the pull request's own row, the one its webhooks and commands address. With an
   * `apps:` block in .preview.yml, each app has a row of its own keyed by its name
   * (docs/monorepos.md); the pull request is unique by (owner, repo, number, app_key).
   */
  app_key: Generated<string>;
  /** An app's configuration (its env aside) and its env, hashed, as its last successful deploy had them; null otherwise. */
  config_hash: string | null;
  env_hash: string | null;
  /** How long the last successful deploy's flyctl ran (build and release), in ms. */
  build_ms: number | null;
  /** `/preview redeploy --fresh` asked: the next deploy builds from source, then runs postdeploy again; cleared once built. */
  fresh: Generated<number>;
  /** When hooks.postdeploy last succeeded on this app; null: due after the next deploy that is up (docs/hooks.md). */
  postdeploy_at: number | null;
  /** The predestroy hook of the last deploy that was up, as JSON (src/preview/hooks.ts); run before the app is destroyed. */
  predestroy_hook: string | null;

  // Set by `/preview destroy`: pushes do not bring the preview back, `/preview redeploy` does.
  paused: Generated<number>;
  destroyed_by: string | null; // login of whoever destroyed it with a command; null when the PR closed
  desired_by: string | null; // login of whoever asked for the current desire by command; null for webhooks
  // The comment whose command this desire carries out: it gets 🚀 or 😕 when the run ends.
  command_comment_id: number | null;
  // The commit whose image the app's registry holds (label pr-N-SHORTSHA): redeploys skip the build.
  image_sha: string | null;

  // A pull request from a fork: its code is untrusted (see docs/security.md).
  fork: Generated<number>;
  // The head commit a writer approved with `/preview approve` (forks under `forks: approve`).
  approved_sha: string | null;
  // The last push or command: the TTL counts from here.
  activity_at: number | null;
  // `/preview pin`: who pinned it, and when. A pinned preview does not expire while its
  // pull request is open (src/model/expiry.ts).
  pinned_by: string | null;
  pinned_at: number | null;
  // `/preview extend`: the expiry asked for, who asked and by how much (the last extension).
  extended_until: number | null;
  extended_by: string | null;
  extended_ms: number | null;
  // The expiry the reminder was sent for: one reminder per expiry.
  reminded_for: number | null;
  // `notify: comment` in .preview.yml, remembered at deploy: the reminder is a new comment.
  notify_comment: Generated<number>;
  // Destroy without writing to GitHub: the installation or repository was removed.
  quiet: Generated<number>;
  destroy_reason: DestroyReason | null;
  // Random per desire a webhook records: the upsert that wrote it knows the desire changed.
  desire_token: string | null;
  // A run of generation `retry_generation` failed for a passing reason (GitHub or the
  // network down): it is claimed again from `retry_at`, `retry_attempts` runs in. A
  // newer desire does not wait.
  retry_generation: number | null;
  retry_attempts: Generated<number>;
  retry_at: number | null;

  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Per-repository secret values, encrypted (AES-256-GCM) with PREVIEW_SECRETS_KEY. */
export interface SecretsTable {
  owner: string;
  repo: string;
  name: string;
  value: string; // base64 of iv | ciphertext | tag
  updated_at: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

/** A recorded command's name: one of the slash commands, or a `/preview` word that is none of them. */
export type CommandName = SlashCommandName | "unknown";
export type CommandSource = "comment" | "button" | "rerun";

/** A command from a PR comment, a check run button or "Re-run", waiting for a worker. */
export interface CommandsTable {
  id: Generated<number>;
  installation_id: number;
  owner: string;
  repo: string;
  number: number;
  name: CommandName;
  text: string; // what the user wrote (for unknown commands)
  source: CommandSource;
  comment_id: number | null;
  sender: string;
  created_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  done_at: number | null;
  outcome: string | null;
  // `approve`: the head commit fly-preview knew when the command arrived, the one the
  // approver saw. Null when it knew none.
  head_sha: string | null;
  // Tried `attempts` times and failed for a passing reason (GitHub or the network):
  // claimed again from `retry_at`.
  attempts: Generated<number>;
  retry_at: number | null;
  /** A button of an app's check run (`Fly Preview / NAME`): that app of the `apps:` block. */
  app_key: string | null;
}

/**
 * A commit of a preview whose check run may be in progress: recorded before the check
 * run is created, deleted once it has ended (see docs/security.md, "Every check run ends").
 */
export interface OpenCheckRunsTable {
  preview_id: number;
  sha: string;
  created_at: number;
}

/** When an installation's next GitHub write may leave, in the database's milliseconds. */
export interface WritePaceTable {
  installation_id: number;
  next_at: number;
}

/**
 * What one GitHub surface of a preview should show (`state`, JSON) and which version of
 * it was last sent: the write queue's durable half (src/preview/write-queue.ts). A row
 * with `sent_version < version` is a write still to send, whichever process recorded it.
 */
export interface SurfaceWritesTable {
  preview_id: number;
  /** `check:SHA` (that commit's check run), `deployment` or `comment`. */
  surface: string;
  installation_id: number;
  /** The desire generation whose run wanted this state: an older run never replaces a newer one's. */
  generation: number;
  state: string;
  /** A state a person waits for (a run's last word): sent ahead of intermediate ones. */
  final: number;
  version: number;
  sent_version: Generated<number>;
  /** When the row last went from sent to pending: the queue's order within a rank. */
  pending_since: number;
  attempts: Generated<number>;
  retry_at: number | null;
  /** The process sending it, until `sending_until`. */
  sender: string | null;
  sending_until: number | null;
}

/** A database fly-preview made for a preview (src/store/preview-databases.ts). */
export interface PreviewDatabasesTable {
  provider: string;
  home: string;
  name: string;
  preview_id: number;
  parent: string | null;
  /** Neon: the repository secret holding the API key (null: the server's NEON_API_KEY), so a sweep can drop it. */
  secret_name: string | null;
  /** Fly Postgres: the shared database this row's user is on (only the user is the row's); null: a database of its own. */
  on_database: string | null;
  created_at: number;
  ready_at: number | null;
  dropped_at: number | null;
}

export interface DeliveriesTable {
  id: string;
  received_at: number;
}

export interface Database {
  previews: PreviewsTable;
  deliveries: DeliveriesTable;
  commands: CommandsTable;
  secrets: SecretsTable;
  meta: MetaTable;
  open_check_runs: OpenCheckRunsTable;
  write_pace: WritePaceTable;
  surface_writes: SurfaceWritesTable;
  preview_databases: PreviewDatabasesTable;
}

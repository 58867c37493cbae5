import type { Generated } from "kysely";

// Timestamps are epoch milliseconds (numbers), not dialect date types, so the same
// comparisons work on SQLite and PostgreSQL without conversion code.

export type DesiredAction = "deploy" | "destroy";

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
  | "destroying"
  | "destroyed";

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
  last_error: string | null;
  comment_id: number | null;
  comment_body_hash: string | null;
  check_run_id: number | null;
  check_run_sha: string | null;
  deployment_id: number | null;
  deployment_sha: string | null;
  config_ttl_ms: number | null;
  config_max_previews: number | null;

  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveriesTable {
  id: string;
  received_at: number;
}

export interface Database {
  previews: PreviewsTable;
  deliveries: DeliveriesTable;
}

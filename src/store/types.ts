import type { Insertable, Kysely, Selectable, Updateable } from "kysely";
import type { DestroyReason } from "../model/pull-request.js";
import type { Dialect } from "./migrations.js";
import type { CommandsTable, Database, PreviewsTable } from "./schema.js";

/** What every room of the store works with: the database, its dialect and the clock. */
export interface StoreContext {
  db: Kysely<Database>;
  dialect: Dialect;
  clock: () => number;
}

export type Preview = Selectable<PreviewsTable>;

/** What a run may write of its preview: anything but the desire, which is the handlers' and commands', and the lease. */
export type PreviewPatch = Omit<
  Updateable<PreviewsTable>,
  "id" | "desired_action" | "desired_sha" | "desired_generation" | "desired_at" | "lease_owner" | "lease_expires_at"
>;

/** The ids GitHub gave a preview's surfaces. */
export type SurfaceIds = Pick<
  PreviewPatch,
  "comment_id" | "comment_body_hash" | "check_run_id" | "check_run_sha" | "check_run_url" | "deployment_id" | "deployment_sha"
>;

/** A preview leased to a worker, and the desire generation it is to carry out. */
export interface Claim {
  preview: Preview;
  generation: number;
}

/** Who asked, when a desire comes from a command rather than a webhook. */
export interface CommandDesire {
  by: string;
  commentId?: number;
  /** `/preview approve`: this commit of a fork PR (the one the approver saw) may deploy. */
  approvedSha?: string;
  /** `/preview reset-db`: the run resets the preview's database before it deploys. */
  resetDb?: boolean;
  /** `/preview redeploy --fresh`: build without the registry's image, and run postdeploy again. */
  fresh?: boolean;
}

/** Why a destroy is desired, and who asked when a person did. */
export interface DestroyWhy {
  reason: DestroyReason;
  by?: string;
  commentId?: number;
}

/** The previews and commands of an installation, or of one repository. */
export type Scope = { installationId: number } | { owner: string; repo: string };

export type Command = Selectable<CommandsTable>;
export type NewCommand = Omit<
  Insertable<CommandsTable>,
  "id" | "created_at" | "lease_owner" | "lease_expires_at" | "done_at" | "outcome" | "attempts" | "retry_at"
>;

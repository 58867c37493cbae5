/**
 * The Neon driver: a preview's own database as a branch `preview/pr-N` of a Neon project,
 * with a read-write compute, reached through Neon's pooled connection URI.
 *
 *   ensureNeonBranch  finds the preview's branch by name (one fly-preview made) or copies it from the parent
 *   deleteNeonBranch  deletes it ("deleted"), or finds nothing to delete ("absent")
 *   resetNeonBranch   puts the parent's current schema and rows back into it
 *
 * Written from Neon's API reference: the OpenAPI document the client ships
 * (@neondatabase/api-client 2.7.3, public-v2-for-users.gen.yaml) and Neon's guides "Reset
 * from parent" and "Schema-only branches". The facts this file leans on:
 *
 * - Creating a branch answers at once with `operations` still running; the branch and its
 *   compute are usable once they have finished (GET /projects/{id}/operations/{op}). While
 *   a project's operations run, Neon refuses new ones with 423 Locked, which its reference
 *   calls always safe to retry: this driver waits and retries them itself.
 * - A schema-only branch (`init_source: "schema-only"`) is a new *root* branch: it has no
 *   parent, "reset from parent" does not apply, and restoring it from another branch copies
 *   that branch's rows too. So a fork's branch is reset by making it anew, never restored.
 * - Restoring a branch with children needs `preserve_under_name`, which would leave a
 *   backup branch behind; deleting one is refused. This driver refuses both itself, naming
 *   the children, rather than leave branches nobody asked for.
 * - The connection URI (GET /projects/{id}/connection_uri) needs a database and a role; the
 *   preview gets the branch's database (`neondb` when there are several, else the oldest)
 *   as the role that owns it, through the pooler (`pooled=true`: the `-pooler` host).
 * - Errors are `{ code, message }`; the plan's limits are 422 `BRANCHES_LIMIT_EXCEEDED`
 *   ("branches limit exceeded") and `ROOT_BRANCHES_LIMIT_EXCEEDED` for root branches.
 *
 * Nothing here logs. The API key and the connection URI are secrets: no error carries
 * them, nor the client's own error (whose request config holds the key).
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  createApiClient,
  EndpointType,
  OperationStatus,
  type AnnotationData,
  type Branch,
  type Database,
  type Operation,
} from "@neondatabase/api-client";
import { DatabaseError } from "./errors.js";

/** Neon's API, unless a server setting points elsewhere (a test's fake). */
export const NEON_API_URL = "https://console.neon.tech/api/v2";

export interface NeonTiming {
  /** Between two looks at a running operation, and between retries of a 423. */
  pollMs: number;
  /** How long Neon may take to finish what it was asked (create, restore, delete). */
  waitMs: number;
  /** One HTTP request's timeout. */
  requestMs: number;
}

const DEFAULT_TIMING: NeonTiming = { pollMs: 1_000, waitMs: 120_000, requestMs: 30_000 };

/** What every call needs: a key, the project, and how to talk about the key when Neon refuses it. */
export interface NeonAccess {
  apiKey: string;
  /** Default {@link NEON_API_URL}. */
  baseUrl?: string;
  /** The Neon project ID (`database.neon.project`), e.g. `proud-fog-123456`. */
  project: string;
  /**
   * What to do when Neon refuses the key (401, 403), said to the user after Neon's own
   * message: the caller knows where the key came from, e.g. "Set a valid key with
   * `fly-preview secrets set acme/web NEON_API_KEY`."
   */
  keyHelp?: string;
  timing?: Partial<NeonTiming>;
}

export interface NeonBranchRequest extends NeonAccess {
  /** {@link neonBranchName} of the pull request. */
  name: string;
  /** The branch to copy (`database.neon.parent`); default the project's default branch. */
  parent?: string;
  /** Copy the parent's schema without its rows: a fork's preview (Neon's `init_source: schema-only`). */
  schemaOnly: boolean;
}

export interface NeonBranch {
  branchId: string;
  name: string;
  /** The name of the branch it was copied from. */
  parent: string;
  schemaOnly: boolean;
  /** Pooled connection URI of the branch's database. A secret: stage it, never show it. */
  url: string;
  /** A branch was made by this call: its URL is new, so stage it again. */
  created: boolean;
}

/** The preview's branch of pull request `number`. */
export function neonBranchName(number: number): string {
  if (!Number.isSafeInteger(number) || number < 1) throw new RangeError(`not a pull request number: ${number}`);
  return `preview/pr-${number}`;
}

/**
 * The preview's branch, ready to connect to. A branch of that name that fly-preview made is
 * reused (a push, or a run that died after creating it), after waiting for its unfinished
 * operations; one it did not make is refused, never adopted (see `madeByUs`); otherwise
 * it is copied from `parent` with a read-write compute. One exception: a fork's preview
 * (`schemaOnly`) never reuses a branch that holds the parent's rows (say, one made before
 * `forks: trusted` was dropped): that branch is deleted and made anew, schema only.
 */
export async function ensureNeonBranch(request: NeonBranchRequest): Promise<NeonBranch> {
  const neon = new NeonSession(request);
  const listing = await neon.listBranches();
  const existing = named(listing.branches, request.name);
  if (existing) neon.refuseForeign(existing, listing);
  if (existing && !(request.schemaOnly && !isSchemaOnly(existing))) {
    await neon.waitForBranch(existing);
    return neon.describe(existing, neon.parentNameOf(existing, listing, request.parent), false);
  }
  if (existing) await neon.deleteBranch(existing, listing.branches);
  const parent = neon.parentFor(listing.branches, request.parent);
  const made = await neon.createBranch(request.name, parent, request.schemaOnly);
  return neon.describe(made, parent.name, true);
}

/**
 * Deletes the preview's branch (every branch of that name fly-preview made), waiting until
 * Neon is done. A branch of that name someone else made is left as it is: "absent".
 */
export async function deleteNeonBranch(request: NeonAccess & { name: string }): Promise<"deleted" | "absent"> {
  const neon = new NeonSession(request);
  const listing = await neon.listBranches();
  const ours = listing.branches.filter((branch) => branch.name === request.name && madeByUs(listing, branch));
  if (ours.length === 0) return "absent";
  for (const branch of ours) await neon.deleteBranch(branch, listing.branches);
  return "deleted";
}

/**
 * Puts the parent's current state back into the preview's branch (`/preview reset-db`). A
 * copy is restored from its parent with Neon's branch restore: same branch, same URL. A
 * fork's branch (`schemaOnly`; by default, whatever the branch is) is deleted and made anew
 * from the parent's schema, since restoring a schema-only branch copies the parent's rows;
 * so is a schema-only branch that should now hold data (`schemaOnly: false`, the
 * repository trusting forks since), as a copy. Either way its URL changes (`created`), so
 * the caller stages it again.
 */
export async function resetNeonBranch(
  request: NeonAccess & { name: string; parent?: string; schemaOnly?: boolean },
): Promise<NeonBranch> {
  const neon = new NeonSession(request);
  const listing = await neon.listBranches();
  const branch = named(listing.branches, request.name);
  if (!branch) {
    throw new DatabaseError(
      `Neon project ${request.project} has no branch ${request.name} to reset: the preview's next deploy creates it.`,
      false,
    );
  }
  neon.refuseForeign(branch, listing);
  neon.refuseChildren(branch, listing.branches, "reset");
  const schemaOnly = request.schemaOnly ?? isSchemaOnly(branch);
  if (schemaOnly || isSchemaOnly(branch)) {
    const parent = neon.parentFor(listing.branches, request.parent ?? annotatedParent(listing.annotations, branch));
    await neon.deleteBranch(branch, listing.branches);
    const made = await neon.createBranch(request.name, parent, schemaOnly);
    return neon.describe(made, parent.name, true);
  }
  const parentName = neon.parentNameOf(branch, listing, request.parent);
  await neon.restoreFromParent(branch, parentName);
  return neon.describe(branch, parentName, false);
}

type Listing = { branches: Branch[]; annotations: Record<string, AnnotationData> };

/** What a 404 means to the call that met it. */
type NotFound = "project" | "vanished" | "absent";

const ANNOTATION_BY = "fly-preview";
const ANNOTATION_PARENT = "fly-preview-parent";
const PAGE = 100;
const PROJECT_ID = /^[a-z0-9-]{1,60}$/;
const DONE: ReadonlySet<string> = new Set([OperationStatus.Finished, OperationStatus.Skipped]);
const FAILED: ReadonlySet<string> = new Set([
  OperationStatus.Failed,
  OperationStatus.Error,
  OperationStatus.Cancelling,
  OperationStatus.Cancelled,
]);

function named(branches: readonly Branch[], name: string): Branch | undefined {
  // Listed oldest first: if a race ever made two, the older one is the preview's.
  return branches.find((branch) => branch.name === name);
}

/** A root branch (no parent): Neon cannot reset it from a parent, and restoring it copies rows. */
function isSchemaOnly(branch: Branch): boolean {
  return branch.init_source === "schema-only" || !branch.parent_id;
}

/**
 * Whether fly-preview made the branch: every branch it makes carries its annotation. One of
 * the preview's name without it (made by hand, or by another tool) is never adopted, reset
 * or deleted: it may hold someone's data.
 */
function madeByUs(listing: Listing, branch: Branch): boolean {
  return listing.annotations[branch.id]?.value?.[ANNOTATION_BY] !== undefined;
}

function annotatedParent(annotations: Record<string, AnnotationData>, branch: Branch): string | undefined {
  return annotations[branch.id]?.value?.[ANNOTATION_PARENT];
}

/** One driver call: the client, the project, and the words for Neon's refusals. */
class NeonSession {
  private readonly client: ReturnType<typeof createApiClient>;
  private readonly timing: NeonTiming;
  private readonly project: string;

  constructor(private readonly access: NeonAccess) {
    this.project = access.project;
    this.timing = { ...DEFAULT_TIMING, ...access.timing };
    if (!PROJECT_ID.test(access.project)) {
      throw new DatabaseError(
        `"${access.project}" is not a Neon project ID (database.neon.project in .preview.yml): ` +
          "an ID is lowercase letters, digits and dashes, like proud-fog-123456 (Neon Console → Settings).",
        false,
      );
    }
    if (!access.apiKey) throw new DatabaseError(`No Neon API key for project ${access.project}. ${this.keyHelp}`, false);
    this.client = createApiClient({
      apiKey: access.apiKey,
      baseURL: access.baseUrl ?? NEON_API_URL,
      timeout: this.timing.requestMs,
    });
  }

  private get keyHelp(): string {
    return this.access.keyHelp ?? "Create an API key in the Neon Console (Account settings → API keys) and give fly-preview the new key.";
  }

  /** Every branch of the project (not deleted ones), oldest first, with their annotations. */
  async listBranches(): Promise<Listing> {
    const listing: Listing = { branches: [], annotations: {} };
    let cursor: string | undefined;
    // Cursor pagination as Neon's reference describes it; the bound only guards a cursor that never ends.
    for (let page = 0; page < 1_000; page++) {
      const data = await this.call(`list the branches of project ${this.project}`, "project", () =>
        this.client.listProjectBranches({ projectId: this.project, limit: PAGE, cursor, sort_by: "created_at", sort_order: "asc" }),
      );
      listing.branches.push(...data.branches);
      Object.assign(listing.annotations, data.annotations);
      cursor = data.pagination?.next;
      if (!cursor || data.branches.length < PAGE) break;
    }
    return listing;
  }

  /** The branch named `name`, or the project's default branch. */
  parentFor(branches: readonly Branch[], name: string | undefined): Branch {
    const parent = name === undefined ? branches.find((branch) => branch.default) : named(branches, name);
    if (parent) return parent;
    throw new DatabaseError(
      name === undefined
        ? `Neon project ${this.project} lists no default branch to copy: name one as database.neon.parent in .preview.yml.`
        : `Neon project ${this.project} has no branch named ${name} to copy (database.neon.parent in .preview.yml): ` +
            `name one of its branches${branches.length > 0 ? ` (${branches.slice(0, 5).map((b) => b.name).join(", ")})` : ""}.`,
      false,
    );
  }

  /** Where `branch` was copied from: its parent, or for a root (schema-only) branch the parent recorded when it was made. */
  parentNameOf(branch: Branch, listing: Listing, configured: string | undefined): string {
    const parent = branch.parent_id ? listing.branches.find((other) => other.id === branch.parent_id) : undefined;
    return (
      parent?.name ??
      annotatedParent(listing.annotations, branch) ??
      configured ??
      listing.branches.find((other) => other.default)?.name ??
      "(unknown)"
    );
  }

  async createBranch(name: string, parent: Branch, schemaOnly: boolean): Promise<Branch> {
    const doing = `create the branch ${name}`;
    const made = await this.call(doing, "vanished", () =>
      this.client.createProjectBranch(this.project, {
        branch: { name, parent_id: parent.id, ...(schemaOnly ? { init_source: "schema-only" } : {}) },
        endpoints: [{ type: EndpointType.ReadWrite }],
        // What fly-preview made, and (for a root branch, which has no parent) what it copied.
        annotation_value: { [ANNOTATION_BY]: "true", [ANNOTATION_PARENT]: parent.name },
      }),
    );
    await this.waitFor(made.operations, doing);
    return made.branch;
  }

  async deleteBranch(branch: Branch, branches: readonly Branch[]): Promise<void> {
    this.refuseChildren(branch, branches, "delete");
    const doing = `delete the branch ${branch.name}`;
    const deleted = await this.callOrAbsent(doing, () =>
      this.client.deleteProjectBranch({ projectId: this.project, branchId: branch.id }),
    );
    // Until its operations finish, Neon still counts the branch (and refuses a new one of the project).
    if (deleted) await this.waitFor(deleted.operations, doing);
  }

  async restoreFromParent(branch: Branch, parentName: string): Promise<void> {
    const doing = `reset the branch ${branch.name} from its parent ${parentName}`;
    const restored = await this.call(doing, "vanished", () =>
      // Restoring from another branch needs no preserve_under_name once children are refused.
      this.client.restoreProjectBranch(this.project, branch.id, { source_branch_id: branch.parent_id! }),
    );
    await this.waitFor(restored.operations, doing);
  }

  refuseForeign(branch: Branch, listing: Listing): void {
    if (madeByUs(listing, branch)) return;
    throw new DatabaseError(
      `Neon project ${this.project} already has a branch named ${branch.name} that fly-preview did not make, and fly-preview ` +
        "never uses, resets or deletes a branch it did not make: rename or delete that branch in the Neon Console, then push again.",
      false,
    );
  }

  refuseChildren(branch: Branch, branches: readonly Branch[], verb: "delete" | "reset"): void {
    const children = branches.filter((other) => other.parent_id === branch.id).map((other) => other.name);
    if (children.length === 0) return;
    throw new DatabaseError(
      `Neon cannot ${verb} the branch ${branch.name} while branches copied from it exist (${children.join(", ")}): ` +
        `delete them in the Neon Console (project ${this.project}), then try again.`,
      false,
    );
  }

  /** A reused branch may still be coming up (its run died while Neon worked): wait for its operations. */
  async waitForBranch(branch: Branch): Promise<void> {
    const { operations } = await this.call(`list the operations of project ${this.project}`, "project", () =>
      this.client.listProjectOperations({ projectId: this.project, limit: PAGE }),
    );
    await this.waitFor(
      operations.filter((operation) => operation.branch_id === branch.id),
      `finish preparing the branch ${branch.name}`,
    );
  }

  /** The branch as the preview sees it: a read-write compute, its database, the pooled URI. */
  async describe(branch: Branch, parent: string, created: boolean): Promise<NeonBranch> {
    const { endpoints } = await this.call(`list the computes of ${branch.name}`, "vanished", () =>
      this.client.listProjectBranchEndpoints(this.project, branch.id),
    );
    if (!endpoints.some((endpoint) => endpoint.type === EndpointType.ReadWrite)) {
      const doing = `add a read-write compute to ${branch.name}`;
      const added = await this.call(doing, "vanished", () =>
        this.client.createProjectEndpoint(this.project, { endpoint: { branch_id: branch.id, type: EndpointType.ReadWrite } }),
      );
      await this.waitFor(added.operations, doing);
    }
    const { databases } = await this.call(`list the databases of ${branch.name}`, "vanished", () =>
      this.client.listProjectBranchDatabases(this.project, branch.id),
    );
    const database = pickDatabase(databases);
    if (!database) {
      throw new DatabaseError(
        `The Neon branch ${branch.name} has no database: create one on its parent ${parent}, then reset the preview's database.`,
        false,
      );
    }
    const { uri } = await this.call(`get the connection URI of ${branch.name}`, "vanished", () =>
      this.client.getConnectionUri({
        projectId: this.project,
        branch_id: branch.id,
        database_name: database.name,
        role_name: database.owner_name,
        pooled: true,
      }),
    );
    return { branchId: branch.id, name: branch.name, parent, schemaOnly: isSchemaOnly(branch), url: uri, created };
  }

  /** Follows `operations` until each has finished; Neon failing one, or taking too long, is transient. */
  async waitFor(operations: readonly Operation[] | undefined, doing: string): Promise<void> {
    const deadline = Date.now() + this.timing.waitMs;
    for (const operation of operations ?? []) {
      let current = operation;
      while (!DONE.has(current.status)) {
        if (FAILED.has(current.status)) {
          const why = current.error ? `: ${this.redact(current.error)}` : "";
          throw new DatabaseError(`Neon could not ${doing}: its operation ${current.action} ended ${current.status}${why}.`, true);
        }
        if (Date.now() >= deadline) {
          throw new DatabaseError(
            `Neon had not finished to ${doing} after ${Math.round(this.timing.waitMs / 1000)} s (operation ${current.action} is ${current.status}).`,
            true,
          );
        }
        await sleep(this.timing.pollMs);
        ({ operation: current } = await this.call(`follow Neon's operation ${operation.action}`, "vanished", () =>
          this.client.getProjectOperation(this.project, operation.id),
        ));
      }
    }
  }

  async call<T>(doing: string, notFound: "project" | "vanished", send: () => Promise<{ data: T }>): Promise<T> {
    const answer = await this.send(doing, notFound, send);
    return answer.data as T;
  }

  /** `undefined` when Neon has no such thing (404; 204 from a delete of a branch already gone). */
  async callOrAbsent<T>(doing: string, send: () => Promise<{ data: T; status: number }>): Promise<T | undefined> {
    const answer = await this.send(doing, "absent", send);
    return answer.status === 204 || answer.status === 404 ? undefined : (answer.data as T);
  }

  /** Sends, retrying while Neon says the project is busy (423: always safe to retry, says its reference). */
  private async send<T>(doing: string, notFound: NotFound, send: () => Promise<{ data: T; status?: number }>) {
    const deadline = Date.now() + this.timing.waitMs;
    for (;;) {
      try {
        const answer = await send();
        return { data: answer.data, status: answer.status ?? 200 };
      } catch (error) {
        const status = httpStatus(error);
        if (status === 423 && Date.now() < deadline) {
          await sleep(this.timing.pollMs);
          continue;
        }
        if (status === 404 && notFound === "absent") return { data: undefined, status: 404 };
        // Never rethrow the client's error: its request config carries the key.
        throw this.refusal(error, doing, notFound);
      }
    }
  }

  private refusal(error: unknown, doing: string, notFound: NotFound): DatabaseError {
    if (!isHttpError(error)) {
      const message = error instanceof Error ? error.message : String(error);
      return new DatabaseError(`Unexpected failure while trying to ${doing}: ${this.redact(message)}.`, false);
    }
    const status = error.response?.status;
    if (status === undefined) {
      return new DatabaseError(`Neon's API could not be reached to ${doing} (${error.code ?? "no answer"}).`, true);
    }
    const { code, message } = neonError(error.response?.data);
    const said = `Neon answered HTTP ${status}${code ? ` ${code}` : ""}${message ? `: "${this.redact(message)}"` : ""}`;
    if (status >= 500 || status === 429 || status === 423 || status === 408) {
      return new DatabaseError(`Neon's API failed to ${doing} (${said}).`, true);
    }
    if (status === 401) return new DatabaseError(`Neon refused the API key (${said}). ${this.keyHelp}`, false);
    if (status === 403) {
      return new DatabaseError(`Neon refused this API key access to project ${this.project} (${said}). ${this.keyHelp}`, false);
    }
    if (status === 404 && notFound === "project") {
      return new DatabaseError(
        `Neon has no project ${this.project} that this API key can reach (${said}). ` +
          "Check database.neon.project in .preview.yml, and that the key belongs to the project's account or organization.",
        false,
      );
    }
    if (status === 404) {
      // A branch deleted by someone else in the middle of the run: the next attempt starts over.
      return new DatabaseError(`Neon no longer found what it needed to ${doing} (${said}).`, true);
    }
    if (code === "BRANCHES_LIMIT_EXCEEDED") {
      return new DatabaseError(
        `Neon refused to ${doing} (${said}): project ${this.project} has as many branches as its Neon plan allows. ` +
          "Delete branches it no longer needs in the Neon Console, or upgrade the plan, then push again.",
        false,
      );
    }
    if (code === "ROOT_BRANCHES_LIMIT_EXCEEDED") {
      return new DatabaseError(
        `Neon refused to ${doing} (${said}): project ${this.project} has as many root branches as its Neon plan allows, ` +
          "and a fork's schema-only branch is a root branch. Delete root branches it no longer needs in the Neon Console, " +
          "or upgrade the plan, then push again.",
        false,
      );
    }
    return new DatabaseError(`Neon refused to ${doing} (${said}).`, false);
  }

  /** Neon's words, without anything secret they might echo, and short enough for a check run. */
  private redact(text: string): string {
    let out = text.replace(/postgres(?:ql)?:\/\/\S+/gi, "postgresql://…").replace(/npg_\w+/g, "npg_…");
    if (this.access.apiKey) out = out.split(this.access.apiKey).join("…");
    return out.length > 300 ? `${out.slice(0, 300)}…` : out;
  }
}

/** The database a preview connects to: the only one, else `neondb` (Neon's default), else the oldest. */
function pickDatabase(databases: readonly Database[]): Database | undefined {
  if (databases.length <= 1) return databases[0];
  return databases.find((database) => database.name === "neondb") ?? [...databases].sort((a, b) => a.id - b.id)[0];
}

/** The shape of the client's (axios's) errors, read without importing axios. */
interface HttpError {
  isAxiosError: true;
  code?: string;
  response?: { status?: number; data?: unknown };
}

function isHttpError(error: unknown): error is HttpError {
  return typeof error === "object" && error !== null && (error as { isAxiosError?: unknown }).isAxiosError === true;
}

function httpStatus(error: unknown): number | undefined {
  return isHttpError(error) ? error.response?.status : undefined;
}

function neonError(data: unknown): { code: string; message: string } {
  if (typeof data === "object" && data !== null) {
    const { code, message } = data as { code?: unknown; message?: unknown };
    return { code: typeof code === "string" ? code : "", message: typeof message === "string" ? message : "" };
  }
  // A proxy's HTML page, say: its first words are enough.
  if (typeof data === "string") return { code: "", message: data.replace(/\s+/g, " ").trim().slice(0, 120) };
  return { code: "", message: "" };
}

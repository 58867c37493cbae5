// A stateful fake of the parts of Neon's API (v2) that src/database/neon.ts calls, on a
// local node:http server: base URL `${fake.url}` (http://127.0.0.1:PORT/api/v2).
//
// Reference followed, rule by rule:
// - Neon's OpenAPI document as shipped in @neondatabase/api-client 2.7.3
//   (node_modules/@neondatabase/api-client/public-v2-for-users.gen.yaml): the paths,
//   request and response shapes, `{ code, message }` errors, Bearer keys, "Create branch"
//   (optional body, one read-write endpoint per branch, `init_source`, operations,
//   `connection_uris` only when the parent has one database and one role), "Delete branch"
//   (not the default/root branch, not one with children, 204 when already gone), "Restore
//   branch" (`source_branch_id` required; the branch itself needs a timestamp or LSN;
//   `preserve_under_name` required when the branch has children), "Retrieve connection
//   URI" (`database_name` and `role_name` required, `pooled=true` adds `-pooler`), cursor
//   pagination, and the GeneralError note that 423 Locked is always safe to retry.
// - Neon's guides "Schema-only branches" (a schema-only branch is a root branch with no
//   parent; restoring it copies the source's rows; root branches have their own
//   allowance) and "Reset from parent" (restore with the parent as `source_branch_id`;
//   connection details do not change).
// - Answers users recorded from the real API: 422 `{"code":"BRANCHES_LIMIT_EXCEEDED",
//   "message":"branches limit exceeded"}`, `ROOT_BRANCHES_LIMIT_EXCEEDED` "root branches
//   limit exceeded", 423 "project already has running conflicting operations, scheduling
//   of new ones is prohibited", a project-scoped key's 404 "not allowed to perform actions
//   outside the project this key is scoped to".
// Where the reference names a refusal but not its words (a bad key's 401, an unknown
// project's 404, deleting a branch with children, bad JSON), the status follows the
// reference and the message is this fake's own, marked "(words: fake)" below: the driver
// must quote whatever Neon says, never match on it.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface RecordedRequest {
  method: string;
  /** Without the /api/v2 prefix and the query: "/projects/p/branches". */
  path: string;
  query: Record<string, string>;
  body: any;
  /** The Bearer token sent, if any. */
  apiKey: string | null;
  at: number;
}

export interface FakeEndpoint {
  id: string;
  branchId: string;
  type: "read_write" | "read_only";
  host: string;
  createdAt: string;
}

export interface FakeBranch {
  id: string;
  name: string;
  projectId: string;
  /** Absent on root branches: the project's first and every schema-only branch. */
  parentId?: string;
  initSource: "parent-data" | "schema-only";
  default: boolean;
  /** The branch the project was created with: never deletable. */
  projectRoot: boolean;
  /** The schema, table names: what a schema-only branch copies. */
  tables: string[];
  /** The data, one string per row: what only a copy with data gets. */
  rows: string[];
  databases: Array<{ id: number; name: string; owner: string }>;
  roles: Array<{ name: string; password: string }>;
  endpoints: FakeEndpoint[];
  annotation?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  parentLsn?: string;
  lastResetAt?: string;
  /** Set by a delete: the branch is gone from every answer. */
  deletedAt?: number;
  seq: number;
}

interface FakeOperation {
  id: string;
  projectId: string;
  branchId?: string;
  endpointId?: string;
  action: string;
  createdAt: string;
  finishAt: number;
  outcome: "finished" | "failed";
}

interface FakeProject {
  id: string;
  branches: FakeBranch[];
  operations: FakeOperation[];
}

export interface FakeNeon {
  /** The base URL to give the driver: http://127.0.0.1:PORT/api/v2. */
  url: string;
  requests: RecordedRequest[];
  /** The plan's allowances: every live branch, and root branches (the first and schema-only ones). */
  limits: { branches: number; rootBranches: number };
  /** How long each operation runs before it finishes. */
  operationMs: number;
  /** A key Neon accepts; with `project`, a project-scoped key. */
  addKey(key: string, scope?: { project: string }): void;
  /** A project with its default (root) branch holding one database `neondb` owned by `neondb_owner`. */
  addProject(id: string, seed?: { defaultBranch?: string; tables?: string[]; rows?: string[] }): FakeBranch;
  /** A ready branch copied from `parent` (default: the default branch), with a read-write endpoint. */
  addBranch(project: string, name: string, seed?: { parent?: string }): FakeBranch;
  /** A database (owned by `owner`, a role made if new) on an existing branch. */
  addDatabase(project: string, branch: string, name: string, owner: string): void;
  /** The live branch of that name. */
  branch(project: string, name: string): FakeBranch | undefined;
  /** Every live branch of the project. */
  branches(project: string): FakeBranch[];
  /** The application writes a row to the branch. */
  write(project: string, branch: string, row: string): void;
  /** A migration adds a table to the branch. */
  addTable(project: string, branch: string, table: string): void;
  /** Something else keeps the project busy (an operation of its default branch) for `ms`. */
  busy(project: string, ms: number): void;
  /** Operations not finished yet. */
  runningOperations(project: string): number;
  /** The next operation Neon starts ends `failed`. */
  failNextOperation(): void;
  /** Every role password the fake has handed out: secrets a test checks never leak. */
  passwords(): string[];
  /**
   * The next `count` requests matching method and path prefix (without /api/v2) answer
   * `status` with `body` (default `{ code: "", message }`); status 0 drops the connection.
   */
  failNext(method: string, pathPrefix: string, status: number, body?: unknown, count?: number): void;
  /** The next `count` requests matching method and path prefix answer `ms` late. */
  delayNext(method: string, pathPrefix: string, ms: number, count?: number): void;
  close(): Promise<void>;
}

const ID = /^[a-z0-9-]{1,60}$/;
const REGION = "us-east-2.aws.neon.tech";
const BUSY_MESSAGE = "project already has running conflicting operations, scheduling of new ones is prohibited";

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "",
  ) {
    super(message);
  }
}

export async function startFakeNeon(options: { keys?: string[]; operationMs?: number } = {}): Promise<FakeNeon> {
  const projects = new Map<string, FakeProject>();
  const keys = new Map<string, { project?: string }>((options.keys ?? []).map((key) => [key, {}]));
  const requests: RecordedRequest[] = [];
  const failures: Array<{ method: string; prefix: string; status: number; body?: unknown; count: number }> = [];
  const delays: Array<{ method: string; prefix: string; ms: number; count: number }> = [];
  let seq = 0;
  let failOperation = false;

  const fake = {
    url: "",
    requests,
    limits: { branches: 10, rootBranches: 3 },
    operationMs: options.operationMs ?? 30,
  };

  const now = () => new Date().toISOString();
  const nextId = (prefix: string) => `${prefix}-fake-${String(++seq).padStart(6, "0")}`;
  const password = () => `npg_${randomBytes(9).toString("hex")}`;

  function project(id: string): FakeProject {
    const found = projects.get(id);
    if (!found) throw new Error(`fake Neon: no project ${id}`);
    return found;
  }
  const live = (p: FakeProject) => p.branches.filter((branch) => branch.deletedAt === undefined);
  const byName = (p: FakeProject, name: string) => live(p).find((branch) => branch.name === name);
  const byId = (p: FakeProject, id: string) => live(p).find((branch) => branch.id === id);
  const defaultBranch = (p: FakeProject) => live(p).find((branch) => branch.default)!;

  function status(operation: FakeOperation): string {
    return Date.now() < operation.finishAt ? "running" : operation.outcome;
  }
  const running = (p: FakeProject) => p.operations.filter((operation) => status(operation) === "running");
  const finishedAt = (p: FakeProject, branch: FakeBranch) =>
    Math.max(0, ...p.operations.filter((operation) => operation.branchId === branch.id).map((operation) => operation.finishAt));

  function startOperation(p: FakeProject, action: string, branchId?: string, endpointId?: string): FakeOperation {
    const operation: FakeOperation = {
      id: randomUUID(),
      projectId: p.id,
      branchId,
      endpointId,
      action,
      createdAt: now(),
      finishAt: Date.now() + fake.operationMs,
      outcome: failOperation ? "failed" : "finished",
    };
    failOperation = false;
    p.operations.push(operation);
    return operation;
  }

  function makeEndpoint(branch: FakeBranch, type: "read_write" | "read_only"): FakeEndpoint {
    const id = nextId("ep");
    const endpoint = { id, branchId: branch.id, type, host: `${id}.${REGION}`, createdAt: now() };
    branch.endpoints.push(endpoint);
    return endpoint;
  }

  function makeBranch(p: FakeProject, name: string, from: FakeBranch | undefined, schemaOnly: boolean): FakeBranch {
    const at = now();
    const branch: FakeBranch = {
      id: nextId("br"),
      name,
      projectId: p.id,
      // Schema-only branches are root branches: parent_id names only the schema's donor.
      parentId: from && !schemaOnly ? from.id : undefined,
      initSource: schemaOnly ? "schema-only" : "parent-data",
      default: false,
      projectRoot: false,
      tables: [...(from?.tables ?? [])],
      rows: schemaOnly ? [] : [...(from?.rows ?? [])],
      databases: (from?.databases ?? []).map((database) => ({ ...database })),
      roles: (from?.roles ?? []).map((role) => ({ ...role })),
      endpoints: [],
      createdAt: at,
      updatedAt: at,
      parentLsn: from && !schemaOnly ? `0/${(++seq).toString(16).toUpperCase()}` : undefined,
      seq: ++seq,
    };
    p.branches.push(branch);
    return branch;
  }

  // ---- JSON shapes, as the reference's schemas name them ----

  function branchJson(p: FakeProject, branch: FakeBranch) {
    const busy = Date.now() < finishedAt(p, branch);
    return {
      id: branch.id,
      project_id: p.id,
      ...(branch.parentId ? { parent_id: branch.parentId, parent_lsn: branch.parentLsn } : {}),
      name: branch.name,
      current_state: busy ? "init" : "ready",
      ...(busy ? { pending_state: "ready" } : {}),
      state_changed_at: branch.updatedAt,
      creation_source: "console",
      primary: branch.default,
      default: branch.default,
      protected: false,
      cpu_used_sec: 0,
      compute_time_seconds: 0,
      active_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      created_at: branch.createdAt,
      updated_at: branch.updatedAt,
      init_source: branch.initSource,
      ...(branch.lastResetAt ? { last_reset_at: branch.lastResetAt } : {}),
    };
  }

  function endpointJson(p: FakeProject, endpoint: FakeEndpoint) {
    const busy = p.operations.some((operation) => operation.endpointId === endpoint.id && status(operation) === "running");
    return {
      host: endpoint.host,
      id: endpoint.id,
      project_id: p.id,
      branch_id: endpoint.branchId,
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 2,
      region_id: "aws-us-east-2",
      type: endpoint.type,
      current_state: busy ? "init" : "active",
      ...(busy ? { pending_state: "active" } : {}),
      settings: {},
      pooler_enabled: false,
      pooler_mode: "transaction",
      disabled: false,
      passwordless_access: true,
      creation_source: "console",
      created_at: endpoint.createdAt,
      updated_at: endpoint.createdAt,
      proxy_host: REGION,
      suspend_timeout_seconds: 0,
      provisioner: "k8s-neonvm",
    };
  }

  function operationJson(operation: FakeOperation) {
    return {
      id: operation.id,
      project_id: operation.projectId,
      ...(operation.branchId ? { branch_id: operation.branchId } : {}),
      ...(operation.endpointId ? { endpoint_id: operation.endpointId } : {}),
      action: operation.action,
      status: status(operation),
      failures_count: operation.outcome === "failed" && status(operation) === "failed" ? 1 : 0,
      created_at: operation.createdAt,
      updated_at: operation.createdAt,
      total_duration_ms: fake.operationMs,
    };
  }

  const databaseJson = (branch: FakeBranch, database: FakeBranch["databases"][number]) => ({
    id: database.id,
    branch_id: branch.id,
    name: database.name,
    owner_name: database.owner,
    created_at: branch.createdAt,
    updated_at: branch.createdAt,
  });

  const roleJson = (branch: FakeBranch, role: FakeBranch["roles"][number]) => ({
    branch_id: branch.id,
    name: role.name,
    protected: false,
    created_at: branch.createdAt,
    updated_at: branch.createdAt,
  });

  const annotationJson = (branch: FakeBranch) => ({
    object: { type: "console/branch", id: branch.id },
    value: branch.annotation,
    created_at: branch.createdAt,
    updated_at: branch.createdAt,
  });

  function connectionUri(endpoint: FakeEndpoint, database: string, role: { name: string; password: string }, pooled: boolean) {
    // The pooler is the endpoint's host with -pooler on its first label (ep-…-pooler.region…).
    const host = pooled ? endpoint.host.replace(/^([^.]+)/, "$1-pooler") : endpoint.host;
    const user = encodeURIComponent(role.name);
    return `postgresql://${user}:${encodeURIComponent(role.password)}@${host}/${encodeURIComponent(database)}?sslmode=require&channel_binding=require`;
  }

  // ---- the rules of each endpoint ----

  /** Refuses a change while another of the project's operations runs, as Neon does (423). */
  function refuseWhileBusy(p: FakeProject) {
    if (running(p).length > 0) throw new Refusal(423, BUSY_MESSAGE);
  }

  function liveBranch(p: FakeProject, id: string): FakeBranch {
    const branch = byId(p, id);
    if (!branch) throw new Refusal(404, "branch not found"); // (words: fake)
    return branch;
  }

  function listBranches(p: FakeProject, query: URLSearchParams) {
    const search = query.get("search") ?? "";
    const sortBy = query.get("sort_by") ?? "updated_at";
    const sortOrder = query.get("sort_order") ?? "desc";
    if (!["name", "created_at", "updated_at"].includes(sortBy) || !["asc", "desc"].includes(sortOrder)) {
      throw new Refusal(400, "invalid sort parameters"); // (words: fake)
    }
    const limitText = query.get("limit");
    const limit = limitText === null ? undefined : Number(limitText);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 10_000)) {
      throw new Refusal(400, "limit must be between 1 and 10000"); // (words: fake)
    }
    const key = (branch: FakeBranch) => (sortBy === "name" ? branch.name : String(branch.seq).padStart(12, "0"));
    const sorted = live(p)
      .filter((branch) => branch.name.includes(search) || branch.id.includes(search))
      .sort((a, b) => key(a).localeCompare(key(b)) * (sortOrder === "asc" ? 1 : -1));
    const cursor = query.get("cursor");
    const start = cursor ? Number(Buffer.from(cursor, "base64url").toString()) : 0;
    const page = limit === undefined ? sorted.slice(start) : sorted.slice(start, start + limit);
    const more = limit !== undefined && start + limit < sorted.length;
    return {
      branches: page.map((branch) => branchJson(p, branch)),
      annotations: Object.fromEntries(page.filter((b) => b.annotation).map((b) => [b.id, annotationJson(b)])),
      pagination: {
        ...(more ? { next: Buffer.from(String(start + limit!)).toString("base64url") } : {}),
        sort_by: sortBy,
        sort_order: sortOrder.toUpperCase(),
      },
    };
  }

  function createBranch(p: FakeProject, body: any) {
    const request = body ?? {};
    if (typeof request !== "object" || Array.isArray(request)) throw new Refusal(400, "request body must be an object"); // (words: fake)
    const spec = request.branch ?? {};
    if (spec.name !== undefined && (typeof spec.name !== "string" || spec.name.length < 1 || spec.name.length > 256)) {
      throw new Refusal(400, "branch name must be 1 to 256 characters"); // (words: fake)
    }
    const initSource = spec.init_source ?? "parent-data";
    if (initSource !== "parent-data" && initSource !== "schema-only") {
      throw new Refusal(400, `invalid init_source: ${String(initSource)}`); // (words: fake)
    }
    const endpoints: any[] = request.endpoints ?? [];
    if (!Array.isArray(endpoints) || endpoints.some((e) => e?.type !== "read_write" && e?.type !== "read_only")) {
      throw new Refusal(400, "endpoint type must be read_write or read_only"); // (words: fake)
    }
    if (endpoints.filter((e) => e.type === "read_write").length > 1) {
      throw new Refusal(400, "a branch can have only one read_write endpoint"); // (words: fake)
    }
    const annotation = request.annotation_value;
    if (annotation !== undefined && (typeof annotation !== "object" || Object.values(annotation).some((v) => typeof v !== "string"))) {
      throw new Refusal(400, "annotation values must be strings"); // (words: fake)
    }
    const parent = spec.parent_id ? liveBranch(p, spec.parent_id) : defaultBranch(p);
    refuseWhileBusy(p);
    const counted = live(p);
    if (counted.length >= fake.limits.branches) throw new Refusal(422, "branches limit exceeded", "BRANCHES_LIMIT_EXCEEDED");
    if (initSource === "schema-only" && counted.filter((b) => !b.parentId).length >= fake.limits.rootBranches) {
      throw new Refusal(422, "root branches limit exceeded", "ROOT_BRANCHES_LIMIT_EXCEEDED");
    }
    const branch = makeBranch(p, spec.name ?? `br-${randomBytes(3).toString("hex")}`, parent, initSource === "schema-only");
    if (annotation) branch.annotation = { ...annotation };
    const operations = [startOperation(p, "create_branch", branch.id)];
    for (const wanted of endpoints) {
      const endpoint = makeEndpoint(branch, wanted.type);
      operations.push(startOperation(p, "start_compute", branch.id, endpoint.id));
    }
    const rw = branch.endpoints.find((e) => e.type === "read_write");
    // "When creating a branch from a parent with more than one role or database, the response body does not include a connection URI."
    const single = branch.databases.length === 1 && branch.roles.length === 1;
    return {
      branch: branchJson(p, branch),
      endpoints: branch.endpoints.map((e) => endpointJson(p, e)),
      operations: operations.map(operationJson),
      roles: branch.roles.map((role) => roleJson(branch, role)),
      databases: branch.databases.map((database) => databaseJson(branch, database)),
      ...(rw && single
        ? {
            connection_uris: [
              {
                connection_uri: connectionUri(rw, branch.databases[0].name, branch.roles[0], false),
                connection_parameters: {
                  database: branch.databases[0].name,
                  password: branch.roles[0].password,
                  role: branch.roles[0].name,
                  host: rw.host,
                  pooler_host: rw.host.replace(/^([^.]+)/, "$1-pooler"),
                },
              },
            ],
          }
        : {}),
    };
  }

  function deleteBranch(p: FakeProject, id: string): { status: number; body?: unknown } {
    const branch = byId(p, id);
    // "Returned if the branch doesn't exist or has already been deleted."
    if (!branch) return { status: 204 };
    if (branch.default || branch.projectRoot) throw new Refusal(400, "cannot delete the project's root or default branch"); // (words: fake)
    if (live(p).some((other) => other.parentId === branch.id)) {
      throw new Refusal(400, "branch has children; delete them first"); // (words: fake)
    }
    refuseWhileBusy(p);
    const operations = branch.endpoints.map((endpoint) => startOperation(p, "suspend_compute", branch.id, endpoint.id));
    operations.push(startOperation(p, "delete_timeline", branch.id));
    const json = { ...branchJson(p, branch), pending_state: "storage_deleted" };
    branch.deletedAt = Date.now();
    return { status: 200, body: { branch: json, operations: operations.map(operationJson) } };
  }

  function restoreBranch(p: FakeProject, id: string, body: any) {
    const branch = liveBranch(p, id);
    if (typeof body !== "object" || body === null || typeof body.source_branch_id !== "string") {
      throw new Refusal(400, "source_branch_id is required"); // (words: fake)
    }
    const source = liveBranch(p, body.source_branch_id);
    if (source.id === branch.id && !body.source_lsn && !body.source_timestamp) {
      throw new Refusal(400, "source_timestamp or source_lsn is required to restore a branch to its own history"); // (words: fake)
    }
    const children = live(p).filter((other) => other.parentId === branch.id);
    if ((children.length > 0 || source.id === branch.id) && !body.preserve_under_name) {
      throw new Refusal(400, "preserve_under_name is required when the branch has children"); // (words: fake)
    }
    refuseWhileBusy(p);
    if (body.preserve_under_name) {
      const backup = makeBranch(p, body.preserve_under_name, branch, false);
      backup.parentId = branch.parentId;
      for (const child of children) child.parentId = backup.id;
    }
    // Restoring copies the source's schema and rows, whatever the branch was (a schema-only one included).
    branch.tables = [...source.tables];
    branch.rows = [...source.rows];
    branch.lastResetAt = branch.updatedAt = now();
    branch.parentLsn = `0/${(++seq).toString(16).toUpperCase()}`;
    const operations = [startOperation(p, "create_timeline", branch.id)];
    for (const endpoint of branch.endpoints) operations.push(startOperation(p, "start_compute", branch.id, endpoint.id));
    return { branch: branchJson(p, branch), operations: operations.map(operationJson) };
  }

  function createEndpoint(p: FakeProject, body: any) {
    const spec = body?.endpoint;
    if (!spec || typeof spec.branch_id !== "string" || (spec.type !== "read_write" && spec.type !== "read_only")) {
      throw new Refusal(400, "endpoint.branch_id and endpoint.type are required"); // (words: fake)
    }
    const branch = liveBranch(p, spec.branch_id);
    if (spec.type === "read_write" && branch.endpoints.some((e) => e.type === "read_write")) {
      throw new Refusal(400, "branch already has a read_write endpoint"); // (words: fake)
    }
    refuseWhileBusy(p);
    const endpoint = makeEndpoint(branch, spec.type);
    const operation = startOperation(p, "start_compute", branch.id, endpoint.id);
    return { endpoint: endpointJson(p, endpoint), operations: [operationJson(operation)] };
  }

  function getConnectionUri(p: FakeProject, query: URLSearchParams) {
    const databaseName = query.get("database_name");
    const roleName = query.get("role_name");
    if (!databaseName || !roleName) throw new Refusal(400, "database_name and role_name are required"); // (words: fake)
    const branch = query.get("branch_id") ? liveBranch(p, query.get("branch_id")!) : defaultBranch(p);
    const endpointId = query.get("endpoint_id");
    const endpoint = endpointId
      ? branch.endpoints.find((e) => e.id === endpointId)
      : branch.endpoints.find((e) => e.type === "read_write");
    if (!endpoint) throw new Refusal(404, "endpoint not found"); // (words: fake)
    if (!branch.databases.some((database) => database.name === databaseName)) throw new Refusal(404, "database not found"); // (words: fake)
    const role = branch.roles.find((r) => r.name === roleName);
    if (!role) throw new Refusal(404, "role not found"); // (words: fake)
    return { uri: connectionUri(endpoint, databaseName, role, query.get("pooled") === "true") };
  }

  function listOperations(p: FakeProject, query: URLSearchParams) {
    const limit = Number(query.get("limit") ?? 10);
    const newestFirst = [...p.operations].reverse();
    const start = Number(query.get("cursor") ?? 0);
    const page = newestFirst.slice(start, start + limit);
    return {
      operations: page.map(operationJson),
      ...(start + limit < newestFirst.length ? { pagination: { cursor: String(start + limit) } } : {}),
    };
  }

  function route(method: string, path: string, query: URLSearchParams, body: any, apiKey: string | null): { status: number; body?: unknown } {
    const key = apiKey === null ? undefined : keys.get(apiKey);
    if (!key) throw new Refusal(401, "authentication required"); // (words: fake)
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== "projects" || parts.length < 2) throw new Refusal(404, "not found"); // (words: fake)
    const projectId = parts[1];
    if (key.project !== undefined && key.project !== projectId) {
      throw new Refusal(404, "not allowed to perform actions outside the project this key is scoped to");
    }
    const p = ID.test(projectId) ? projects.get(projectId) : undefined;
    if (!p) throw new Refusal(404, "project not found"); // (words: fake)
    const rest = parts.slice(2).join("/");
    const ok = (json: unknown, status = 200) => ({ status, body: json });
    const branchId = parts[3];

    if (method === "GET" && rest === "") {
      return ok({ project: { id: p.id, name: p.id, region_id: "aws-us-east-2", platform_id: "aws", pg_version: 17, proxy_host: REGION } });
    }
    if (rest === "branches" && method === "GET") return ok(listBranches(p, query));
    if (rest === "branches" && method === "POST") return ok(createBranch(p, body), 201);
    if (parts[2] === "branches" && parts.length === 4) {
      if (method === "GET") {
        const branch = liveBranch(p, branchId);
        return ok({ branch: branchJson(p, branch), ...(branch.annotation ? { annotation: annotationJson(branch) } : {}) });
      }
      if (method === "DELETE") return deleteBranch(p, branchId);
    }
    if (parts[2] === "branches" && parts.length === 5) {
      const what = parts[4];
      if (method === "POST" && what === "restore") return ok(restoreBranch(p, branchId, body));
      if (method === "GET" && what === "endpoints") {
        return ok({ endpoints: liveBranch(p, branchId).endpoints.map((e) => endpointJson(p, e)) });
      }
      if (method === "GET" && what === "databases") {
        const branch = liveBranch(p, branchId);
        return ok({ databases: branch.databases.map((database) => databaseJson(branch, database)) });
      }
      if (method === "GET" && what === "roles") {
        const branch = liveBranch(p, branchId);
        return ok({ roles: branch.roles.map((role) => roleJson(branch, role)) });
      }
    }
    if (rest === "endpoints" && method === "POST") return ok(createEndpoint(p, body), 201);
    if (rest === "connection_uri" && method === "GET") return ok(getConnectionUri(p, query));
    if (rest === "operations" && method === "GET") return ok(listOperations(p, query));
    if (parts[2] === "operations" && parts.length === 4 && method === "GET") {
      const operation = p.operations.find((o) => o.id === parts[3]);
      if (!operation) throw new Refusal(404, "operation not found"); // (words: fake)
      return ok({ operation: operationJson(operation) });
    }
    throw new Refusal(404, "not found"); // (words: fake)
  }

  function takeMatching<T extends { method: string; prefix: string; count: number }>(list: T[], method: string, path: string): T | undefined {
    const index = list.findIndex((entry) => entry.method === method && path.startsWith(entry.prefix));
    if (index < 0) return undefined;
    const entry = list[index];
    if (--entry.count <= 0) list.splice(index, 1);
    return entry;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const path = url.pathname.startsWith("/api/v2") ? url.pathname.slice("/api/v2".length) : url.pathname;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    let body: any;
    let badJson = false;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      badJson = true;
      body = text;
    }
    requests.push({ method, path, query: Object.fromEntries(url.searchParams), body, apiKey: bearer?.[1] ?? null, at: Date.now() });

    const delay = takeMatching(delays, method, path);
    if (delay) await sleep(delay.ms);
    const failure = takeMatching(failures, method, path);
    if (failure?.status === 0) {
      req.socket.destroy();
      return;
    }
    const answer = (status: number, json?: unknown) => {
      if (json === undefined) {
        res.writeHead(status).end();
        return;
      }
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
    };
    if (failure) {
      answer(failure.status, failure.body ?? { code: "", message: `injected failure ${failure.status}` });
      return;
    }
    try {
      if (!url.pathname.startsWith("/api/v2/")) throw new Refusal(404, "not found"); // (words: fake)
      if (badJson) throw new Refusal(400, "request body is not valid JSON"); // (words: fake)
      const result = route(method, path, url.searchParams, body, bearer?.[1] ?? null);
      answer(result.status, result.body);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      answer(error.status, { request_id: randomUUID(), code: error.code, message: error.message });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "", message: `fake Neon crashed: ${String(error)}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2`;

  const seededBranch = (p: string, name: string) => {
    const branch = byName(project(p), name);
    if (!branch) throw new Error(`fake Neon: project ${p} has no branch ${name}`);
    return branch;
  };

  return Object.assign(fake, {
    addKey(key: string, scope?: { project: string }) {
      keys.set(key, { project: scope?.project });
    },
    addProject(id: string, seed: { defaultBranch?: string; tables?: string[]; rows?: string[] } = {}) {
      const p: FakeProject = { id, branches: [], operations: [] };
      projects.set(id, p);
      const root = makeBranch(p, seed.defaultBranch ?? "main", undefined, false);
      Object.assign(root, {
        default: true,
        projectRoot: true,
        tables: [...(seed.tables ?? [])],
        rows: [...(seed.rows ?? [])],
        databases: [{ id: ++seq, name: "neondb", owner: "neondb_owner" }],
        roles: [{ name: "neondb_owner", password: password() }],
      });
      makeEndpoint(root, "read_write");
      return root;
    },
    addBranch(p: string, name: string, seed: { parent?: string } = {}) {
      const pr = project(p);
      const from = seed.parent ? seededBranch(p, seed.parent) : defaultBranch(pr);
      const branch = makeBranch(pr, name, from, false);
      makeEndpoint(branch, "read_write");
      return branch;
    },
    addDatabase(p: string, branch: string, name: string, owner: string) {
      const target = seededBranch(p, branch);
      target.databases.push({ id: ++seq, name, owner });
      if (!target.roles.some((role) => role.name === owner)) target.roles.push({ name: owner, password: password() });
    },
    branch: (p: string, name: string) => byName(project(p), name),
    branches: (p: string) => live(project(p)),
    write(p: string, branch: string, row: string) {
      seededBranch(p, branch).rows.push(row);
    },
    addTable(p: string, branch: string, table: string) {
      seededBranch(p, branch).tables.push(table);
    },
    busy(p: string, ms: number) {
      const pr = project(p);
      const operation = startOperation(pr, "apply_config", defaultBranch(pr).id);
      operation.finishAt = Date.now() + ms;
    },
    runningOperations: (p: string) => running(project(p)).length,
    failNextOperation() {
      failOperation = true;
    },
    passwords: () => [...projects.values()].flatMap((p) => p.branches.flatMap((branch) => branch.roles.map((role) => role.password))),
    failNext(method: string, prefix: string, status: number, body?: unknown, count = 1) {
      failures.push({ method, prefix, status, body, count });
    },
    delayNext(method: string, prefix: string, ms: number, count = 1) {
      delays.push({ method, prefix, ms, count });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

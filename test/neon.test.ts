// The Neon driver (src/database/neon.ts) against the stateful fake of Neon's API
// (test/fake-neon/server.ts): a preview's branch made, reused, reset and deleted, and
// every way Neon says no, with the key and the connection URL never in an error.
import { createServer } from "node:net";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseError } from "../src/database/errors.js";
import {
  deleteNeonBranch,
  ensureNeonBranch,
  neonBranchName,
  resetNeonBranch,
  type NeonAccess,
} from "../src/database/neon.js";
import { startFakeNeon, type FakeNeon } from "./fake-neon/server.js";

const PROJECT = "proud-fog-123456";
const KEY = "napi_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";
const PR = "preview/pr-7";
const FAST = { pollMs: 5, waitMs: 3_000, requestMs: 2_000 };

let neon: FakeNeon;

beforeEach(async () => {
  neon = await startFakeNeon({ keys: [KEY] });
  neon.addProject(PROJECT, { tables: ["users"], rows: ["alice", "bob"] });
});

afterEach(async () => {
  await neon.close();
});

function access(overrides: Partial<NeonAccess> = {}): NeonAccess {
  return { apiKey: KEY, baseUrl: neon.url, project: PROJECT, timing: FAST, ...overrides };
}

const main = () => neon.branch(PROJECT, "main")!;
const previewBranch = () => neon.branch(PROJECT, PR);
const requestsTo = (method: string, path: string) =>
  neon.requests.filter((request) => request.method === method && request.path === path);

async function refusal(promise: Promise<unknown>): Promise<DatabaseError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DatabaseError);
  return error as DatabaseError;
}

/** Every way an error can be shown (message, stack, inspection, JSON) is free of the key, passwords and URLs. */
function expectNoSecrets(error: DatabaseError, secrets: string[] = []) {
  const shown = [error.message, error.reason, String(error.stack), inspect(error, { depth: 20, showHidden: true }), JSON.stringify(error)];
  for (const text of shown) {
    for (const secret of [KEY, ...neon.passwords(), ...secrets]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^…]/);
  }
}

describe("neonBranchName", () => {
  it("names a pull request's branch preview/pr-N", () => {
    expect(neonBranchName(12)).toBe("preview/pr-12");
    expect(() => neonBranchName(0)).toThrow(RangeError);
    expect(() => neonBranchName(1.5)).toThrow(RangeError);
  });
});

describe("a preview's Neon branch", () => {
  it("is copied from the project's default branch, with a read-write compute and a pooled URL", async () => {
    const branch = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    const made = previewBranch()!;
    expect(branch).toMatchObject({ branchId: made.id, name: PR, parent: "main", schemaOnly: false, created: true });
    expect(made.parentId).toBe(main().id);
    expect(made.rows).toEqual(["alice", "bob"]);
    expect(made.endpoints.map((endpoint) => endpoint.type)).toEqual(["read_write"]);
    const password = made.roles.find((role) => role.name === "neondb_owner")!.password;
    const host = made.endpoints[0].host.replace(/^([^.]+)/, "$1-pooler");
    expect(branch.url).toBe(`postgresql://neondb_owner:${password}@${host}/neondb?sslmode=require&channel_binding=require`);
    expect(requestsTo("GET", `/projects/${PROJECT}/connection_uri`)[0].query).toMatchObject({ pooled: "true", database_name: "neondb", role_name: "neondb_owner" });
    expect(neon.requests.every((request) => request.apiKey === KEY)).toBe(true);
  });

  it("is handed out only once Neon has finished creating it", async () => {
    neon.operationMs = 150;
    await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(neon.runningOperations(PROJECT)).toBe(0);
    expect(neon.requests.some((request) => request.path.startsWith(`/projects/${PROJECT}/operations/`))).toBe(true);
  });

  it("is copied from the parent .preview.yml names", async () => {
    neon.addBranch(PROJECT, "staging");
    neon.write(PROJECT, "staging", "staging-only row");

    const branch = await ensureNeonBranch({ ...access(), name: PR, parent: "staging", schemaOnly: false });

    expect(branch.parent).toBe("staging");
    expect(previewBranch()!.parentId).toBe(neon.branch(PROJECT, "staging")!.id);
    expect(previewBranch()!.rows).toContain("staging-only row");
  });

  it("holds the parent's schema but none of its rows for a fork", async () => {
    const branch = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: true });

    expect(branch).toMatchObject({ parent: "main", schemaOnly: true, created: true });
    expect(previewBranch()).toMatchObject({ initSource: "schema-only", tables: ["users"], rows: [] });
    expect(previewBranch()!.parentId).toBeUndefined();
    expect(requestsTo("POST", `/projects/${PROJECT}/branches`)[0].body.branch).toMatchObject({ init_source: "schema-only", parent_id: main().id });
  });

  it("is reused by a push: same branch, same URL, nothing created", async () => {
    const first = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });
    const second = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(second).toEqual({ ...first, created: false });
    expect(requestsTo("POST", `/projects/${PROJECT}/branches`)).toHaveLength(1);
    expect(neon.branches(PROJECT).filter((branch) => branch.name === PR)).toHaveLength(1);
  });

  it("remembers which branch a fork's schema came from when it is reused", async () => {
    neon.addBranch(PROJECT, "staging");
    await ensureNeonBranch({ ...access(), name: PR, parent: "staging", schemaOnly: true });

    const reused = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: true });

    expect(reused).toMatchObject({ parent: "staging", created: false });
  });

  it("left by a run that died while Neon worked is found by name and waited for", async () => {
    neon.operationMs = 1_000;
    neon.failNext("GET", `/projects/${PROJECT}/operations/`, 0);
    const died = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false }));
    expect(died.transient).toBe(true);
    expect(neon.runningOperations(PROJECT)).toBeGreaterThan(0);

    const branch = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(branch).toMatchObject({ branchId: previewBranch()!.id, created: false });
    expect(neon.runningOperations(PROJECT)).toBe(0);
    expect(requestsTo("POST", `/projects/${PROJECT}/branches`)).toHaveLength(1);
  });

  it("holding the parent's rows is replaced, schema only, once the preview is a fork's", async () => {
    const copy = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    const fork = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: true });

    expect(fork.branchId).not.toBe(copy.branchId);
    expect(fork.created).toBe(true);
    expect(previewBranch()).toMatchObject({ id: fork.branchId, rows: [], initSource: "schema-only" });
    expect(neon.branches(PROJECT).map((branch) => branch.name)).toEqual(["main", PR]);
  });

  it("gets a new read-write compute when its own was removed", async () => {
    await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });
    previewBranch()!.endpoints.length = 0;

    const branch = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(requestsTo("POST", `/projects/${PROJECT}/endpoints`)).toHaveLength(1);
    expect(branch.url).toContain(`${previewBranch()!.endpoints[0].id}-pooler.`);
  });

  it("connects to neondb when the parent has several databases", async () => {
    neon.addDatabase(PROJECT, "main", "analytics", "analyst");

    const branch = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(new URL(branch.url).pathname).toBe("/neondb");
    expect(new URL(branch.url).username).toBe("neondb_owner");
  });

  it("waits while Neon is busy with another operation of the project (423) instead of failing", async () => {
    neon.busy(PROJECT, 500);

    const branch = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(branch.created).toBe(true);
    expect(requestsTo("POST", `/projects/${PROJECT}/branches`).length).toBeGreaterThan(1);
  });
});

describe("a branch of the preview's name that fly-preview did not make", () => {
  // Made by hand, or by another tool, and holding someone's data: never adopted, so never reset or deleted.
  beforeEach(() => {
    neon.addBranch(PROJECT, PR);
    neon.write(PROJECT, PR, "someone's own row");
  });

  it("is refused, not used, for a preview, a fork's included, and is left as it was", async () => {
    for (const schemaOnly of [false, true]) {
      const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly }));
      expect(error.transient).toBe(false);
      expect(error.reason).toBe(
        `Neon project ${PROJECT} already has a branch named ${PR} that fly-preview did not make, and fly-preview never uses, ` +
          "resets or deletes a branch it did not make: rename or delete that branch in the Neon Console, then push again.",
      );
    }
    expect(previewBranch()!.rows).toContain("someone's own row");
    expect(neon.requests.filter((request) => request.method !== "GET")).toEqual([]);
  });

  it("is not reset", async () => {
    const error = await refusal(resetNeonBranch({ ...access(), name: PR }));
    expect(error.reason).toContain("did not make");
    expect(previewBranch()!.rows).toContain("someone's own row");
    expect(neon.requests.filter((request) => request.method !== "GET")).toEqual([]);
  });

  it("is not deleted: the preview's drop finds nothing of its own", async () => {
    expect(await deleteNeonBranch({ ...access(), name: PR })).toBe("absent");
    expect(previewBranch()!.rows).toContain("someone's own row");
    expect(neon.requests.filter((request) => request.method !== "GET")).toEqual([]);
  });
});

describe("deleting a preview's Neon branch", () => {
  it("deletes it, and then finds nothing to delete", async () => {
    await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });

    expect(await deleteNeonBranch({ ...access(), name: PR })).toBe("deleted");
    expect(previewBranch()).toBeUndefined();
    expect(neon.runningOperations(PROJECT)).toBe(0);
    expect(await deleteNeonBranch({ ...access(), name: PR })).toBe("absent");
    expect(neon.branches(PROJECT).map((branch) => branch.name)).toEqual(["main"]);
  });

  it("refuses while branches copied from it exist, and names them", async () => {
    await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });
    neon.addBranch(PROJECT, "someones-experiment", { parent: PR });

    const error = await refusal(deleteNeonBranch({ ...access(), name: PR }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("someones-experiment");
    expect(previewBranch()).toBeDefined();
  });
});

describe("resetting a preview's Neon branch", () => {
  it("puts the parent's current rows back, keeping the branch and its URL", async () => {
    const before = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });
    neon.write(PROJECT, PR, "written by the preview");
    neon.write(PROJECT, "main", "carol");

    const after = await resetNeonBranch({ ...access(), name: PR });

    expect(previewBranch()!.rows).toEqual(["alice", "bob", "carol"]);
    expect(after).toEqual({ ...before, created: false });
    expect(requestsTo("POST", `/projects/${PROJECT}/branches/${before.branchId}/restore`).map((r) => r.body)).toEqual([
      { source_branch_id: main().id },
    ]);
    expect(neon.runningOperations(PROJECT)).toBe(0);
  });

  it("makes a fork's branch anew from the parent's schema, never copying its rows", async () => {
    const before = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: true });
    neon.write(PROJECT, PR, "written by the preview");
    neon.addTable(PROJECT, "main", "orders");
    neon.write(PROJECT, "main", "carol");

    const after = await resetNeonBranch({ ...access(), name: PR, schemaOnly: true });

    expect(previewBranch()).toMatchObject({ id: after.branchId, tables: ["users", "orders"], rows: [], initSource: "schema-only" });
    expect(after).toMatchObject({ parent: "main", schemaOnly: true, created: true });
    expect(after.url).not.toBe(before.url);
    expect(neon.requests.some((request) => request.path.endsWith("/restore"))).toBe(false);
  });

  it("of a branch that does not exist says the next deploy makes it", async () => {
    const error = await refusal(resetNeonBranch({ ...access(), name: PR }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("next deploy");
  });

  it("refuses while branches copied from it exist, and names them", async () => {
    await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });
    neon.addBranch(PROJECT, "someones-experiment", { parent: PR });

    const error = await refusal(resetNeonBranch({ ...access(), name: PR }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("someones-experiment");
    expect(neon.requests.some((request) => request.path.endsWith("/restore"))).toBe(false);
  });
});

describe("Neon saying no", () => {
  it("to a branch beyond the plan's allowance fails for good, quoting Neon and saying what to do", async () => {
    neon.limits.branches = 1;

    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain('HTTP 422 BRANCHES_LIMIT_EXCEEDED: "branches limit exceeded"');
    expect(error.reason).toContain("Delete branches it no longer needs in the Neon Console, or upgrade the plan");
    expect(previewBranch()).toBeUndefined();
  });

  it("to a fork's schema-only branch beyond the root-branch allowance explains why it is a root branch", async () => {
    neon.limits.rootBranches = 1;

    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: true }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain('ROOT_BRANCHES_LIMIT_EXCEEDED: "root branches limit exceeded"');
    expect(error.reason).toContain("a fork's schema-only branch is a root branch");
  });

  it("to the API key (401) fails for good and says how to set a new one", async () => {
    const keyHelp = "Set a valid key with `fly-preview secrets set acme/web NEON_API_KEY`.";
    const wrongKey = "napi_wrong_zyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTSRQPONMLK";

    const error = await refusal(ensureNeonBranch({ ...access({ apiKey: wrongKey, keyHelp }), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toBe(`Neon refused the API key (Neon answered HTTP 401: "authentication required"). ${keyHelp}`);
    expectNoSecrets(error, [wrongKey]);
  });

  it("to the key's access to the project (403) fails for good", async () => {
    neon.failNext("GET", `/projects/${PROJECT}/branches`, 403, { code: "", message: "permission denied" });

    const error = await refusal(ensureNeonBranch({ ...access({ keyHelp: "Ask for a key of the project's organization." }), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain('HTTP 403: "permission denied"');
    expect(error.reason).toContain("Ask for a key of the project's organization.");
  });

  it("to a project it does not know fails for good and names the setting", async () => {
    const error = await refusal(ensureNeonBranch({ ...access({ project: "other-project-42" }), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("Neon has no project other-project-42 that this API key can reach");
    expect(error.reason).toContain('"project not found"');
    expect(error.reason).toContain("database.neon.project");
  });

  it("to a key scoped to another project fails for good with Neon's words", async () => {
    const scoped = "napi_scoped_0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd";
    neon.addKey(scoped, { project: "elsewhere-123" });

    const error = await refusal(deleteNeonBranch({ ...access({ apiKey: scoped }), name: PR }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("not allowed to perform actions outside the project this key is scoped to");
    expectNoSecrets(error, [scoped]);
  });

  it("to a parent branch that does not exist fails for good and names it", async () => {
    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, parent: "nope", schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("no branch named nope");
    expect(error.reason).toContain("database.neon.parent");
    expect(requestsTo("POST", `/projects/${PROJECT}/branches`)).toHaveLength(0);
  });

  it("with an operation it could not finish is transient", async () => {
    neon.failNextOperation();

    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(true);
    expect(error.reason).toContain("create_branch ended failed");
  });

  it("before any request, to a project ID that cannot be one", async () => {
    const error = await refusal(ensureNeonBranch({ ...access({ project: "Proud Fog" }), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("database.neon.project");
    expect(neon.requests).toHaveLength(0);
  });
});

describe("Neon failing for a passing reason is transient", () => {
  it.each([500, 502, 503, 429])("HTTP %i", async (status) => {
    neon.failNext("GET", `/projects/${PROJECT}/branches`, status);

    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(true);
    expect(error.reason).toContain(`HTTP ${status}`);
  });

  it("a dropped connection, in the middle of creating the branch", async () => {
    neon.failNext("POST", `/projects/${PROJECT}/branches`, 0);

    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(true);
    expect(error.reason).toContain("could not be reached to create the branch preview/pr-7");
    expectNoSecrets(error);
  });

  it("an API nobody answers on", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await refusal(deleteNeonBranch({ ...access({ baseUrl: `http://127.0.0.1:${port}/api/v2` }), name: PR }));

    expect(error.transient).toBe(true);
    expect(error.reason).toContain("ECONNREFUSED");
    expectNoSecrets(error);
  });

  it("an answer slower than the request timeout", async () => {
    neon.delayNext("GET", `/projects/${PROJECT}/branches`, 300);

    const error = await refusal(ensureNeonBranch({ ...access({ timing: { ...FAST, requestMs: 50 } }), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(true);
  });
});

describe("secrets in errors", () => {
  it("are cut from Neon's own words: neither the key nor a connection URL is repeated", async () => {
    const url = "postgresql://neondb_owner:npg_leakedpassword1@ep-x-pooler.us-east-2.aws.neon.tech/neondb";
    neon.failNext("POST", `/projects/${PROJECT}/branches`, 400, { code: "", message: `key ${KEY} may not create ${url}` });

    const error = await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false }));

    expect(error.transient).toBe(false);
    expect(error.reason).toContain("may not create");
    expectNoSecrets(error, ["npg_leakedpassword1", url]);
  });

  it("never include the URL a preview was given, whatever goes wrong next", async () => {
    const { url } = await ensureNeonBranch({ ...access(), name: PR, schemaOnly: false });
    const errors: DatabaseError[] = [];
    neon.failNext("GET", `/projects/${PROJECT}/connection_uri`, 503);
    errors.push(await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false })));
    neon.failNext("GET", `/projects/${PROJECT}/connection_uri`, 0);
    errors.push(await refusal(ensureNeonBranch({ ...access(), name: PR, schemaOnly: false })));
    neon.failNext("POST", `/projects/${PROJECT}/branches/`, 500);
    errors.push(await refusal(resetNeonBranch({ ...access(), name: PR })));

    expect(errors.map((error) => error.transient)).toEqual([true, true, true]);
    for (const error of errors) expectNoSecrets(error, [url]);
  });
});

describe("the fake Neon API refuses what Neon refuses", () => {
  const api = (path: string, init: RequestInit & { key?: string | null } = {}) =>
    fetch(`${neon.url}${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(init.key === null ? {} : { authorization: `Bearer ${init.key ?? KEY}` }),
      },
    });

  it("a request without a Bearer key or with an unknown one (401, { code, message })", async () => {
    for (const key of [null, "napi_unknown"]) {
      const answer = await api(`/projects/${PROJECT}/branches`, { key });
      expect(answer.status).toBe(401);
      expect(await answer.json()).toMatchObject({ code: "", message: expect.any(String) });
    }
  });

  it("an unknown project (404) and a body that is not JSON (400)", async () => {
    expect((await api("/projects/no-such-project-1/branches")).status).toBe(404);
    const bad = await api(`/projects/${PROJECT}/branches`, { method: "POST", body: "{not json" });
    expect(bad.status).toBe(400);
  });

  it("deleting the default branch, or a branch that has children", async () => {
    const parent = neon.addBranch(PROJECT, "parent");
    neon.addBranch(PROJECT, "child", { parent: "parent" });

    expect((await api(`/projects/${PROJECT}/branches/${main().id}`, { method: "DELETE" })).status).toBe(400);
    expect((await api(`/projects/${PROJECT}/branches/${parent.id}`, { method: "DELETE" })).status).toBe(400);
    expect(neon.branch(PROJECT, "parent")).toBeDefined();
    expect((await api(`/projects/${PROJECT}/branches/br-gone-000000`, { method: "DELETE" })).status).toBe(204);
  });

  it("restoring a branch that has children without preserve_under_name", async () => {
    const parent = neon.addBranch(PROJECT, "parent");
    neon.addBranch(PROJECT, "child", { parent: "parent" });

    const answer = await api(`/projects/${PROJECT}/branches/${parent.id}/restore`, {
      method: "POST",
      body: JSON.stringify({ source_branch_id: main().id }),
    });

    expect(answer.status).toBe(400);
  });

  it("nothing when restoring a schema-only branch: it copies the source's rows, as Neon documents", async () => {
    await ensureNeonBranch({ ...access(), name: PR, schemaOnly: true });

    const answer = await api(`/projects/${PROJECT}/branches/${previewBranch()!.id}/restore`, {
      method: "POST",
      body: JSON.stringify({ source_branch_id: main().id }),
    });

    expect(answer.status).toBe(200);
    expect(previewBranch()!.rows).toEqual(["alice", "bob"]);
  });

  it("a change while the project's operations run (423, Neon's words)", async () => {
    neon.busy(PROJECT, 1_000);

    const answer = await api(`/projects/${PROJECT}/branches`, { method: "POST", body: JSON.stringify({ branch: { name: "x" } }) });

    expect(answer.status).toBe(423);
    expect(await answer.json()).toMatchObject({
      message: "project already has running conflicting operations, scheduling of new ones is prohibited",
    });
  });

  it("a second read-write endpoint, and a connection URI without database and role", async () => {
    const twoWriters = await api(`/projects/${PROJECT}/branches`, {
      method: "POST",
      body: JSON.stringify({ endpoints: [{ type: "read_write" }, { type: "read_write" }] }),
    });
    expect(twoWriters.status).toBe(400);
    expect((await api(`/projects/${PROJECT}/connection_uri?pooled=true`)).status).toBe(400);
  });
});

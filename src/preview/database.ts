import type { DatabaseConfig } from "../config/index.js";
import { DatabaseError } from "../database/errors.js";
import {
  attachFlyPostgresUser,
  dropFlyPostgres,
  dropFlyPostgresUser,
  ensureFlyPostgres,
  ensureFlySharedDatabase,
  flyDatabaseName,
  flySharedDatabaseName,
  resetFlyPostgres,
  resetFlySharedDatabase,
} from "../database/fly-postgres.js";
import { deleteNeonBranch, ensureNeonBranch, neonBranchName, resetNeonBranch } from "../database/neon.js";
import { FlyError, type Flyctl } from "../fly/index.js";
import { databaseNotAllowedReason, flyDatabaseTakenReason, neonBranchTakenReason, neonKeyHelp, neonKeySecretMissingReason, noNeonKeyReason } from "../github/messages.js";
import type { DatabaseOperation, Metrics } from "../metrics/metrics.js";
import type { DatabaseShown } from "../model/pull-request.js";
import type { SecretStore } from "../secrets/index.js";
import type { Settings } from "../settings.js";
import type { DatabaseRow, Preview, Store } from "../store/store.js";
import { describe } from "./run.js";

// A preview's own database (issue 13, docs/database.md): made before its first deploy,
// dropped after its app, swept when anything is missed. Every database is recorded in the
// store BEFORE the provider is asked for it, so a crash in between leaves a record for the
// sweep, and the sweep never touches a database fly-preview did not make.

export interface DatabaseDeps {
  store: Store;
  /** Without them (a reaper given none), only the server's defaults: no NEON_API_KEY. */
  settings?: Pick<Settings, "neonApiKey" | "neonApiUrl" | "previewDatabases">;
  secrets?: SecretStore;
  flyctl: Flyctl;
  /** Counts each make, reset and drop by its provider and result. */
  metrics?: Metrics;
}

export interface Made {
  shown: DatabaseShown;
  /** Secrets to stage with the deploy (Neon's URL under `env`); Fly Postgres sets its own. */
  stage: Record<string, string>;
}

/**
 * Makes the preview's database, or adopts the one a push or a crash left: before every
 * deploy, so the URL is staged with it and `release_command` runs against it. A fork's
 * Neon branch holds the parent's schema only, unless the repository trusts forks.
 */
export function ensureDatabase(deps: DatabaseDeps, preview: Preview, db: DatabaseConfig, trusted: boolean, signal?: AbortSignal): Promise<Made> {
  return counted(deps, db.provider, "ensure", () => ensure(deps, preview, db, trusted, signal));
}

async function ensure(deps: DatabaseDeps, preview: Preview, db: DatabaseConfig, trusted: boolean, signal?: AbortSignal): Promise<Made> {
  allowed(deps, db);
  if (db.provider === "neon") {
    const name = neonBranchName(preview.number);
    const secretName = db.neon.api_key_secret ?? null;
    const access = await neonAccess(deps, preview, db.neon.project, secretName);
    await wanted(deps, preview.id, { provider: "neon", home: db.neon.project, name, parent: db.neon.parent ?? null, secretName });
    const branch = await ensureNeonBranch({ ...access, name, parent: db.neon.parent, schemaOnly: preview.fork === 1 && !trusted });
    deps.flyctl.redactor.add(branch.url);
    await deps.store.databaseReady({ provider: "neon", home: db.neon.project, name }, branch.parent);
    return { shown: { provider: "neon", name, parent: branch.parent, schemaOnly: branch.schemaOnly }, stage: { [db.env]: branch.url } };
  }
  const { cluster } = db.fly_postgres;
  const name = flyDatabaseName(preview.app_name);
  // The name comes from the preview's app name, which no two previews share (deploy-steps.ts refuses a taken one).
  await wanted(deps, preview.id, { provider: "fly_postgres", home: cluster, name, parent: cluster });
  await ensureFlyPostgres({ flyctl: deps.flyctl, cluster, app: preview.app_name, variable: db.env, signal });
  await deps.store.databaseReady({ provider: "fly_postgres", home: cluster, name });
  return { shown: { provider: "fly_postgres", name, parent: cluster }, stage: {} };
}

/** Records a Fly Postgres database or user before it is made; refused when another preview's live record holds the name. */
async function wanted(deps: DatabaseDeps, previewId: number, db: Parameters<DatabaseDeps["store"]["databaseWanted"]>[1]): Promise<void> {
  if (await deps.store.databaseWanted(previewId, db)) return;
  throw new DatabaseError(
    db.provider === "neon" ? neonBranchTakenReason(db.name, db.home) : flyDatabaseTakenReason(db.onDatabase ? "database user" : "database", db.name, db.home),
    false,
  );
}

/**
 * The pull request's one database, shared by its apps (`apps:`, docs/monorepos.md), made by
 * its own row's run before any app deploys, and recorded on that row. Neon: the branch, as
 * for one app; each app stages its URL. Fly Postgres: a database owned by a role that
 * cannot log in, on which each app gets a user of its own (ensureAppDatabase).
 */
export async function ensureSharedDatabase(deps: DatabaseDeps, pr: Preview, db: DatabaseConfig, trusted: boolean, signal?: AbortSignal): Promise<DatabaseShown> {
  if (db.provider === "neon") return (await ensureDatabase(deps, pr, db, trusted, signal)).shown;
  return counted(deps, db.provider, "ensure", async () => {
    allowed(deps, db);
    const { cluster } = db.fly_postgres;
    const name = flySharedDatabaseName(pr.app_name);
    await wanted(deps, pr.id, { provider: "fly_postgres", home: cluster, name, parent: cluster });
    await ensureFlySharedDatabase({ flyctl: deps.flyctl, cluster, name, signal });
    await deps.store.databaseReady({ provider: "fly_postgres", home: cluster, name });
    return { provider: "fly_postgres" as const, name, parent: cluster };
  });
}

/** `/preview reset-db` on a pull request with apps: its shared database as ensureSharedDatabase makes it, afresh. */
export async function resetSharedDatabase(deps: DatabaseDeps, pr: Preview, db: DatabaseConfig, trusted: boolean): Promise<DatabaseShown> {
  if (db.provider === "neon") return resetDatabase(deps, pr, db, trusted);
  return counted(deps, db.provider, "reset", async () => {
    allowed(deps, db);
    const { cluster } = db.fly_postgres;
    const name = flySharedDatabaseName(pr.app_name);
    // It makes the database (and its role) when they are gone: recorded first, as always.
    await wanted(deps, pr.id, { provider: "fly_postgres", home: cluster, name, parent: cluster });
    await resetFlySharedDatabase({ flyctl: deps.flyctl, cluster, name });
    return { provider: "fly_postgres" as const, name, parent: cluster };
  });
}

/**
 * An app's share of its pull request's database (`pr`: the pull request's own row, whose
 * run made it). Neon: the branch's URL, staged under `env`. Fly Postgres: a user of the
 * app's own on the shared database, attached to the app (attach sets `env` itself),
 * recorded on the app's row so that its destroy drops it. The shared database is recorded
 * on `pr` again first: were the pull request's destroy to drop it while this run attaches,
 * attach would make it again, and the sweep must find that one.
 */
export async function ensureAppDatabase(deps: DatabaseDeps, app: Preview, pr: Preview, db: DatabaseConfig, trusted: boolean, signal?: AbortSignal): Promise<Made> {
  if (db.provider === "neon") return ensureDatabase(deps, pr, db, trusted, signal);
  return counted(deps, db.provider, "ensure", async () => {
    allowed(deps, db);
    const { cluster } = db.fly_postgres;
    const database = flySharedDatabaseName(pr.app_name);
    const user = { provider: "fly_postgres" as const, home: cluster, name: flyDatabaseName(app.app_name) };
    await wanted(deps, pr.id, { provider: "fly_postgres", home: cluster, name: database, parent: cluster });
    await wanted(deps, app.id, { ...user, parent: cluster, onDatabase: database });
    await attachFlyPostgresUser({ flyctl: deps.flyctl, cluster, app: app.app_name, database, variable: db.env, signal });
    await deps.store.databaseReady(user);
    return { shown: { provider: "fly_postgres" as const, name: database, parent: cluster }, stage: {} };
  });
}

/** Drops a recorded database (after its app is destroyed, or by a sweep), and records that it is gone. */
export function dropDatabase(deps: DatabaseDeps, preview: Pick<Preview, "owner" | "repo" | "app_name">, row: DatabaseRow): Promise<"dropped" | "absent"> {
  return counted(deps, row.provider, "drop", () => drop(deps, preview, row));
}

async function drop(deps: DatabaseDeps, preview: Pick<Preview, "owner" | "repo" | "app_name">, row: DatabaseRow): Promise<"dropped" | "absent"> {
  const key = { provider: row.provider, home: row.home, name: row.name };
  let outcome: "dropped" | "absent";
  if (row.provider === "neon") {
    const access = await neonAccess(deps, preview, row.home, row.secretName);
    outcome = (await deleteNeonBranch({ ...access, name: row.name })) === "deleted" ? "dropped" : "absent";
  } else if (row.onDatabase !== null) {
    // An app's user: the database it is on is its pull request's, dropped with that row.
    outcome = await dropFlyPostgresUser({ flyctl: deps.flyctl, cluster: row.home, name: row.name });
  } else {
    outcome = await dropFlyPostgres({ flyctl: deps.flyctl, cluster: row.home, app: preview.app_name, name: row.name });
  }
  await deps.store.databaseDropped(key);
  return outcome;
}

interface DropLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Drops the preview's recorded databases that `which` picks (all of them by default: its
 * destroy, after its app). One whose drop fails stays recorded, and the sweep (reaper,
 * `fly-preview gc`) drops it once the preview is destroyed.
 */
export async function dropDatabases(deps: DatabaseDeps, preview: Preview, log: DropLog, which: (row: DatabaseRow) => boolean = () => true): Promise<void> {
  for (const database of (await deps.store.databasesOf(preview.id)).filter(which)) {
    const where = { provider: database.provider, name: database.name };
    await dropDatabase(deps, preview, database).then(
      (outcome) => log.info({ ...where, outcome }, "database dropped"),
      (error) => log.warn({ ...where, reason: deps.flyctl.redactor.redact(describe(error)) }, "database not dropped: the sweep tries again"),
    );
  }
}

/**
 * A pull request that gained `apps:` (`now` "apps") or lost it ("single"): the Fly Postgres
 * database its row made for the other layout goes (the one app's database, or the apps'
 * shared one: they are two). A Neon branch is named after the pull request either way: kept.
 */
export async function dropOtherLayoutDatabase(deps: DatabaseDeps, preview: Preview, log: DropLog, now: "apps" | "single"): Promise<void> {
  const other = now === "apps" ? flyDatabaseName(preview.app_name) : flySharedDatabaseName(preview.app_name);
  await dropDatabases(deps, preview, log, (row) => row.provider === "fly_postgres" && row.onDatabase === null && row.name === other);
}

/**
 * `/preview reset-db`: the parent's data again (Neon: the branch restored from its parent;
 * Fly Postgres: the database dropped and made again). The caller then redeploys, which
 * restarts the machines with the (possibly new) URL and lets `release_command` migrate.
 */
export function resetDatabase(deps: DatabaseDeps, preview: Preview, db: DatabaseConfig, trusted: boolean): Promise<DatabaseShown> {
  return counted(deps, db.provider, "reset", () => reset(deps, preview, db, trusted));
}

async function reset(deps: DatabaseDeps, preview: Preview, db: DatabaseConfig, trusted: boolean): Promise<DatabaseShown> {
  allowed(deps, db);
  if (db.provider === "neon") {
    const name = neonBranchName(preview.number);
    const secretName = db.neon.api_key_secret ?? null;
    const access = await neonAccess(deps, preview, db.neon.project, secretName);
    // Another preview's branch (a repository sharing the Neon project) is never restored: refused before Neon is asked.
    await wanted(deps, preview.id, { provider: "neon", home: db.neon.project, name, parent: db.neon.parent ?? null, secretName });
    const branch = await resetNeonBranch({ ...access, name, parent: db.neon.parent, schemaOnly: preview.fork === 1 && !trusted });
    return { provider: "neon", name, parent: branch.parent, schemaOnly: branch.schemaOnly };
  }
  const { cluster } = db.fly_postgres;
  const made = await resetFlyPostgres({ flyctl: deps.flyctl, cluster, app: preview.app_name, variable: db.env });
  return { provider: "fly_postgres", name: made.name, parent: cluster };
}

/**
 * `work` on a database of `provider`, counted (fly_preview_database_operations_total): `ok`;
 * `refused` (the provider, or this server, said no: the check run says why); `transient`
 * (a passing failure: the run is tried again); `failed` (anything else: a stop included).
 */
async function counted<T>(deps: DatabaseDeps, provider: DatabaseConfig["provider"], operation: DatabaseOperation, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    deps.metrics?.databaseOperation(provider, operation, "ok");
    return result;
  } catch (error) {
    const transient = (error instanceof DatabaseError && error.transient) || (error instanceof FlyError && error.kind === "transient");
    deps.metrics?.databaseOperation(provider, operation, transient ? "transient" : error instanceof DatabaseError ? "refused" : "failed");
    throw error;
  }
}

/**
 * Only projects and clusters the operator listed (PREVIEW_DATABASES): the pull request
 * writes `.preview.yml`, and must not point its preview at a production database.
 */
function allowed(deps: DatabaseDeps, db: DatabaseConfig): void {
  const item = db.provider === "neon" ? `neon:${db.neon.project}` : `fly_postgres:${db.fly_postgres.cluster}`;
  if (deps.settings?.previewDatabases.includes(item)) return;
  const what = db.provider === "neon" ? `the Neon project ${db.neon.project}` : `the Fly Postgres cluster ${db.fly_postgres.cluster}`;
  throw new DatabaseError(databaseNotAllowedReason(what, item), false);
}

/** The Neon API key: the repository secret `api_key_secret` names, else the server's NEON_API_KEY. */
async function neonAccess(deps: DatabaseDeps, preview: Pick<Preview, "owner" | "repo">, project: string, secretName: string | null) {
  const base = { baseUrl: deps.settings?.neonApiUrl, project };
  if (secretName) {
    if (!deps.secrets) throw new DatabaseError(neonKeySecretMissingReason(secretName, preview, false), false);
    const { values } = await deps.secrets.resolve(preview.owner, preview.repo, [secretName]);
    const apiKey = values[secretName];
    if (!apiKey) throw new DatabaseError(neonKeySecretMissingReason(secretName, preview, true), false);
    deps.flyctl.redactor.add(apiKey);
    return { ...base, apiKey, keyHelp: neonKeyHelp(secretName, preview) };
  }
  const serverKey = deps.settings?.neonApiKey;
  if (!serverKey) throw new DatabaseError(noNeonKeyReason(preview), false);
  deps.flyctl.redactor.add(serverKey);
  return { ...base, apiKey: serverKey, keyHelp: neonKeyHelp(null, preview) };
}

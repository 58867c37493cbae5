// A preview's own database on a Fly Postgres cluster the operator made once in FLY_ORG, driven
// with flyctl v0.4.87 like everything else on Fly. What each step relies on, from flyctl's and
// the cluster image's source, is in docs/database.md ("Fly Postgres").
import { createHash } from "node:crypto";
import { FlyError, type Flyctl } from "../fly/index.js";
import { DatabaseError } from "./errors.js";

/** Where a preview's database lives: its name (the database's and its user's) and the cluster. */
export interface FlyPostgresDatabase {
  name: string;
  parent: string;
}

export interface FlyPostgresTarget {
  flyctl: Flyctl;
  /** The Fly Postgres app (`database.fly_postgres.cluster`). */
  cluster: string;
  /** The preview's Fly app. */
  app: string;
  signal?: AbortSignal;
}

// Postgres truncates identifiers to NAMEDATALEN - 1 = 63 bytes; ours are ASCII.
const MAX_LENGTH = 63;
const HASH_LENGTH = 8;
// What src/model/app-name.ts makes: lowercase words of letters and digits joined by single "-".
const APP_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
// What the SQL below is built from; nothing else reaches it.
const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * The database and user name of a preview's app: the app name with "_" for "-"
 * ("pr-42-acme-web" → "pr_42_acme_web"), which is one to one, since app names never hold
 * "_" or "--". Any other text (an app name from elsewhere, too long, or starting with "pg-",
 * a prefix Postgres reserves for its own roles) is made into letters, digits and single "_",
 * cut to 63 bytes with a hash of the whole text after "__", as app names are cut: a name
 * with "__" never comes from the first rule, so two apps never share a database.
 */
export function flyDatabaseName(app: string): string {
  if (APP_NAME.test(app) && app.length <= MAX_LENGTH && !app.startsWith("pg-")) return app.replaceAll("-", "_");
  const hash = createHash("sha256").update(app).digest("hex").slice(0, HASH_LENGTH);
  let head = app
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!/^[a-z]/.test(head) || head.startsWith("pg_")) head = `db_${head}`;
  head = head.slice(0, MAX_LENGTH - HASH_LENGTH - 2).replace(/_+$/, "");
  return `${head}__${hash}`;
}

/**
 * Gives the preview its database and user on the cluster and sets `variable` on the app to
 * the connection string (staged: it reaches the machines with the next deploy, so this runs
 * before the first one and release_command migrates the new database). Harmless to repeat,
 * and a leftover of a run that stopped half-way is taken over rather than refused.
 */
export async function ensureFlyPostgres(target: FlyPostgresTarget & { variable: string }): Promise<FlyPostgresDatabase> {
  const name = checkedName(target.app);
  try {
    try {
      await attach(target, name);
    } catch (error) {
      if (refusal(error, LEFTOVER_USER(name))) {
        // attach creates the user before it sets the secret (attach.go:314, :332): a run that
        // stopped in between left a user whose password nobody knows. Drop it and attach
        // again; the database, if made, is reused as attach reuses one under --yes.
        await sql(target, dropRoleScript(name));
        await attach(target, name);
      } else if (refusal(error, SECRET_SET(target.variable))) {
        // attach sets the secret last, so an earlier attach finished; only our record of it
        // was lost. claim() below checks that its user is still there.
      } else {
        throw error;
      }
    }
    await claim(target, name);
  } catch (error) {
    throw databaseError(error, target);
  }
  return { name, parent: target.cluster };
}

/**
 * Drops the preview's database (WITH (FORCE): the preview's own connections are closed) and
 * its user, then unsets `variable` on the app when the app is still there. Doing what
 * `postgres detach` does (detach.go:137-166) without its prompt; its third step, removing
 * Fly's attachment record, has no command that runs without a terminal, and the record goes
 * with the app. "absent" when there was nothing to drop; harmless to repeat.
 */
export async function dropFlyPostgres(target: FlyPostgresTarget & { variable?: string }): Promise<"dropped" | "absent"> {
  const name = checkedName(target.app);
  try {
    let lines: string[] | "no cluster";
    try {
      lines = await sql(target, dropScript(name));
    } catch (error) {
      // A cluster that is gone took every database on it along.
      if (!(error instanceof FlyError && error.kind === "not_found" && error.detail?.startsWith("get app: "))) throw error;
      lines = "no cluster";
    }
    if (target.variable) await target.flyctl.unsetSecrets(target.app, [target.variable], target.signal);
    if (lines === "no cluster") return "absent";
    const skipped = (what: string) => lines.some((line) => line.includes(`NOTICE:  ${what} "${name}" does not exist, skipping`));
    return skipped("database") && skipped("role") ? "absent" : "dropped";
  } catch (error) {
    throw databaseError(error, target);
  }
}

/**
 * Drops the preview's database and makes it again, empty, for the same user, so the secret
 * the app holds stays right; the caller then redeploys and release_command migrates it.
 * When the user has gone too, the preview is attached afresh.
 */
export async function resetFlyPostgres(target: FlyPostgresTarget & { variable: string }): Promise<FlyPostgresDatabase> {
  const name = checkedName(target.app);
  try {
    await sql(target, resetScript(name));
  } catch (error) {
    if (!sqlFailed(error, MISSING_ROLE(name))) throw databaseError(error, target);
    try {
      await reattach(target, name);
    } catch (again) {
      throw databaseError(again, target);
    }
  }
  return { name, parent: target.cluster };
}

async function attach(target: FlyPostgresTarget & { variable: string }, name: string): Promise<void> {
  await target.flyctl.postgresAttach(target.cluster, target.app, {
    database: name,
    user: name,
    variable: target.variable,
    signal: target.signal,
  });
}

/**
 * Makes the database the user's own and closes it to everyone else. attach's non-superuser
 * gets pg_read_all_data and pg_write_all_data (postgres-flex admin.GrantAccess) and every
 * database lets PUBLIC connect, so without this one preview's code could read another's.
 * A secret left by an earlier attach whose user has since gone points at nothing: the
 * preview is attached afresh.
 */
async function claim(target: FlyPostgresTarget & { variable: string }, name: string): Promise<void> {
  try {
    await sql(target, claimScript(name));
  } catch (error) {
    if (!sqlFailed(error, MISSING_ROLE(name))) throw error;
    await reattach(target, name);
  }
}

async function reattach(target: FlyPostgresTarget & { variable: string }, name: string): Promise<void> {
  await target.flyctl.unsetSecrets(target.app, [target.variable], target.signal);
  await attach(target, name);
  await sql(target, claimScript(name));
}

async function sql(target: FlyPostgresTarget, script: string[]): Promise<string[]> {
  return target.flyctl.postgresSql(target.cluster, `${script.join("\n")}\n`, target.signal);
}

// One statement a line: psql runs each on its own (DROP and CREATE DATABASE cannot run in a
// transaction), stops at the first error (exit 3), and `\gexec` runs what a query returns,
// which is how a statement runs only when something exists.
const STOP_ON_ERROR = "\\set ON_ERROR_STOP on";

function claimScript(name: string): string[] {
  return [
    STOP_ON_ERROR,
    `SELECT 'CREATE DATABASE "${name}" OWNER "${name}"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${name}')\\gexec`,
    `ALTER DATABASE "${name}" OWNER TO "${name}";`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE "${name}" FROM PUBLIC;`,
    // flypg's grant of every table of every database: the preview owns its database and
    // needs neither, and with them its code could read what else the cluster holds.
    `REVOKE pg_read_all_data, pg_write_all_data FROM "${name}";`,
  ];
}

function dropRoleScript(name: string): string[] {
  // DROP OWNED first: a role that still owns something (in the database psql is connected
  // to) cannot be dropped. It leaves databases alone.
  return [STOP_ON_ERROR, `SELECT 'DROP OWNED BY "${name}"' FROM pg_roles WHERE rolname = '${name}'\\gexec`, `DROP ROLE IF EXISTS "${name}";`];
}

function dropScript(name: string): string[] {
  return [STOP_ON_ERROR, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE);`, ...dropRoleScript(name).slice(1)];
}

function resetScript(name: string): string[] {
  return [
    STOP_ON_ERROR,
    `DROP DATABASE IF EXISTS "${name}" WITH (FORCE);`,
    `CREATE DATABASE "${name}" OWNER "${name}";`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE "${name}" FROM PUBLIC;`,
  ];
}

function checkedName(app: string): string {
  const name = flyDatabaseName(app);
  // flyDatabaseName only makes such names; this keeps a future change from reaching the SQL.
  if (!IDENTIFIER.test(name)) throw new DatabaseError(`"${name}" is not a database name fly-preview can use`, false);
  return name;
}

// flyctl's own error lines (attach.go:254, :281), after "Error: ".
const SECRET_SET = (variable: string) => new RegExp(`^consumer app "[^"]*" already contains a secret named ${variable}$`);
const LEFTOVER_USER = (name: string) => new RegExp(`^database user "${name}" already exists\\.`);
// psql's error for a script read from stdin: `psql:<stdin>:3: ERROR:  role "x" does not exist`.
const MISSING_ROLE = (name: string) => new RegExp(`ERROR:  role "${name}" does not exist`);

function refusal(error: unknown, pattern: RegExp): boolean {
  return error instanceof FlyError && error.detail !== undefined && pattern.test(error.detail);
}

function sqlFailed(error: unknown, pattern: RegExp): boolean {
  return error instanceof FlyError && error.tail.some((line) => pattern.test(line));
}

/**
 * What a failed step means for the user. A cancelled run stays the FlyError it is, so the
 * caller stops as it does for any cancelled flyctl run. Messages come from flyctl's output
 * after redaction; the connection string never reaches one.
 */
function databaseError(error: unknown, target: FlyPostgresTarget): unknown {
  if (error instanceof DatabaseError) return error;
  if (!(error instanceof FlyError) || error.kind === "cancelled") return error;
  const { cluster } = target;
  const org = target.flyctl.organization;
  const detail = error.detail ?? "";
  if (error.kind === "transient") return new DatabaseError(`Fly Postgres: ${error.message}`, true);
  // attach.go:84; ssh console's "get app: …" (console.go:175) when the cluster is gone.
  if (/^failed retrieving postgres app |^get app: /.test(detail) && error.kind === "not_found") {
    return new DatabaseError(
      `The Fly Postgres cluster "${cluster}" does not exist in the Fly.io organization "${org}" (FLY_ORG), or FLY_API_TOKEN cannot see it. ` +
        `Create it once with \`flyctl postgres create --name ${cluster} --org ${org}\`, or name an existing one in .preview.yml's database.fly_postgres.cluster`,
      false,
    );
  }
  if (/^app \S+ is not a postgres app$/.test(detail)) {
    return new DatabaseError(
      `"${cluster}" is a Fly.io app but not a Fly Postgres cluster: name one made with \`flyctl postgres create\` in .preview.yml's database.fly_postgres.cluster`,
      false,
    );
  }
  if (/^failed retrieving app /.test(detail)) {
    return new DatabaseError(`The preview's Fly.io app "${target.app}" does not exist, so no database can be attached to it`, false);
  }
  // attach.go:187 and postgres.go:207 (pickLeader): the cluster is stopped or failing over.
  if (/^no active (?:machines|leader) found$/.test(detail) || /has no started VMs/.test(detail)) {
    return new DatabaseError(
      `The Fly Postgres cluster "${cluster}" has no running primary (${detail}). Start it or check it with \`flyctl status -a ${cluster}\``,
      false,
    );
  }
  // psql's exit 2: "the connection to the server went bad" (psql's own documentation).
  if (/^ssh shell: Process exited with status 2\b/.test(detail)) {
    return new DatabaseError(`Fly Postgres: psql lost its connection to the cluster "${cluster}"`, true);
  }
  const sqlError = error.tail.find((line) => / ERROR: {2}/.test(line));
  if (sqlError) {
    return new DatabaseError(`Fly Postgres refused a statement on the cluster "${cluster}": ${sqlError.replace(/^psql:<stdin>:\d+: /, "")}`, false);
  }
  return new DatabaseError(`Fly Postgres: ${error.message}`, false);
}

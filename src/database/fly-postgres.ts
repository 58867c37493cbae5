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

/** One app's user of the database its pull request's apps share. */
export interface FlyPostgresUser {
  user: string;
  database: string;
  parent: string;
}

/** A database or user fly-preview names itself (the apps' shared database, an app's user), on `cluster`. */
export interface FlySharedTarget {
  flyctl: Flyctl;
  cluster: string;
  name: string;
  signal?: AbortSignal;
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
 * The database a pull request's apps share (`apps:` with `database.fly_postgres`), and the
 * role that owns it, from the pull request's own app name (`pr-42-acme-shop`): that name
 * with "/apps", made a name as flyDatabaseName makes any text that is not an app name
 * (`pr_42_acme_shop_apps__` and a hash). It never equals a database or user named after an
 * app, whose names hold no "__", so an app's user and the apps' database never collide, nor
 * does the database the pull request had while it was one app.
 */
export function flySharedDatabaseName(app: string): string {
  return flyDatabaseName(`${app}/apps`);
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
    await attachAndClaim(target, { database: name, user: name, claim: claimScript(name) });
  } catch (error) {
    throw databaseError(error, target);
  }
  return { name, parent: target.cluster };
}

/**
 * Makes the database a pull request's apps share, `name`, owned by a role of the same name
 * that cannot log in: the apps' users (attachFlyPostgresUser) act as it. No Fly app is
 * attached: the pull request's own row has none. Harmless to repeat; a role or database a
 * run that stopped half-way made is taken over.
 */
export async function ensureFlySharedDatabase(target: FlySharedTarget): Promise<FlyPostgresDatabase> {
  const name = checkedIdentifier(target.name);
  try {
    await sql(target, [STOP_ON_ERROR, ...sharedScript(name)]);
  } catch (error) {
    throw databaseError(error, target);
  }
  return { name, parent: target.cluster };
}

/**
 * `/preview reset-db` with apps: the shared database dropped (its sessions closed) and made
 * again, empty, for the same owner. The apps' users keep their membership and setting,
 * which belong to the roles, so every app's secret stays right; their redeploys migrate it.
 */
export async function resetFlySharedDatabase(target: FlySharedTarget): Promise<FlyPostgresDatabase> {
  const name = checkedIdentifier(target.name);
  try {
    await sql(target, [STOP_ON_ERROR, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE);`, ...sharedScript(name)]);
  } catch (error) {
    throw databaseError(error, target);
  }
  return { name, parent: target.cluster };
}

/**
 * Gives one app of a pull request a user of its own on the apps' shared database, made by
 * `postgres attach` (which reuses the database under --yes) and setting `variable` on the
 * app, as ensureFlyPostgres does for a single app, then makes it act as the database's
 * owner: a member of its role, whose sessions start as that role (`ALTER ROLE … SET role`),
 * so whatever one app's migrations create, every app's user owns alike. flypg's
 * pg_read_all_data and pg_write_all_data are taken back. Harmless to repeat.
 */
export async function attachFlyPostgresUser(target: FlyPostgresTarget & { variable: string; database: string }): Promise<FlyPostgresUser> {
  const user = checkedName(target.app);
  const database = checkedIdentifier(target.database);
  try {
    await attachAndClaim(target, { database, user, claim: memberScript(user, database) });
  } catch (error) {
    // Its owner role is gone, so the database is not the one the pull request's run made.
    if (sqlFailed(error, MISSING_ROLE(database))) {
      throw new DatabaseError(
        `The pull request's database "${database}" is gone from the Fly Postgres cluster "${target.cluster}": \`/preview redeploy\` makes it again, empty`,
        false,
      );
    }
    throw databaseError(error, target);
  }
  return { user, database, parent: target.cluster };
}

/**
 * Drops a database and the role of the same name (a preview's user, or the role that owns
 * the apps' shared database), then unsets `variable` on the app when the app is still
 * there. WITH (FORCE) closes the preview's own connections. Doing what `postgres detach`
 * does (detach.go:137-166) without its prompt; its third step, removing Fly's attachment
 * record, has no command that runs without a terminal, and the record goes with the app.
 * `name`: the database, when it is not named after `app`. "absent" when there was nothing
 * to drop; harmless to repeat.
 */
export async function dropFlyPostgres(target: FlyPostgresTarget & { variable?: string; name?: string }): Promise<"dropped" | "absent"> {
  const name = target.name === undefined ? checkedName(target.app) : checkedIdentifier(target.name);
  try {
    const lines = await sqlUnlessGone(target, dropScript(name));
    if (target.variable) await target.flyctl.unsetSecrets(target.app, [target.variable], target.signal);
    return lines !== "no cluster" && !(skipped(lines, "database", name) && skipped(lines, "role", name)) ? "dropped" : "absent";
  } catch (error) {
    throw databaseError(error, target);
  }
}

/**
 * Drops one app's user of the apps' shared database, which stays (an app removed from
 * `apps:`, or the pull request closing). NOLOGIN first: should the drop be refused (the
 * user owns something in the shared database, made after a `SET ROLE NONE`), its URL no
 * longer opens a session, and the record stays for the sweep, which drops it once the
 * database is gone. "absent" when there was no such user; harmless to repeat.
 */
export async function dropFlyPostgresUser(target: FlySharedTarget): Promise<"dropped" | "absent"> {
  const name = checkedIdentifier(target.name);
  try {
    const lines = await sqlUnlessGone(target, [
      STOP_ON_ERROR,
      `SELECT 'ALTER ROLE "${name}" NOLOGIN' FROM pg_roles WHERE rolname = '${name}'\\gexec`,
      ...dropRoleScript(name).slice(1),
    ]);
    return lines !== "no cluster" && !skipped(lines, "role", name) ? "dropped" : "absent";
  } catch (error) {
    throw databaseError(error, target);
  }
}

/** A cluster that is gone took every database and role on it along. */
async function sqlUnlessGone(target: Pick<FlyPostgresTarget, "flyctl" | "cluster" | "signal">, script: string[]): Promise<string[] | "no cluster"> {
  try {
    return await sql(target, script);
  } catch (error) {
    if (!(error instanceof FlyError && error.kind === "not_found" && error.detail?.startsWith("get app: "))) throw error;
    return "no cluster";
  }
}

const skipped = (lines: string[], what: string, name: string) => lines.some((line) => line.includes(`NOTICE:  ${what} "${name}" does not exist, skipping`));

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
      await reattach(target, { database: name, user: name, claim: claimScript(name) });
    } catch (again) {
      throw databaseError(again, target);
    }
  }
  return { name, parent: target.cluster };
}

/** What an attach makes: `user` on `database`, and the script that then gives the user its rights. */
interface Attachment {
  database: string;
  user: string;
  claim: string[];
}

/**
 * attach, taking over what a run that stopped half-way left, then `claim`. A secret left by
 * an earlier attach whose user has since gone points at nothing: the app is attached afresh.
 */
async function attachAndClaim(target: FlyPostgresTarget & { variable: string }, made: Attachment): Promise<void> {
  try {
    await attach(target, made);
  } catch (error) {
    if (refusal(error, LEFTOVER_USER(made.user))) {
      // attach creates the user before it sets the secret (attach.go:314, :332): a run that
      // stopped in between left a user whose password nobody knows. Drop it and attach
      // again; the database, if made, is reused as attach reuses one under --yes.
      await sql(target, dropRoleScript(made.user));
      await attach(target, made);
    } else if (refusal(error, SECRET_SET(target.variable))) {
      // attach sets the secret last, so an earlier attach finished; only our record of it
      // was lost. The claim below checks that its user is still there.
    } else {
      throw error;
    }
  }
  try {
    await sql(target, made.claim);
  } catch (error) {
    if (!sqlFailed(error, MISSING_ROLE(made.user))) throw error;
    await reattach(target, made);
  }
}

async function reattach(target: FlyPostgresTarget & { variable: string }, made: Attachment): Promise<void> {
  await target.flyctl.unsetSecrets(target.app, [target.variable], target.signal);
  await attach(target, made);
  await sql(target, made.claim);
}

async function attach(target: FlyPostgresTarget & { variable: string }, made: Attachment): Promise<void> {
  await target.flyctl.postgresAttach(target.cluster, target.app, {
    database: made.database,
    user: made.user,
    variable: target.variable,
    signal: target.signal,
  });
}

async function sql(target: Pick<FlyPostgresTarget, "flyctl" | "cluster" | "signal">, script: string[]): Promise<string[]> {
  return target.flyctl.postgresSql(target.cluster, `${script.join("\n")}\n`, target.signal);
}

// One statement a line: psql runs each on its own (DROP and CREATE DATABASE cannot run in a
// transaction), stops at the first error (exit 3), and `\gexec` runs what a query returns,
// which is how a statement runs only when something exists.
const STOP_ON_ERROR = "\\set ON_ERROR_STOP on";

/**
 * Makes the database the user's own and closes it to everyone else. attach's non-superuser
 * gets pg_read_all_data and pg_write_all_data (postgres-flex admin.GrantAccess) and every
 * database lets PUBLIC connect, so without this one preview's code could read another's.
 * Those grants go first, so a script stopped by an error never leaves them.
 */
function claimScript(name: string): string[] {
  return [
    STOP_ON_ERROR,
    revokeAllData(name),
    `SELECT 'CREATE DATABASE "${name}" OWNER "${name}"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${name}')\\gexec`,
    ...ownedBy(name),
  ];
}

/** The apps' shared database `name`, owned by the role `name`, which cannot log in. */
function sharedScript(name: string): string[] {
  return [
    `SELECT 'CREATE ROLE "${name}" NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${name}')\\gexec`,
    `SELECT 'CREATE DATABASE "${name}" OWNER "${name}"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${name}')\\gexec`,
    ...ownedBy(name),
  ];
}

/**
 * An app's `user` on the apps' shared `database`: flypg's grants taken back and the
 * database closed to PUBLIC and owned by its role again (attach made it, owned by postgres
 * and open to PUBLIC, if it was gone) before anything that can fail, so a script stopped by
 * an error leaves the user with no rights; then the user holds the owner role's rights and
 * its sessions start as that role, so the tables one app's migrations create belong to the
 * role every app acts as. The setting is the role's (not per database): a reset's new
 * database keeps it.
 */
function memberScript(user: string, database: string): string[] {
  return [STOP_ON_ERROR, revokeAllData(user), ...ownedBy(database), `GRANT "${database}" TO "${user}";`, `ALTER ROLE "${user}" SET role = '${database}';`];
}

/** The database closed to PUBLIC, and owned by the role of its name. */
function ownedBy(name: string): string[] {
  return [`REVOKE CONNECT, TEMPORARY ON DATABASE "${name}" FROM PUBLIC;`, `ALTER DATABASE "${name}" OWNER TO "${name}";`];
}

// flypg's grant of every table of every database: a preview owns its database (or acts as
// its owner) and needs neither, and with them its code could read what else the cluster holds.
function revokeAllData(user: string): string {
  return `REVOKE pg_read_all_data, pg_write_all_data FROM "${user}";`;
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
  return checkedIdentifier(flyDatabaseName(app));
}

// flyDatabaseName only makes such names, and the store only records them; this keeps a
// future change from reaching the SQL.
function checkedIdentifier(name: string): string {
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
function databaseError(error: unknown, target: Pick<FlyPostgresTarget, "flyctl" | "cluster"> & { app?: string }): unknown {
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
  if (/^failed retrieving app /.test(detail) && target.app) {
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

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DatabaseError } from "../src/database/errors.js";
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
} from "../src/database/fly-postgres.js";
import { Flyctl, FlyError, type FlyctlOptions } from "../src/fly/index.js";
import { appName } from "../src/model/app-name.js";
import { createFakeFly, secretDigest, type FakeFly } from "./fake-flyctl/control.js";

const TOKEN = "fo1_fake-token-7c1d2e3f";
const CLUSTER = "acme-preview-db";
const APP = "pr-42-acme-web";
const NAME = "pr_42_acme_web";
const VARIABLE = "DATABASE_URL";

let fly: FakeFly;
let home: string;

function flyctl(overrides: Partial<FlyctlOptions> = {}): Flyctl {
  return new Flyctl({ path: fly.path, token: TOKEN, org: "personal", retry: { attempts: 3, baseDelayMs: 5 }, ...overrides });
}

function target(driver = flyctl(), app = APP) {
  return { flyctl: driver, cluster: CLUSTER, app, variable: VARIABLE };
}

async function databaseError(promise: Promise<unknown>): Promise<DatabaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatabaseError);
  return error as DatabaseError;
}

function connectionUrl(password: string, name = NAME): string {
  return `postgres://${name}:${password}@${CLUSTER}.flycast:5432/${name}?sslmode=disable`;
}

/** Runs the fake as a person would, without the driver. */
function runFake(args: string[]) {
  return execa(fly.path, args, { reject: false, stdin: "ignore", env: { FLY_API_TOKEN: TOKEN, HOME: home } });
}

function sqlScripts(): string[] {
  return fly
    .calls()
    .filter((call) => call.argv[0] === "ssh")
    .map((call) => call.stdin ?? "");
}

beforeEach(async () => {
  fly = await createFakeFly();
  home = mkdtempSync(join(tmpdir(), "fly-postgres-home-"));
  fly.createCluster(CLUSTER);
  fly.seedApp(APP, "personal");
});

afterEach(async () => {
  await fly.cleanup();
  rmSync(home, { recursive: true, force: true });
});

describe("the name of a preview's database and user", () => {
  it("is the app's name with underscores, so an operator knows whose it is", () => {
    expect(flyDatabaseName("pr-42-acme-web")).toBe("pr_42_acme_web");
    expect(flyDatabaseName(appName("Acme", "Web.App", 7))).toBe("pr_7_acme_web_app");
  });

  it("stays a valid Postgres identifier for every app name, long ones too", () => {
    const long = appName("a-very-long-organization-name", "an-even-longer-repository-name-here", 123456);
    expect(long).toHaveLength(63);
    expect(flyDatabaseName(long)).toBe(long.replaceAll("-", "_"));
    expect(Buffer.byteLength(flyDatabaseName(long))).toBe(63);
  });

  it("cuts a name too long to 63 bytes with a hash of the whole, so names sharing a long start differ", () => {
    const start = `pr-1-${"x".repeat(70)}`;
    const a = flyDatabaseName(`${start}-alpha`);
    const b = flyDatabaseName(`${start}-beta`);
    expect(a).not.toBe(b);
    for (const name of [a, b]) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z][a-z0-9_]*__[0-9a-f]{8}$/);
    }
  });

  it("never gives two apps the same name, even one built to look like another's cut name", () => {
    const cut = flyDatabaseName("Pr-1-Web");
    const lookalike = cut.replace("__", "-").replaceAll("_", "-");
    const apps = [
      "Pr-1-Web",
      "pr-1-web",
      "pr-1-web.",
      "pr-1-web-",
      "pr--1-web",
      lookalike,
      "pg-stat-x",
      "9-lives",
      `pr-2-${"y".repeat(80)}`,
      `pr-2-${"y".repeat(81)}`,
    ];
    for (let n = 1; n <= 200; n++) apps.push(appName(`owner-${n % 7}`, `repo-${"r".repeat(n % 60)}`, n));
    const names = apps.map(flyDatabaseName);
    expect(new Set(names).size).toBe(new Set(apps).size);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9_]{0,62}$/);
    // Postgres keeps the pg_ prefix for its own roles.
    expect(flyDatabaseName("pg-stat-x")).not.toMatch(/^pg_/);
  });
});

describe("attaching a preview's database", () => {
  it("makes a database and a user named after the app, sets the secret, and never a superuser", async () => {
    expect(await ensureFlyPostgres(target())).toEqual({ name: NAME, parent: CLUSTER });

    const attach = fly.calls().find((call) => call.argv[0] === "postgres");
    expect(attach?.argv).toEqual([
      "postgres",
      "attach",
      CLUSTER,
      "-a",
      APP,
      "--database-name",
      NAME,
      "--database-user",
      NAME,
      "--variable-name",
      VARIABLE,
      "--superuser=false",
      "--yes",
    ]);
    const cluster = fly.cluster(CLUSTER);
    expect(cluster.users[NAME]).toMatchObject({ superuser: false });
    // The database is the user's own, and closed to every other preview's user.
    expect(cluster.databases[NAME]).toMatchObject({ owner: NAME, publicConnect: false });
    // Nor does it keep flypg's read and write of every database on the cluster.
    expect(cluster.users[NAME]).toMatchObject({ superuser: false, readWriteAll: false });
    expect(cluster.attachments).toEqual([expect.objectContaining({ app: APP, database: NAME, user: NAME, variable: VARIABLE })]);
    expect(fly.apps()[APP]?.secrets[VARIABLE]).toEqual({
      digest: secretDigest(connectionUrl(cluster.users[NAME]!.password!)),
      status: "Staged",
    });
  });

  it("keeps the connection string flyctl prints out of every log, and hides it from then on", async () => {
    const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn() };
    const driver = flyctl({ log });
    // A retried psql run puts flyctl's error in a warning, so the logs hold more than commands.
    fly.setBehavior({ ssh: [{ fail: "transient" }] });
    await ensureFlyPostgres(target(driver));

    const password = fly.cluster(CLUSTER).users[NAME]!.password!;
    expect(password).toMatch(/^[A-Za-z0-9]{15}$/);
    const logged = JSON.stringify([log.info.mock.calls, log.debug.mock.calls, log.warn.mock.calls]);
    expect(log.warn).toHaveBeenCalled();
    expect(logged).not.toContain(password);
    expect(logged).not.toContain(TOKEN);
    expect(JSON.stringify(fly.calls().map((call) => [call.argv, call.stdin]))).not.toContain(password);
    expect(driver.redactor.redact(`  ${VARIABLE}=${connectionUrl(password)}`)).toBe(`  ${VARIABLE}=***`);
    expect(driver.redactor.redact(`password ${password}`)).toBe("password ***");
  });

  it("a second time reuses what the first made", async () => {
    await ensureFlyPostgres(target());
    const before = { cluster: fly.cluster(CLUSTER), secret: fly.apps()[APP]?.secrets[VARIABLE] };

    expect(await ensureFlyPostgres(target())).toEqual({ name: NAME, parent: CLUSTER });
    expect(fly.cluster(CLUSTER)).toEqual(before.cluster);
    expect(fly.apps()[APP]?.secrets[VARIABLE]).toEqual(before.secret);
  });

  it("takes over a user left by an attach that stopped before setting the secret", async () => {
    // The run stops after "Creating user", and the driver's retry finds the user there.
    fly.setBehavior({ attach: [{ fail: "timeout", at: "user" }] });
    await ensureFlyPostgres(target());

    const attaches = fly.calls().filter((call) => call.argv[0] === "postgres");
    expect(attaches.map((call) => call.exitCode)).toEqual([126, 1, 0]);
    expect(sqlScripts()[0]).toContain(`DROP ROLE IF EXISTS "${NAME}";`);
    const cluster = fly.cluster(CLUSTER);
    expect(cluster.users[NAME]).toMatchObject({ superuser: false });
    expect(fly.apps()[APP]?.secrets[VARIABLE]?.digest).toBe(secretDigest(connectionUrl(cluster.users[NAME]!.password!)));
  });

  it("reuses a database left by an attach that stopped after making it", async () => {
    fly.setBehavior({ attach: [{ fail: "not_found", message: "machine crashed", at: "database" }] });
    await expect(ensureFlyPostgres(target())).rejects.toBeInstanceOf(DatabaseError);
    expect(fly.cluster(CLUSTER).databases[NAME]).toBeDefined();
    expect(fly.cluster(CLUSTER).users[NAME]).toBeUndefined();
    fly.updateCluster(CLUSTER, (cluster) => {
      cluster.databases[NAME]!.sessions = 0;
      cluster.databases[NAME]!.publicCreate = false; // a mark flypg's CreateDatabase would not leave
    });

    await ensureFlyPostgres(target());
    expect(fly.cluster(CLUSTER).databases[NAME]).toMatchObject({ owner: NAME, publicCreate: false });
    expect(fly.cluster(CLUSTER).users[NAME]).toBeDefined();
  });

  it("replaces a secret whose user was dropped since, so the preview never keeps a dead URL", async () => {
    await ensureFlyPostgres(target());
    const stale = fly.apps()[APP]?.secrets[VARIABLE]?.digest;
    fly.updateCluster(CLUSTER, (cluster) => {
      cluster.databases[NAME]!.owner = "postgres";
      delete cluster.users[NAME];
    });

    await ensureFlyPostgres(target());
    const cluster = fly.cluster(CLUSTER);
    const fresh = fly.apps()[APP]?.secrets[VARIABLE]?.digest;
    expect(fresh).not.toBe(stale);
    expect(fresh).toBe(secretDigest(connectionUrl(cluster.users[NAME]!.password!)));
    expect(cluster.databases[NAME]?.owner).toBe(NAME);
    expect(fly.calls().map((call) => call.argv.slice(0, 2).join(" "))).toContain("secrets unset");
  });

  it("leaves no flyctl agent running, even after a failed attach", async () => {
    await ensureFlyPostgres(target());
    fly.createCluster("stopped-db", { primary: false });
    await expect(ensureFlyPostgres({ ...target(), cluster: "stopped-db" })).rejects.toBeInstanceOf(DatabaseError);

    expect(fly.agents()).toEqual([]);
    const wireguard = fly.calls().filter((call) => ["postgres", "ssh"].includes(call.argv[0]!));
    const stops = fly.calls().filter((call) => call.argv.join(" ") === "agent stop");
    expect(stops).toHaveLength(wireguard.length);
    // Each stop runs in the HOME of the run that started the agent.
    expect(stops.map((call) => call.home)).toEqual(wireguard.map((call) => call.home));
  });
});

describe("when attaching fails", () => {
  it("a cluster that is not in FLY_ORG's organization is a permanent error that says how to make one", async () => {
    for (const cluster of ["no-such-db", "someone-elses-db"]) {
      if (cluster === "someone-elses-db") fly.createCluster(cluster, { org: "other-org" });
      const error = await databaseError(ensureFlyPostgres({ ...target(), cluster }));
      expect(error.transient).toBe(false);
      expect(error.reason).toBe(
        `The Fly Postgres cluster "${cluster}" does not exist in the Fly.io organization "personal" (FLY_ORG), or FLY_API_TOKEN cannot see it. ` +
          `Create it once with \`flyctl postgres create --name ${cluster} --org personal\`, or name an existing one in .preview.yml's database.fly_postgres.cluster`,
      );
    }
  });

  it("an app that is not a Postgres cluster is named as such", async () => {
    fly.seedApp("just-an-app", "personal");
    const error = await databaseError(ensureFlyPostgres({ ...target(), cluster: "just-an-app" }));
    expect(error.transient).toBe(false);
    expect(error.reason).toContain('"just-an-app" is a Fly.io app but not a Fly Postgres cluster');
  });

  it("a preview app that does not exist yet is named, not mistaken for the cluster", async () => {
    const error = await databaseError(ensureFlyPostgres(target(flyctl(), "pr-9-acme-web")));
    expect(error.transient).toBe(false);
    expect(error.reason).toBe('The preview\'s Fly.io app "pr-9-acme-web" does not exist, so no database can be attached to it');
  });

  it("a cluster without a running primary says so", async () => {
    fly.createCluster("stopped-db", { primary: false });
    const error = await databaseError(ensureFlyPostgres({ ...target(), cluster: "stopped-db" }));
    expect(error.transient).toBe(false);
    expect(error.reason).toBe(
      'The Fly Postgres cluster "stopped-db" has no running primary (no active leader found). Start it or check it with `flyctl status -a stopped-db`',
    );
  });

  it("a temporary flyctl failure that outlasts the retries is a transient error", async () => {
    fly.setBehavior({ attach: [{ fail: "transient" }, { fail: "transient" }, { fail: "transient" }] });
    const error = await databaseError(ensureFlyPostgres(target()));
    expect(error.transient).toBe(true);
    expect(error.reason).toContain("Fly.io kept failing with a temporary error (gave up after 3 attempts)");
    expect(fly.cluster(CLUSTER).users[NAME]).toBeUndefined();
  });

  it("psql losing the cluster is transient; a cancelled run stays a cancelled FlyError", async () => {
    await ensureFlyPostgres(target());
    fly.setBehavior({ ssh: [{ fail: "psql_unreachable" }] });
    const lost = await databaseError(dropFlyPostgres(target()));
    expect(lost.transient).toBe(true);
    expect(lost.reason).toBe(`Fly Postgres: psql lost its connection to the cluster "${CLUSTER}"`);

    const cancelled = await dropFlyPostgres({ ...target(), signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(cancelled).toBeInstanceOf(FlyError);
    expect((cancelled as FlyError).kind).toBe("cancelled");
    expect(fly.cluster(CLUSTER).databases[NAME]).toBeDefined();
  });

  it("a statement the cluster refuses fails with Postgres's own words", async () => {
    await ensureFlyPostgres(target());
    // Something of the user's that DROP OWNED cannot reach: another database it owns.
    fly.updateCluster(CLUSTER, (cluster) => {
      cluster.databases.elsewhere = { owner: NAME, publicConnect: true, publicCreate: false, sessions: 0 };
    });
    const error = await databaseError(dropFlyPostgres(target()));
    expect(error.transient).toBe(false);
    expect(error.reason).toBe(
      `Fly Postgres refused a statement on the cluster "${CLUSTER}": ERROR:  role "${NAME}" cannot be dropped because some objects depend on it`,
    );
  });
});

describe("dropping a preview's database", () => {
  it("drops the database even while the preview is connected, then its user and its secret", async () => {
    await ensureFlyPostgres(target());
    fly.updateCluster(CLUSTER, (cluster) => void (cluster.databases[NAME]!.sessions = 2));

    expect(await dropFlyPostgres(target())).toBe("dropped");
    expect(sqlScripts().at(-1)).toContain(`DROP DATABASE IF EXISTS "${NAME}" WITH (FORCE);`);
    const cluster = fly.cluster(CLUSTER);
    expect(Object.keys(cluster.databases)).toEqual(["postgres"]);
    expect(Object.keys(cluster.users)).toEqual(["postgres"]);
    expect(fly.apps()[APP]?.secrets).toEqual({});
  });

  it("a second drop, or one after the app and the cluster are gone, finds nothing", async () => {
    await ensureFlyPostgres(target());
    expect(await dropFlyPostgres(target())).toBe("dropped");
    expect(await dropFlyPostgres(target())).toBe("absent");
    await flyctl().destroyApp(APP);
    expect(await dropFlyPostgres(target())).toBe("absent");
    expect(await dropFlyPostgres({ ...target(), cluster: "deleted-cluster" })).toBe("absent");
  });

  it("leaves other previews' databases alone, and the next PR with the same number starts clean", async () => {
    const other = "pr-43-acme-web";
    fly.seedApp(other, "personal");
    await ensureFlyPostgres(target());
    await ensureFlyPostgres(target(flyctl(), other));
    await dropFlyPostgres(target());
    await flyctl().destroyApp(APP);
    expect(Object.keys(fly.cluster(CLUSTER).databases).sort()).toEqual(["postgres", "pr_43_acme_web"]);

    fly.seedApp(APP, "personal");
    await ensureFlyPostgres(target());
    const attaches = fly.calls().filter((call) => call.argv[0] === "postgres");
    expect(attaches.at(-1)?.exitCode).toBe(0);
    expect(fly.cluster(CLUSTER).attachments.map((a) => a.app).sort()).toEqual([APP, other]);
  });
});

describe("resetting a preview's database", () => {
  it("makes the database again, empty, for the same user, so the app's secret stays right", async () => {
    await ensureFlyPostgres(target());
    const secret = fly.apps()[APP]?.secrets[VARIABLE];
    const password = fly.cluster(CLUSTER).users[NAME]?.password;
    fly.updateCluster(CLUSTER, (cluster) => void (cluster.databases[NAME]!.sessions = 1));

    expect(await resetFlyPostgres(target())).toEqual({ name: NAME, parent: CLUSTER });
    expect(sqlScripts().at(-1)).toBe(
      [
        "\\set ON_ERROR_STOP on",
        `DROP DATABASE IF EXISTS "${NAME}" WITH (FORCE);`,
        `CREATE DATABASE "${NAME}" OWNER "${NAME}";`,
        `REVOKE CONNECT, TEMPORARY ON DATABASE "${NAME}" FROM PUBLIC;`,
        "",
      ].join("\n"),
    );
    // sessions: 0 and no flypg grant: a new database, not the old one.
    expect(fly.cluster(CLUSTER).databases[NAME]).toEqual({ owner: NAME, publicConnect: false, publicCreate: false, sessions: 0 });
    expect(fly.cluster(CLUSTER).users[NAME]?.password).toBe(password);
    expect(fly.apps()[APP]?.secrets[VARIABLE]).toEqual(secret);
  });

  it("attaches afresh when the preview's user is gone", async () => {
    await ensureFlyPostgres(target());
    const stale = fly.apps()[APP]?.secrets[VARIABLE]?.digest;
    fly.updateCluster(CLUSTER, (cluster) => {
      cluster.databases[NAME]!.owner = "postgres";
      delete cluster.users[NAME];
    });

    await resetFlyPostgres(target());
    const cluster = fly.cluster(CLUSTER);
    expect(cluster.databases[NAME]?.owner).toBe(NAME);
    expect(fly.apps()[APP]?.secrets[VARIABLE]?.digest).not.toBe(stale);
    expect(fly.apps()[APP]?.secrets[VARIABLE]?.digest).toBe(secretDigest(connectionUrl(cluster.users[NAME]!.password!)));
  });
});

describe("the database a pull request's apps share", () => {
  const PR = "pr-42-acme-shop";
  const SHARED = flySharedDatabaseName(PR);
  const API = "pr-42-api-acme-shop";
  const WEB = "pr-42-web-acme-shop";
  const shared = (driver = flyctl()) => ({ flyctl: driver, cluster: CLUSTER, name: SHARED });
  const member = (app: string, driver = flyctl()) => ({ ...target(driver, app), database: SHARED });
  /** The URL attach set on `app`, rebuilt from its user's password, once its digest is checked. */
  const urlOf = (app: string) => {
    const user = flyDatabaseName(app);
    const url = `postgres://${user}:${fly.cluster(CLUSTER).users[user]!.password}@${CLUSTER}.flycast:5432/${SHARED}?sslmode=disable`;
    expect(fly.apps()[app]?.secrets[VARIABLE]?.digest).toBe(secretDigest(url));
    return url;
  };

  beforeEach(() => {
    fly.seedApp(API, "personal");
    fly.seedApp(WEB, "personal");
  });

  it("is named after the pull request, never like a database or user named after an app", () => {
    expect(SHARED).toMatch(/^pr_42_acme_shop_apps__[0-9a-f]{8}$/);
    const long = appName("a-very-long-organization-name", "an-even-longer-repository-name-here", 123456);
    expect(Buffer.byteLength(flySharedDatabaseName(long))).toBeLessThanOrEqual(63);
    // The single app's database, and every app's user, are other names.
    expect([flyDatabaseName(PR), flyDatabaseName(API), flyDatabaseName(WEB)]).not.toContain(SHARED);
    expect(flySharedDatabaseName("pr-43-acme-shop")).not.toBe(SHARED);
  });

  it("is owned by a role that cannot log in, and closed to PUBLIC; made again, it is the same", async () => {
    expect(await ensureFlySharedDatabase(shared())).toEqual({ name: SHARED, parent: CLUSTER });
    const made = fly.cluster(CLUSTER);
    expect(made.databases[SHARED]).toMatchObject({ owner: SHARED, publicConnect: false });
    expect(made.users[SHARED]).toEqual({ superuser: false, readWriteAll: false, login: false });
    // No attach: no app, no password anywhere.
    expect(fly.calls().some((call) => call.argv[0] === "postgres")).toBe(false);

    await ensureFlySharedDatabase(shared());
    expect(fly.cluster(CLUSTER)).toEqual(made);
  });

  it("takes over a role a run that stopped half-way made, without its database", async () => {
    fly.updateCluster(CLUSTER, (cluster) => void (cluster.users[SHARED] = { superuser: false, readWriteAll: false, login: false }));
    await ensureFlySharedDatabase(shared());
    expect(fly.cluster(CLUSTER).databases[SHARED]).toMatchObject({ owner: SHARED, publicConnect: false });
  });

  it("gives each app a user of its own that opens the shared database as its owner, and reads nothing else", async () => {
    await ensureFlySharedDatabase(shared());
    for (const app of [API, WEB]) expect(await attachFlyPostgresUser(member(app))).toEqual({ user: flyDatabaseName(app), database: SHARED, parent: CLUSTER });

    const attaches = fly.calls().filter((call) => call.argv[0] === "postgres");
    expect(attaches.map((call) => call.argv.slice(2, 11))).toEqual(
      [API, WEB].map((app) => [CLUSTER, "-a", app, "--database-name", SHARED, "--database-user", flyDatabaseName(app), "--variable-name", VARIABLE]),
    );
    expect(attaches.every((call) => call.argv.includes("--superuser=false"))).toBe(true);
    const cluster = fly.cluster(CLUSTER);
    expect(cluster.databases[SHARED]).toMatchObject({ owner: SHARED, publicConnect: false });
    expect(cluster.attachments.map((a) => [a.app, a.database])).toEqual([
      [API, SHARED],
      [WEB, SHARED],
    ]);
    for (const app of [API, WEB]) {
      const user = flyDatabaseName(app);
      expect(cluster.users[user]).toMatchObject({ superuser: false, readWriteAll: false, login: true, memberOf: [SHARED], settings: { role: SHARED } });
      // Whatever either app creates belongs to the one role both act as.
      expect(fly.session(CLUSTER, urlOf(app))).toEqual({ user, database: SHARED, currentRole: SHARED, readsEverything: false });
    }
    // Another preview's database stays closed to them.
    fly.seedApp(APP, "personal");
    await ensureFlyPostgres(target());
    const intoOther = urlOf(API).replace(`/${SHARED}?`, `/${NAME}?`);
    expect(() => fly.session(CLUSTER, intoOther)).toThrow(`FATAL:  permission denied for database "${NAME}"`);
  });

  it("a second time changes nothing, and a user left by an attach that stopped is taken over", async () => {
    await ensureFlySharedDatabase(shared());
    await attachFlyPostgresUser(member(API));
    const before = { cluster: fly.cluster(CLUSTER), secret: fly.apps()[API]?.secrets[VARIABLE] };
    await attachFlyPostgresUser(member(API));
    expect(fly.cluster(CLUSTER)).toEqual(before.cluster);
    expect(fly.apps()[API]?.secrets[VARIABLE]).toEqual(before.secret);

    fly.setBehavior({ attach: [{ fail: "auth", at: "user" }] });
    await expect(attachFlyPostgresUser(member(WEB))).rejects.toBeInstanceOf(DatabaseError);
    expect(fly.apps()[WEB]?.secrets[VARIABLE]).toBeUndefined();
    await attachFlyPostgresUser(member(WEB));
    expect(fly.session(CLUSTER, urlOf(WEB)).currentRole).toBe(SHARED);
  });

  it("an app whose pull request's database is gone is told so, and gets no user that could act as another", async () => {
    await ensureFlySharedDatabase(shared());
    await dropFlyPostgres({ ...target(flyctl(), PR), name: SHARED });
    const error = await databaseError(attachFlyPostgresUser(member(API)));
    expect(error.transient).toBe(false);
    expect(error.reason).toBe(`The pull request's database "${SHARED}" is gone from the Fly Postgres cluster "${CLUSTER}": \`/preview redeploy\` makes it again, empty`);
    // attach made the database again and the user: neither opens anything.
    const cluster = fly.cluster(CLUSTER);
    expect(cluster.users[flyDatabaseName(API)]).toMatchObject({ readWriteAll: false });
    expect(cluster.users[flyDatabaseName(API)]?.memberOf).toBeUndefined();
    expect(cluster.databases[SHARED]).toMatchObject({ owner: "postgres", publicConnect: false });
    expect(() => fly.session(CLUSTER, urlOf(API))).toThrow(`FATAL:  permission denied for database "${SHARED}"`);
  });

  it("reset makes it again, empty and closed, and every app's URL still opens it as its owner", async () => {
    await ensureFlySharedDatabase(shared());
    await attachFlyPostgresUser(member(API));
    const secret = fly.apps()[API]?.secrets[VARIABLE];
    fly.updateCluster(CLUSTER, (cluster) => void (cluster.databases[SHARED]!.sessions = 2));

    expect(await resetFlySharedDatabase(shared())).toEqual({ name: SHARED, parent: CLUSTER });
    expect(sqlScripts().at(-1)).toContain(`DROP DATABASE IF EXISTS "${SHARED}" WITH (FORCE);`);
    expect(fly.cluster(CLUSTER).databases[SHARED]).toEqual({ owner: SHARED, publicConnect: false, publicCreate: false, sessions: 0 });
    expect(fly.apps()[API]?.secrets[VARIABLE]).toEqual(secret);
    expect(fly.session(CLUSTER, urlOf(API)).currentRole).toBe(SHARED);
  });

  it("dropping an app's user leaves the database and the other app's user; a second drop finds nothing", async () => {
    await ensureFlySharedDatabase(shared());
    await attachFlyPostgresUser(member(API));
    await attachFlyPostgresUser(member(WEB));
    const webUrl = urlOf(WEB);

    expect(await dropFlyPostgresUser({ ...shared(), name: flyDatabaseName(WEB) })).toBe("dropped");
    const cluster = fly.cluster(CLUSTER);
    expect(Object.keys(cluster.users).sort()).toEqual(["postgres", SHARED, flyDatabaseName(API)].sort());
    expect(cluster.databases[SHARED]).toBeDefined();
    expect(() => fly.session(CLUSTER, webUrl)).toThrow(`FATAL:  password authentication failed for user "${flyDatabaseName(WEB)}"`);
    expect(fly.session(CLUSTER, urlOf(API)).currentRole).toBe(SHARED);
    expect(await dropFlyPostgresUser({ ...shared(), name: flyDatabaseName(WEB) })).toBe("absent");
    expect(await dropFlyPostgresUser({ ...shared(), cluster: "deleted-cluster", name: flyDatabaseName(WEB) })).toBe("absent");
  });

  it("a user the cluster will not drop yet can no longer log in", async () => {
    await ensureFlySharedDatabase(shared());
    await attachFlyPostgresUser(member(API));
    const url = urlOf(API);
    // Something of the user's that DROP OWNED cannot reach.
    fly.updateCluster(CLUSTER, (cluster) => void (cluster.databases.elsewhere = { owner: flyDatabaseName(API), publicConnect: true, publicCreate: false, sessions: 0 }));
    const error = await databaseError(dropFlyPostgresUser({ ...shared(), name: flyDatabaseName(API) }));
    expect(error.reason).toContain(`role "${flyDatabaseName(API)}" cannot be dropped because some objects depend on it`);
    expect(() => fly.session(CLUSTER, url)).toThrow(`FATAL:  role "${flyDatabaseName(API)}" is not permitted to log in`);
  });

  it("dropping it drops its owner role too; the apps' users stay, members of nothing", async () => {
    await ensureFlySharedDatabase(shared());
    await attachFlyPostgresUser(member(API));
    fly.updateCluster(CLUSTER, (cluster) => void (cluster.databases[SHARED]!.sessions = 1));
    expect(await dropFlyPostgres({ ...target(flyctl(), PR), name: SHARED })).toBe("dropped");
    const cluster = fly.cluster(CLUSTER);
    expect(cluster.databases[SHARED]).toBeUndefined();
    expect(cluster.users[SHARED]).toBeUndefined();
    expect(cluster.users[flyDatabaseName(API)]?.memberOf).toEqual([]);
    expect(await dropFlyPostgres({ ...target(flyctl(), PR), name: SHARED })).toBe("absent");
  });
});

describe("the fake flyctl's Postgres commands refuse what flyctl refuses", () => {
  it("attach without --superuser=false makes a superuser, as flyctl's default does", async () => {
    const run = await runFake(["postgres", "attach", CLUSTER, "-a", APP, "--yes"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain("Unmanaged Fly Postgres is not supported by Fly.io Support");
    expect(run.stdout.split("\n").slice(0, 4)).toEqual(["Checking for existing attachments", "Registering attachment", "Creating database", "Creating user"]);
    expect(run.stdout).toContain(`Postgres cluster ${CLUSTER} is now attached to ${APP}`);
    expect(fly.cluster(CLUSTER).users[NAME]).toMatchObject({ superuser: true });
  });

  it("attach refuses a secret already set, a user that exists, and a database that exists without --yes", async () => {
    expect((await runFake(["postgres", "attach", CLUSTER, "-a", APP, "--superuser=false"])).exitCode).toBe(0);
    const again = await runFake(["postgres", "attach", CLUSTER, "-a", APP]);
    expect(again.stderr).toContain(`Error: consumer app "${APP}" already contains a secret named DATABASE_URL`);

    const otherVariable = await runFake(["postgres", "attach", CLUSTER, "-a", APP, "--variable-name", "OTHER_URL"]);
    expect(otherVariable.stderr).toContain("Error: prompt: non interactive");
    const withYes = await runFake(["postgres", "attach", CLUSTER, "-a", APP, "--variable-name", "OTHER_URL", "--yes"]);
    expect(withYes.stderr).toContain(`Error: database user "${NAME}" already exists. Please specify a new database user via --database-user`);
    expect([again.exitCode, otherVariable.exitCode, withYes.exitCode]).toEqual([1, 1, 1]);

    const missing = await runFake(["postgres", "attach", "nope", "-a", APP]);
    expect(missing.stderr).toContain('Error: failed retrieving postgres app nope: Could not find App "nope"');
    expect((await runFake(["postgres", "attach", "-a", APP])).stderr).toContain("Error: accepts 1 arg(s), received 0");
  });

  it("detach cannot run without a terminal, which is why the driver drops by itself", async () => {
    expect((await runFake(["postgres", "detach", CLUSTER, "-a", APP])).stderr).toContain("Error: no attachments found");
    await ensureFlyPostgres(target());
    const detach = await runFake(["postgres", "detach", CLUSTER, "-a", APP]);
    expect(detach.exitCode).toBe(1);
    expect(detach.stderr).toContain("Error: prompt: non interactive");
    expect((await runFake(["postgres", "detach", CLUSTER, "-a", APP, "--yes"])).stderr).toContain("Error: unknown flag: --yes");
    expect(fly.cluster(CLUSTER).users[NAME]).toBeDefined();
  });

  it("ssh console runs psql on the script it is given, stopping at the first error", async () => {
    const psql = (input: string) =>
      execa(fly.path, ["ssh", "console", "-a", CLUSTER, "--command", "connect postgres postgres"], {
        input,
        reject: false,
        env: { FLY_API_TOKEN: TOKEN, HOME: home },
      });
    const lenient = await psql("DROP ROLE nobody;\nDROP ROLE IF EXISTS nobody;\n");
    expect(lenient.exitCode).toBe(0);
    expect(lenient.stderr).toContain('psql:<stdin>:1: ERROR:  role "nobody" does not exist');
    expect(lenient.stderr).toContain('psql:<stdin>:2: NOTICE:  role "nobody" does not exist, skipping');

    const strict = await psql("\\set ON_ERROR_STOP on\nDROP ROLE nobody;\nDROP ROLE IF EXISTS nobody;\n");
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).not.toContain("NOTICE");
    expect(strict.stderr).toContain("Error: ssh shell: Process exited with status 3");

    fly.updateCluster(CLUSTER, (cluster) => {
      cluster.databases.busy = { owner: "postgres", publicConnect: true, publicCreate: false, sessions: 1 };
    });
    const busy = await psql('DROP DATABASE "busy";\n');
    expect(busy.stderr).toContain('ERROR:  database "busy" is being accessed by other users');
    expect(fly.cluster(CLUSTER).databases.busy).toBeDefined();

    // Roles as PostgreSQL 16 has them: NOLOGIN unless said, a second grant and a setting
    // naming no role only noticed, a grant to a role that does not exist refused.
    const roles = await psql(
      ["CREATE ROLE owner;", "CREATE ROLE someone LOGIN;", "GRANT owner TO someone;", "GRANT owner TO someone;", "ALTER ROLE someone SET role = 'nobody';", "GRANT owner TO nobody;"].join("\n"),
    );
    expect(roles.stdout.split("\n")).toEqual(["CREATE ROLE", "CREATE ROLE", "GRANT ROLE", "GRANT ROLE", "ALTER ROLE"]);
    expect(roles.stderr).toContain('psql:<stdin>:4: NOTICE:  role "someone" has already been granted membership in role "owner" by role "postgres"');
    expect(roles.stderr).toContain('psql:<stdin>:5: NOTICE:  role "nobody" does not exist');
    expect(roles.stderr).toContain('psql:<stdin>:6: ERROR:  role "nobody" does not exist');
    expect(fly.cluster(CLUSTER).users).toMatchObject({ owner: { login: false }, someone: { login: true, memberOf: ["owner"], settings: { role: "nobody" } } });
  });
});

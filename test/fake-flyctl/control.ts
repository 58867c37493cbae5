// Test-side handle on the fake flyctl: a private state directory per fake, and a
// launcher that points the fake at it, so parallel tests never share state.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

/** `psql_unreachable`: only for `ssh console`, psql cannot reach the cluster's primary (exit 2). */
/** `launch`: only for `console`, Fly cannot launch the one-off machine. */
export type FailureKind = "transient" | "build" | "health" | "auth" | "not_found" | "timeout" | "psql_unreachable" | "launch";

/** What a command run in a machine of the app (a release command, `console --command`) does. */
export interface CommandScript {
  /** Lines it prints. */
  output?: string[];
  /** Its exit code; default 0. */
  exitCode?: number;
  /** How long it runs after printing. */
  delayMs?: number;
}

/** One `console --command` run: the one-off machine it made. */
export interface OneOffRun {
  app: string;
  machine: string;
  command: string;
  image: string;
  env: Record<string, string>;
  region: string;
  guest: { cpu_kind: string; cpus: number; memory_mb: number };
}

/** One scripted outcome; an empty object means "behave normally this time". */
export interface Scripted {
  fail?: FailureKind;
  /** Replaces the realistic message of `fail` (printed as "Error: <message>"). */
  message?: string;
  exitCode?: number;
  /**
   * `postgres attach` only: the step after which the failure happens, leaving what the steps
   * before made (a crash half-way); default "start", before anything.
   */
  at?: "start" | "attachment" | "database" | "user";
  /** `postgres attach` only: pause after that step while the file `whileExists` exists (a test kills the process there). */
  hold?: "attachment" | "database" | "user";
  whileExists?: string;
}

export interface Behavior {
  create?: Scripted[];
  destroy?: Scripted[];
  list?: Scripted[];
  status?: Scripted[];
  deploy?: Scripted[];
  secrets?: Scripted[];
  machines?: Scripted[];
  orgs?: Scripted[];
  attach?: Scripted[];
  detach?: Scripted[];
  ssh?: Scripted[];
  /** `console` (a command in a one-off machine). */
  console?: Scripted[];
  /** What each command run in a machine of an app does, by its command line; unscripted ones print nothing and succeed. */
  commands?: Record<string, CommandScript>;
  /** The version `flyctl version` reports instead of 0.4.87. */
  version?: string;
  deployDelayMs?: number;
  holdDeployWhileExists?: string;
  echo?: boolean;
  ignoreSigterm?: boolean;
  /** `deploy` starts a child process, in flyctl's process group, that ignores SIGTERM. */
  deployChild?: boolean;
  /** The URL deploy announces instead of https://APP.fly.dev/. */
  url?: string;
  /** `deploy` prints one line of this many characters after verifying the config. */
  longLine?: number;
}

export interface Call {
  pid: number;
  argv: string[];
  stdin: string | null;
  tokenSet: boolean;
  /** Names of the environment variables flyctl was started with, sorted; never their values. */
  envNames: string[];
  /** HOME as flyctl saw it, or null when unset. */
  home: string | null;
  cwd: string;
  startedAt: string;
  endedAt?: string;
  exitCode?: number;
  signal?: string;
  /** True when the fake received SIGTERM and ignored it (behavior.ignoreSigterm). */
  ignoredSigterm?: boolean;
  /** The child a deploy started (behavior.deployChild). */
  childPid?: number;
}

export interface Deployment {
  at: string;
  image: string;
  region?: string;
  imageLabel?: string;
  workdir: string;
  config: string;
  /** The Dockerfile a build read; undefined for a release of an image (`--image`). */
  dockerfileText?: string;
  env: Record<string, string>;
  buildArgs: Record<string, string>;
  vm: { memory?: string; cpus?: number; cpuKind?: string };
  ha: boolean;
  strategy?: string;
  waitTimeout?: string;
  remoteOnly: boolean;
}

export interface Machine {
  id: string;
  name: string;
  state: string;
  region: string;
  config: {
    image: string;
    guest: { cpu_kind: string; cpus: number; memory_mb: number };
    metadata?: Record<string, string>;
    env?: Record<string, string>;
    init?: { exec?: string[] };
  };
  checks: Array<{ name: string; status: string; output?: string }>;
  created_at?: string;
}

export interface PostgresDatabase {
  owner: string;
  /** CONNECT and TEMPORARY for PUBLIC, as every new database has until revoked. */
  publicConnect: boolean;
  /** GRANT CREATE ON SCHEMA public TO PUBLIC, which flypg's CreateDatabase adds. */
  publicCreate: boolean;
  /** Sessions open on it: a DROP DATABASE without FORCE is refused while there are any. */
  sessions: number;
}

export interface PostgresUser {
  superuser: boolean;
  /** pg_read_all_data and pg_write_all_data, which flypg grants a user that is not a superuser. */
  readWriteAll: boolean;
  /** The password attach chose (the fake's cluster keeps it, so tests can look for it in logs). */
  password?: string;
  /** LOGIN: every user attach makes; a role made by `CREATE ROLE` has NOLOGIN. Unset: LOGIN. */
  login?: boolean;
  /** The roles it was granted (`GRANT role TO user`), whose privileges it inherits and may SET ROLE to. */
  memberOf?: string[];
  /** Its own settings (`ALTER ROLE user SET role = '…'`): `role` is the role its sessions start as. */
  settings?: { role?: string };
}

/** A session a connection URL opens, as PostgreSQL would let it in (see `FakeFly.session`). */
export interface PostgresSession {
  user: string;
  database: string;
  /** current_user: the role its statements run as, and which owns what it creates. */
  currentRole: string;
  /** Whether it may read and write every table of the cluster (superuser, pg_read_all_data and pg_write_all_data). */
  readsEverything: boolean;
}

export interface Attachment {
  id: string;
  app: string;
  database: string;
  user: string;
  variable: string;
}

/** A Fly Postgres cluster's own state: what `postgres attach` and psql change. */
export interface PostgresCluster {
  databases: Record<string, PostgresDatabase>;
  users: Record<string, PostgresUser>;
  /** Fly's attachment records (GraphQL AttachPostgresCluster). */
  attachments: Attachment[];
  /** A private IPv6 (flycast) address: attach writes the .flycast host. Default true. */
  flycast?: boolean;
}

export interface App {
  org: string;
  /** Set when the app is a Fly Postgres cluster. */
  postgres?: PostgresCluster;
  createdAt?: string;
  deployments: Deployment[];
  images: string[];
  secrets: Record<string, { digest: string; status: "Staged" | "Deployed" }>;
  machines: Machine[];
}

export interface FakeFly {
  /** Executable to use as FLYCTL_PATH; its directory can go on PATH as well. */
  path: string;
  stateDir: string;
  calls(): Call[];
  apps(): Record<string, App>;
  /** Every `console --command` run, in order. */
  oneOffRuns(): OneOffRun[];
  /** Replaces behavior.json and restarts every scripted queue from its first entry. */
  setBehavior(behavior: Behavior): void;
  /** Adds an app directly; an org outside `orgs` makes it another Fly account's app. */
  seedApp(name: string, org: string): void;
  /** Deletes an app behind the driver's back, as if destroyed from the Fly.io dashboard. */
  removeApp(name: string): void;
  /**
   * Adds a Fly Postgres cluster: an app in `org` (default the first of `orgs`) with the
   * `postgres` database and role and one started machine whose role check says primary.
   * `primary: false` leaves it without a leader (stopped or failing over).
   */
  createCluster(name: string, opts?: { org?: string; primary?: boolean; machines?: number }): void;
  /** The cluster's databases, users and attachments. */
  cluster(name: string): PostgresCluster;
  /** Changes a cluster behind the driver's back (a user dropped by hand, a session open). */
  updateCluster(name: string, change: (cluster: PostgresCluster) => void): void;
  /**
   * Opens, on paper, the session a connection URL that attach printed would open on the
   * cluster, by PostgreSQL's rules: the password of a role that may log in, a database it may
   * CONNECT to (PUBLIC's grant, or the privileges of its owner, held or inherited), and its
   * `role` setting applied when it is a member of that role (otherwise PostgreSQL only warns,
   * and the session stays the user's). Throws PostgreSQL's FATAL message when it is refused.
   */
  session(cluster: string, url: string): PostgresSession;
  /** The HOMEs whose flyctl agent is still running (started by attach or ssh console). */
  agents(): string[];
  /** SIGKILLs every fake still running, e.g. orphans of a server killed mid-deploy. */
  killRunning(): Promise<void>;
  cleanup(): Promise<void>;
}

const FAKE = fileURLToPath(new URL("./flyctl", import.meta.url));

/** The digest the fake keeps of a secret value (it keeps no values): compare against it. */
export function secretDigest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

export async function createFakeFly(opts: { orgs?: string[] } = {}): Promise<FakeFly> {
  const root = mkdtempSync(join(tmpdir(), "fake-flyctl-"));
  const stateDir = join(root, "state");
  const bin = join(root, "bin");
  mkdirSync(stateDir);
  mkdirSync(bin);
  const path = join(bin, "flyctl");
  writeFileSync(
    path,
    [
      "#!/usr/bin/env node",
      `process.env.FAKE_FLYCTL_STATE = ${JSON.stringify(stateDir)};`,
      `import(${JSON.stringify(pathToFileURL(FAKE).href)}).catch((error) => { console.error(error); process.exit(1); });`,
      "",
    ].join("\n"),
  );
  chmodSync(path, 0o755);

  const read = <T>(name: string, fallback: T): T => {
    try {
      return JSON.parse(readFileSync(join(stateDir, name), "utf8")) as T;
    } catch {
      return fallback;
    }
  };
  const write = (name: string, value: unknown) => {
    const tmp = join(stateDir, `${name}.control.tmp`);
    writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(tmp, join(stateDir, name));
  };
  write("account.json", { orgs: opts.orgs ?? ["personal"] });

  const fake: FakeFly = {
    path,
    stateDir,
    calls() {
      let text = "";
      try {
        text = readFileSync(join(stateDir, "calls.jsonl"), "utf8");
      } catch {
        return [];
      }
      const calls: Call[] = [];
      const latest = new Map<number, Call>(); // pids can be reused over a long test run
      for (const line of text.split("\n")) {
        if (!line) continue;
        const entry = JSON.parse(line) as Partial<Call> & { pid: number; ignored?: boolean };
        if (entry.argv) {
          calls.push(entry as Call);
          latest.set(entry.pid, entry as Call);
          continue;
        }
        const call = latest.get(entry.pid);
        if (!call) continue;
        if (entry.ignored) call.ignoredSigterm = true;
        else if (entry.childPid) call.childPid = entry.childPid;
        else Object.assign(call, { endedAt: entry.endedAt, exitCode: entry.exitCode, signal: entry.signal });
      }
      return calls;
    },
    apps: () => read<Record<string, App>>("apps.json", {}),
    oneOffRuns: () => read<OneOffRun[]>("one-off.json", []),
    setBehavior(behavior) {
      write("behavior.json", behavior);
      write("cursor.json", {});
    },
    seedApp(name, org) {
      const apps = read<Record<string, Partial<App>>>("apps.json", {});
      apps[name] = { org, createdAt: new Date().toISOString(), deployments: [], images: [], secrets: {}, machines: [] };
      write("apps.json", apps);
    },
    createCluster(name, clusterOpts = {}) {
      const apps = read<Record<string, App>>("apps.json", {});
      const now = new Date().toISOString();
      const machines: Machine[] = Array.from({ length: clusterOpts.machines ?? 1 }, (_, i) => ({
        id: `d8${i}e${createHash("sha256").update(`${name}${i}`).digest("hex").slice(0, 10)}`,
        name: `${name}-${i}`,
        state: "started",
        region: "iad",
        config: {
          image: "flyio/postgres-flex:16.8",
          guest: { cpu_kind: "shared", cpus: 1, memory_mb: 1024 },
          metadata: { fly_platform_version: "v2", fly_process_group: "app" },
        },
        checks: [{ name: "role", status: "passing", output: i === 0 && clusterOpts.primary !== false ? "primary" : "replica" }],
        created_at: now,
      }));
      apps[name] = {
        org: clusterOpts.org ?? opts.orgs?.[0] ?? "personal",
        createdAt: now,
        deployments: [],
        images: [],
        secrets: {},
        machines,
        postgres: {
          databases: { postgres: { owner: "postgres", publicConnect: true, publicCreate: false, sessions: 0 } },
          users: { postgres: { superuser: true, readWriteAll: false, login: true } },
          attachments: [],
        },
      };
      write("apps.json", apps);
    },
    cluster(name) {
      const cluster = read<Record<string, App>>("apps.json", {})[name]?.postgres;
      if (!cluster) throw new Error(`fake flyctl: no cluster named ${name}`);
      return cluster;
    },
    updateCluster(name, change) {
      const apps = read<Record<string, App>>("apps.json", {});
      const cluster = apps[name]?.postgres;
      if (!cluster) throw new Error(`fake flyctl: no cluster named ${name}`);
      change(cluster);
      write("apps.json", apps);
    },
    session(name, url) {
      const app = read<Record<string, App>>("apps.json", {})[name];
      if (!app?.postgres) throw new Error(`fake flyctl: no cluster named ${name}`);
      return openSession(name, app.postgres, url);
    },
    agents: () => read<string[]>("agents.json", []),
    removeApp(name) {
      const apps = read<Record<string, App>>("apps.json", {});
      delete apps[name];
      write("apps.json", apps);
    },
    async killRunning() {
      const running = fake.calls().filter((call) => call.endedAt === undefined && isOurs(call.pid, path));
      for (const call of running) {
        try {
          process.kill(call.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      while (running.some((call) => isOurs(call.pid, path))) await sleep(20);
    },
    async cleanup() {
      // A deploy's child left behind by a test would otherwise outlive the test run.
      for (const call of fake.calls()) {
        if (call.childPid && isOurs(call.childPid, stateDir)) process.kill(call.childPid, "SIGKILL");
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  return fake;
}

// PostgreSQL's login (auth.c, postinit.c's CheckMyDatabase and process_settings) and its
// privileges held through roles (acl.c has_privs_of_role: every membership inherits here,
// as users made by CREATE USER do).
function openSession(name: string, pg: PostgresCluster, url: string): PostgresSession {
  const match = /^postgres:\/\/([^:@/]+):([^@/]+)@([^:/]+):5432\/([^?]+)\?sslmode=disable$/.exec(url);
  if (!match) throw new Error(`fake flyctl: not a connection URL attach prints: ${url}`);
  const [, userName, password, host, databaseName] = match;
  if (host !== `${name}.flycast` && host !== `top2.nearest.of.${name}.internal`) throw new Error(`fake flyctl: ${host} is not the cluster ${name}`);
  const user = pg.users[userName];
  // A role that does not exist fails as a wrong password does: the server says no more.
  if (!user || user.password === undefined || user.password !== password) throw new Error(`FATAL:  password authentication failed for user "${userName}"`);
  if (user.login === false) throw new Error(`FATAL:  role "${userName}" is not permitted to log in`);
  const database = pg.databases[databaseName];
  if (!database) throw new Error(`FATAL:  database "${databaseName}" does not exist`);
  const holds = (role: string, target: string, seen = new Set<string>()): boolean => {
    if (role === target) return true;
    if (seen.has(role)) return false;
    seen.add(role);
    return (pg.users[role]?.memberOf ?? []).some((r) => holds(r, target, seen));
  };
  if (!user.superuser && !database.publicConnect && !holds(userName, database.owner)) throw new Error(`FATAL:  permission denied for database "${databaseName}"`);
  const wanted = user.settings?.role;
  const currentRole = wanted && pg.users[wanted] && holds(userName, wanted) ? wanted : userName;
  return { user: userName, database: databaseName, currentRole, readsEverything: user.superuser || user.readWriteAll };
}

// A pid from calls.jsonl may since have been reused by an unrelated process; only one
// started through this fake's launcher (or a child naming its state directory) is ours to kill.
function isOurs(pid: number, launcher: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(launcher);
  } catch {
    return false;
  }
}

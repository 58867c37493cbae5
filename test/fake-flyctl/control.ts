// Test-side handle on the fake flyctl: a private state directory per fake, and a
// launcher that points the fake at it, so parallel tests never share state.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

export type FailureKind = "transient" | "build" | "health" | "auth" | "not_found" | "timeout";

/** One scripted outcome; an empty object means "behave normally this time". */
export interface Scripted {
  fail?: FailureKind;
  /** Replaces the realistic message of `fail` (printed as "Error: <message>"). */
  message?: string;
  exitCode?: number;
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
  imageLabel?: string;
  workdir: string;
  config: string;
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
  config: { image: string; guest: { cpu_kind: string; cpus: number; memory_mb: number } };
  checks: Array<{ name: string; status: string }>;
}

export interface App {
  org: string;
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
  /** Replaces behavior.json and restarts every scripted queue from its first entry. */
  setBehavior(behavior: Behavior): void;
  /** Adds an app directly; an org outside `orgs` makes it another Fly account's app. */
  seedApp(name: string, org: string): void;
  /** Deletes an app behind the driver's back, as if destroyed from the Fly.io dashboard. */
  removeApp(name: string): void;
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
    setBehavior(behavior) {
      write("behavior.json", behavior);
      write("cursor.json", {});
    },
    seedApp(name, org) {
      const apps = read<Record<string, Partial<App>>>("apps.json", {});
      apps[name] = { org, createdAt: new Date().toISOString(), deployments: [], images: [], secrets: {}, machines: [] };
      write("apps.json", apps);
    },
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

// A pid from calls.jsonl may since have been reused by an unrelated process; only one
// started through this fake's launcher (or a child naming its state directory) is ours to kill.
function isOurs(pid: number, launcher: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(launcher);
  } catch {
    return false;
  }
}

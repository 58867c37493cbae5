// Starts a server entry point the way `npm start` would run it (a separate Node
// process, TypeScript through tsx), from an empty working directory so no
// developer's .env is read, and waits until it answers on loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const TSX = import.meta.resolve("tsx");
/**
 * BENCH_CPU_PROF, a directory: each server can write a CPU profile of the timed phase
 * there (bench/cpu-profile.ts). Absolute, since servers run in a directory of their own.
 */
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
const PROFILER = import.meta.resolve("./cpu-profile.ts");
/** Variables the bench sets itself; the shell's values for them never reach a server. */
const CHOSEN_BY_BENCH = /^(APP_ID|PRIVATE_KEY.*|WEBHOOK_.*|GHE_.*|FLY_.*|FLYCTL_.*|FAKE_FLYCTL_.*|DATABASE_URL|PREVIEW_.*|LOG_.*|NODE_ENV|PORT|HOST|REDIS_.*|SENTRY_DSN)$/;
/** Output kept per child: enough for the error that stopped it, bounded for long runs. */
const KEEP_CHARS = 64 * 1024;

export interface Child {
  process: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<string>;
  /** SIGKILL and wait; safe to call twice. Removes the working directory. */
  kill(): Promise<void>;
  /** CPU seconds (user + system) the process has used so far; undefined off Linux. */
  cpuSeconds(): number | undefined;
  /**
   * With BENCH_CPU_PROF set: the first call starts the server's profiler, the second
   * stops it and resolves once its profile is written. Without it, nothing.
   */
  profile(): Promise<void>;
}

/** USER_HZ, the unit of /proc/PID/stat times; Linux fixes it at 100 for user space. */
const TICKS_PER_SECOND = 100;

function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields
    // from the last ")". utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** `name` goes into the file name of the server's CPU profile, when one is asked for. */
export function startChild(entry: string, env: Record<string, string>, name = "server"): Child {
  const cwd = mkdtempSync(join(tmpdir(), "fly-preview-bench-cwd-"));
  // A developer's credentials, GitHub host or database would otherwise leak into
  // the run and make it measure something else.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !CHOSEN_BY_BENCH.test(k)),
  );
  const profiler = PROFILE_DIR ? ["--import", PROFILER] : [];
  const child = spawn(process.execPath, ["--import", TSX, ...profiler, entry], {
    cwd,
    env: { ...inherited, ...env, ...(PROFILE_DIR && { BENCH_CPU_PROF: PROFILE_DIR, BENCH_CPU_PROF_NAME: name }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  // Always drain the pipes: a full pipe would block the server's writes and show
  // up as latency that is not the server's.
  child.stdout!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-KEEP_CHARS)));
  child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-KEEP_CHARS)));
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code !== null ? `exit code ${code}` : `signal ${signal}`)),
  );
  let killed = false;
  let profiling = false;
  return {
    process: child,
    stderr: () => err,
    stdout: () => out,
    exited,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    async profile() {
      if (!PROFILE_DIR) return;
      child.kill("SIGUSR2");
      profiling = !profiling;
      // Long enough for the server to have started its profiler before the timed deliveries.
      if (profiling) return sleep(100);
      const file = join(PROFILE_DIR, `${name}-${child.pid}.cpuprofile`);
      for (let waited = 0; !existsSync(file); waited += 50) {
        if (waited > 30_000) throw new Error(`no CPU profile at ${file} after 30 s`);
        await sleep(50);
      }
    },
    async kill() {
      if (!killed) {
        killed = true;
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await exited;
      }
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(2_000, () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

/**
 * Polls `path` until it answers 200. Rejects with the server's own words if it
 * exits first (say, a refused DATABASE_URL), or after `timeoutMs`.
 */
export async function waitReady(child: Child, port: number, path: string, timeoutMs = 30_000): Promise<void> {
  let exit: string | undefined;
  void child.exited.then((how) => (exit = how));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit !== undefined) throw new ChildExited(exit, child.stderr() || child.stdout());
    if ((await get(port, path)) === 200) return;
    await sleep(50);
  }
  throw new Error(`no 200 from GET ${path} on port ${port} within ${timeoutMs} ms; output:\n${(child.stderr() || child.stdout()).slice(-2000)}`);
}

export class ChildExited extends Error {
  constructor(
    readonly how: string,
    readonly output: string,
  ) {
    super(`the server stopped (${how}) before it was ready:\n${output.slice(-2000)}`);
  }

  /** The line that says why: the first one naming an error, else the last one. */
  get reason(): string {
    const lines = this.output.split("\n").map((l) => l.trim()).filter(Boolean);
    return lines.find((l) => /configuration error|error:/i.test(l)) ?? lines.at(-1) ?? this.how;
  }
}

// Starts a server entry point the way `npm start` would run it (a separate Node
// process, TypeScript through tsx), from an empty working directory so no
// developer's .env is read, and waits until it answers on loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const TSX = import.meta.resolve("tsx");
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

export function startChild(entry: string, env: Record<string, string>): Child {
  const cwd = mkdtempSync(join(tmpdir(), "fly-preview-bench-cwd-"));
  // A developer's credentials, GitHub host or database would otherwise leak into
  // the run and make it measure something else.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !CHOSEN_BY_BENCH.test(k)),
  );
  const child = spawn(process.execPath, ["--import", TSX, entry], {
    cwd,
    env: { ...inherited, ...env },
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
  return {
    process: child,
    stderr: () => err,
    stdout: () => out,
    exited,
    cpuSeconds: () => cpuSecondsOf(child.pid),
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

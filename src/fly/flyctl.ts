import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { classifyFailure, FlyError, reasonFor, type FlyErrorKind } from "./errors.js";
import { Redactor } from "./redact.js";
import { encodeSecret } from "./secret-lines.js";

export interface FlyctlOptions {
  /** FLYCTL_PATH; default "flyctl". */
  path: string;
  /** FLY_API_TOKEN. Reaches flyctl only through its environment, never its arguments. */
  token?: string;
  /** FLY_ORG. */
  org: string;
  /** Secrets to hide from output; the token is always added to it. */
  redactor?: Redactor;
  log?: { info(obj: object, msg?: string): void; debug(...a: unknown[]): void; warn(...a: unknown[]): void };
  /** Default 3 attempts, 1000 ms base, growing fourfold per attempt, with jitter. */
  retry?: { attempts: number; baseDelayMs: number };
  /** After a cancel, SIGTERM to flyctl's process group first, then SIGKILL after this long. Default DEFAULT_KILL_GRACE_MS. */
  killGraceMs?: number;
  /** Told of every flyctl run (each attempt of a retried one): its command (`commandName`) and `ok` or the failure's kind. */
  onCall?: (command: string, result: "ok" | FlyErrorKind) => void;
}

export interface DeployOptions {
  /** The extracted source; passed to flyctl as its WORKDIR. */
  cwd: string;
  /** Absolute path of the generated fly.toml. */
  configPath: string;
  app: string;
  imageLabel?: string;
  /** Redeploys an earlier image without building. */
  image?: string;
  env?: Record<string, string>;
  buildArgs?: Record<string, string>;
  memoryMb?: number;
  cpus?: number;
  cpuKind?: string;
  /** Aborting stops flyctl and rejects with a FlyError of kind "cancelled". */
  signal?: AbortSignal;
  /** Each output line, already redacted, as it streams. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface DeployResult {
  url?: string;
  tail: string[];
  durationMs: number;
}

export interface PostgresAttachOptions {
  /** `--database-name`: created unless the cluster already has it, then reused. */
  database: string;
  /** `--database-user`: always a new user; flyctl refuses one that exists. */
  user: string;
  /** `--variable-name`: the app's secret that receives the connection string. */
  variable: string;
  signal?: AbortSignal;
}

/** A command run once in a machine of its own, of an app's current release. */
export interface OneOffOptions {
  app: string;
  /**
   * One line, passed to flyctl as one argument: the machine's SSH server splits it into
   * words (quotes group them) and runs it without a shell.
   */
  command: string;
  /** Where the machine runs (`--region`); Fly picks one near flyctl when unset. */
  region?: string;
  memoryMb?: number;
  cpus?: number;
  cpuKind?: string;
  /** Aborting stops flyctl and rejects with a FlyError of kind "cancelled". */
  signal?: AbortSignal;
  /** Each output line, already redacted, as it streams. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface OneOffResult {
  /** The command's own exit code: 0 when it succeeded. */
  exitCode: number;
  /** The last lines flyctl and the command printed, redacted. */
  tail: string[];
  durationMs: number;
}

export interface FlyApp {
  name: string;
  org: string;
  status: string;
}

interface RunOptions {
  cwd?: string;
  input?: string;
  signal?: AbortSignal;
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Secrets a raw output line reveals (a password flyctl chose and prints): hidden from that line on. */
  secretsIn?: (line: string) => string[];
  /** The command brings up flyctl's WireGuard agent, which is stopped again before HOME goes. */
  stopsAgent?: boolean;
  /** Never retried: the command may have done its work before flyctl failed (a hook). */
  once?: boolean;
  /**
   * Run in the run's own empty HOME, so flyctl finds no fly.toml in its working directory
   * (it would read one as the app's config) and reads the app's deployed config instead.
   */
  inHome?: boolean;
}

interface RunOutput {
  /** Unredacted, for parsing only: it never leaves this module. */
  stdout: string;
  tail: string[];
}

const TAIL_LINES = 50;
/** How long a stopped flyctl gets to exit before SIGKILL; fly.toml's kill_timeout leaves room for it. */
export const DEFAULT_KILL_GRACE_MS = 10_000;
// Reach Fly.io from behind an operator's proxy; Go's net/http reads both spellings.
const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * The flyctl the Dockerfile installs. The driver matches flyctl's argument names and
 * message texts, which change between versions, so this is the one it is known to work with.
 */
export const PINNED_FLYCTL_VERSION = "0.4.87";

export class Flyctl {
  private readonly path: string;
  private readonly token?: string;
  private readonly org: string;
  /** Hides the token and every staged secret value; callers use it for their own reports too. */
  readonly redactor: Redactor;
  private readonly log?: FlyctlOptions["log"];
  private readonly retry: { attempts: number; baseDelayMs: number };
  private readonly killGraceMs: number;

  constructor(private readonly opts: FlyctlOptions) {
    this.path = opts.path || "flyctl";
    this.token = opts.token || undefined;
    this.org = opts.org;
    this.redactor = opts.redactor ?? new Redactor();
    if (this.token) this.redactor.add(this.token);
    this.log = opts.log;
    this.retry = opts.retry ?? { attempts: 3, baseDelayMs: 1000 };
    this.killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  }

  /**
   * The same driver for one run: logging through `log`, so a deploy's flyctl lines carry
   * its repo, PR and app, and with a redactor of its own for that run's secrets.
   */
  withLog(log: FlyctlOptions["log"]): Flyctl {
    return new Flyctl({ ...this.opts, redactor: new Redactor(), log });
  }

  /** Idempotent: an app this organization already owns counts as created. */
  async createApp(name: string, signal?: AbortSignal): Promise<"created" | "exists"> {
    try {
      await this.run(["apps", "create", name, "--org", this.org], { signal });
      return "created";
    } catch (error) {
      if (!(error instanceof FlyError) || error.kind !== "name_taken") throw error;
      // App names are global across Fly.io, so "taken" may mean ours (an earlier
      // attempt got through) or someone else's; only ours is visible to our token.
      if ((await this.appOrg(name)) === this.org) return "exists";
      throw new FlyError(
        "name_taken",
        `The Fly.io app name "${name}" belongs to another Fly account, so it cannot be used for this preview`,
        { exitCode: error.exitCode, tail: error.tail },
      );
    }
  }

  async appExists(name: string): Promise<boolean> {
    return (await this.appOrg(name)) !== undefined;
  }

  async deploy(opts: DeployOptions): Promise<DeployResult> {
    const started = Date.now();
    const { stdout, tail } = await this.run(deployArgs(opts), {
      cwd: opts.cwd,
      signal: opts.signal,
      onLine: opts.onLine,
    });
    const url = /Visit your newly deployed app at (\S+)/.exec(stdout)?.[1];
    return { url, tail, durationMs: Date.now() - started };
  }

  /** Idempotent: an app that is already gone counts as destroyed ("missing"). */
  async destroyApp(name: string): Promise<"destroyed" | "missing"> {
    try {
      await this.run(["apps", "destroy", name, "--yes"]);
      return "destroyed";
    } catch (error) {
      if (error instanceof FlyError && error.kind === "not_found") return "missing";
      throw error;
    }
  }

  async listApps(): Promise<FlyApp[]> {
    const { stdout, tail } = await this.run(["apps", "list", "--org", this.org, "--json"]);
    const apps = parseJson(stdout, tail);
    if (!Array.isArray(apps)) throw unexpectedOutput(tail);
    return apps.map((app: { Name?: string; Organization?: { Slug?: string }; Status?: string }) => ({
      name: app.Name ?? "",
      org: app.Organization?.Slug ?? "",
      status: app.Status ?? "",
    }));
  }

  /** The version flyctl reports, e.g. "0.4.87"; needs no token. */
  async version(): Promise<string> {
    const { stdout, tail } = await this.runOnce(["version"], {});
    // buildinfo.go: "flyctl v0.4.87 linux/amd64 Commit: ... BuildDate: ..."
    const version = /\bv(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1];
    if (!version) throw new FlyError("unknown", "`flyctl version` printed no version number", { tail });
    return version;
  }

  /**
   * The organizations the token can see, slug to name (`orgs list --json`, v0.4.87
   * internal/command/orgs/list.go): one API call, and a token that can deploy to an
   * organization sees it here.
   */
  async organizations(): Promise<Record<string, string>> {
    const { stdout, tail } = await this.run(["orgs", "list", "--json"]);
    const orgs = parseJson(stdout, tail);
    if (orgs === null || typeof orgs !== "object" || Array.isArray(orgs)) throw unexpectedOutput(tail);
    return orgs as Record<string, string>;
  }

  /**
   * Stages secrets for the next deploy. Values travel on stdin, never argv, and are
   * added to the redactor first so flyctl cannot echo them back into logs. Each value
   * goes in a form flyctl reads back unchanged (see secret-lines.ts); when one has no
   * such form nothing is sent, since a silently altered secret is worse than a failed deploy.
   */
  async importSecrets(app: string, secrets: Record<string, string>, signal?: AbortSignal): Promise<void> {
    const lines: string[] = [];
    const alone: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      checkName(name, "secret");
      this.redactor.add(value);
      const encoding = encodeSecret(name, value);
      if (encoding.form === "none") {
        throw new FlyError(
          "config",
          `The secret ${name} cannot reach Fly.io unchanged, so no secret was staged: ${encoding.reason}. Store a value that can with \`fly-preview secrets set\``,
        );
      }
      if (encoding.form === "import") lines.push(encoding.text);
      else alone.push(name);
    }
    if (lines.length > 0) await this.run(["secrets", "import", "-a", app, "--stage"], { input: lines.join(""), signal });
    for (const name of alone) await this.run(["secrets", "set", `${name}=-`, "-a", app, "--stage"], { input: secrets[name], signal });
  }

  /** FLY_ORG: the organization this driver creates apps in. */
  get organization(): string {
    return this.org;
  }

  /**
   * Unstages secrets (`secrets unset NAME... -a APP --stage`, v0.4.87
   * internal/command/secrets/unset.go): a name the app does not have is no error
   * (appsecrets.Update), an app that is gone is "missing".
   */
  async unsetSecrets(app: string, names: string[], signal?: AbortSignal): Promise<"unset" | "missing"> {
    for (const name of names) checkName(name, "secret");
    try {
      await this.run(["secrets", "unset", ...names, "-a", app, "--stage"], { signal });
      return "unset";
    } catch (error) {
      if (error instanceof FlyError && error.kind === "not_found") return "missing";
      throw error;
    }
  }

  /**
   * `postgres attach CLUSTER -a APP` (v0.4.87 internal/command/postgres/attach.go): creates
   * the database unless the cluster has it (reused under --yes, attach.go:263), always a new
   * user with a fresh password, and sets the connection string as a secret of the app
   * (appsecrets.Update without a deploy: staged until the next deploy, attach.go:332).
   * Refused: an app that already has the secret (attach.go:254) and a user that already
   * exists (attach.go:281). `--superuser` defaults to true (attach.go:64-68), so it is
   * turned off here: a preview's code must not administer the cluster. flyctl prints the
   * connection string, password and all (attach.go:338); each line is searched for it
   * first, so it is hidden before the line reaches a log, the tail or an error.
   */
  async postgresAttach(cluster: string, app: string, opts: PostgresAttachOptions): Promise<void> {
    checkName(opts.variable, "environment variable");
    const args = [
      "postgres",
      "attach",
      cluster,
      "-a",
      app,
      "--database-name",
      opts.database,
      "--database-user",
      opts.user,
      "--variable-name",
      opts.variable,
      "--superuser=false",
      "--yes",
    ];
    await this.run(args, { signal: opts.signal, secretsIn: connectionSecrets, stopsAgent: true });
  }

  /**
   * Runs a psql script on a Fly Postgres cluster as its operator and returns what it printed
   * (redacted). flyctl v0.4.87 has no command that drops a database: `postgres detach` always
   * prompts (detach.go:129, prompt.Select even for one attachment) and `postgres connect` is an
   * interactive psql. This is that same psql without the terminal: `ssh console --command`
   * runs the cluster image's own `connect` script (what connect.go:116 runs; in postgres-flex
   * it is `psql` as `postgres` with the machine's OPERATOR_PASSWORD, through the port-5432
   * proxy that always reaches the primary), with no pty and the script on stdin, which flyctl
   * copies to the session and closes (ssh/io.go:102-109). A failing psql fails the run:
   * `ssh shell: Process exited with status N` (ssh/io.go:92, console.go:255).
   */
  async postgresSql(cluster: string, script: string, signal?: AbortSignal): Promise<string[]> {
    const args = ["ssh", "console", "-a", cluster, "--quiet", "--command", "connect postgres postgres"];
    const { tail } = await this.run(args, { input: script, signal, stopsAgent: true });
    return tail;
  }

  /**
   * Runs `command` once in a new machine of `app` (flyctl v0.4.87 `console --command`,
   * internal/command/console/console.go): a machine of the app's current release image,
   * with the config of that release (its [env], the deploy's --env values, PRIMARY_REGION)
   * and, like every machine of the app, its secrets; its own init is `/bin/sleep inf`
   * (appconfig ToConsoleMachineConfig), auto-destroyed once flyctl stops it. flyctl reaches
   * it over SSH through its WireGuard agent and runs the command with a pseudo-terminal
   * (console.go passes allocPTY true), so stdout and stderr arrive together. A command that
   * exits non-zero fails flyctl with `ssh shell: Process exited with status N`
   * (ssh/io.go, x/crypto/ssh's ExitError): that N is the result's exit code. Never retried.
   */
  async runOneOff(opts: OneOffOptions): Promise<OneOffResult> {
    const started = Date.now();
    const args = ["console", "-a", opts.app, "--command", opts.command];
    if (opts.region) args.push("--region", opts.region);
    if (opts.memoryMb !== undefined) args.push("--vm-memory", String(opts.memoryMb));
    if (opts.cpus !== undefined) args.push("--vm-cpus", String(opts.cpus));
    if (opts.cpuKind) args.push("--vm-cpu-kind", opts.cpuKind);
    try {
      const { tail } = await this.run(args, { signal: opts.signal, onLine: opts.onLine, once: true, stopsAgent: true, inHome: true });
      return { exitCode: 0, tail, durationMs: Date.now() - started };
    } catch (error) {
      const status = error instanceof FlyError ? /^ssh shell: Process exited with status (\d+)$/.exec(error.detail ?? "") : null;
      if (!status) throw error;
      return { exitCode: Number(status[1]), tail: (error as FlyError).tail, durationMs: Date.now() - started };
    }
  }

  /**
   * Destroys the app's console machines (fly_process_group `fly_app_console`, set by
   * appconfig ToConsoleMachineConfig) still there: a `flyctl console` stopped midway (a
   * hook past its timeout) cannot stop its machine, which would run `sleep inf`, billed,
   * until the app is destroyed. Returns the ids destroyed.
   */
  async destroyConsoleMachines(app: string): Promise<string[]> {
    const { stdout } = await this.run(["machines", "list", "-a", app, "--json"]);
    const machines = JSON.parse(stdout) as Array<{ id: string; state: string; config?: { metadata?: Record<string, string> } }>;
    const left = machines.filter((m) => m.config?.metadata?.fly_process_group === "fly_app_console" && !["destroying", "destroyed"].includes(m.state));
    for (const machine of left) await this.run(["machines", "destroy", machine.id, "-a", app, "--force"]);
    return left.map((m) => m.id);
  }

  /** The organization owning an app, or undefined when our token cannot see the app. */
  private async appOrg(name: string): Promise<string | undefined> {
    try {
      const { stdout, tail } = await this.run(["status", "-a", name, "--json"]);
      const status = parseJson(stdout, tail) as { Organization?: { Slug?: string } };
      return status.Organization?.Slug ?? "";
    } catch (error) {
      if (error instanceof FlyError && error.kind === "not_found") return undefined;
      throw error;
    }
  }

  private async run(args: string[], opts: RunOptions = {}): Promise<RunOutput> {
    if (!this.token) {
      this.opts.onCall?.(commandName(args), "no_token");
      throw new FlyError("no_token", reasonFor("no_token"));
    }
    const { baseDelayMs } = this.retry;
    const attempts = opts.once ? 1 : this.retry.attempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runOnce(args, opts);
      } catch (error) {
        if (!(error instanceof FlyError) || error.kind !== "transient") throw error;
        if (attempt >= attempts) {
          if (attempts <= 1) throw error;
          throw new FlyError("transient", `${reasonFor("transient")} (gave up after ${attempts} attempts)`, {
            exitCode: error.exitCode,
            tail: error.tail,
          });
        }
        const delayMs = backoff(baseDelayMs, attempt);
        this.log?.warn(
          { command: this.describe(args), attempt, attempts, delayMs, error: error.message },
          "flyctl failed with a temporary error; retrying",
        );
        try {
          await sleep(delayMs, undefined, { signal: opts.signal });
        } catch {
          throw new FlyError("cancelled", reasonFor("cancelled"), { tail: error.tail });
        }
      }
    }
  }

  private async runOnce(args: string[], opts: RunOptions): Promise<RunOutput> {
    try {
      const output = await this.runProcess(args, opts);
      this.opts.onCall?.(commandName(args), "ok");
      return output;
    } catch (error) {
      this.opts.onCall?.(commandName(args), error instanceof FlyError ? error.kind : "unknown");
      throw error;
    }
  }

  private async runProcess(args: string[], opts: RunOptions): Promise<RunOutput> {
    if (opts.signal?.aborted) throw new FlyError("cancelled", reasonFor("cancelled"));
    this.log?.debug({ command: this.describe(args) }, "running flyctl");

    // A HOME of its own for each invocation: flyctl keeps its config, state and agent socket under
    // ~/.fly, and nothing one preview's flyctl leaves there may reach the next.
    const home = await mkdtemp(join(tmpdir(), "fly-preview-home-"));
    try {
      return await this.spawn(args, opts.inHome ? { ...opts, cwd: home } : opts, home);
    } finally {
      if (opts.stopsAgent) await this.stopAgent(home);
      await rm(home, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /**
   * Commands that reach a cluster over WireGuard start flyctl's agent (agent/start.go:44-55):
   * `flyctl agent run` in a process group of its own, so it outlives flyctl and the process
   * group this driver stops, with its socket in this run's HOME. `agent stop` in the same
   * HOME ends it; nothing else would. Its outcome changes nothing for the run itself.
   */
  private async stopAgent(home: string): Promise<void> {
    await execa(this.path, ["agent", "stop"], {
      env: this.childEnv(home),
      extendEnv: false,
      stdin: "ignore",
      reject: false,
      timeout: 15_000,
    });
  }

  private async spawn(args: string[], opts: RunOptions, home: string): Promise<RunOutput> {
    const stdout: string[] = [];
    const tail: string[] = [];
    // flyctl's own last "Error: …" line, which it writes on stderr. A command's output
    // (a hook's, a build's) comes on stdout and may hold "Error: …" lines of its own; the
    // two pipes are read in whatever order they arrive, so the tail's order cannot tell.
    let flyctlError: string | undefined;
    const subprocess = execa(this.path, args, {
      cwd: opts.cwd,
      env: this.childEnv(home),
      extendEnv: false,
      ...(opts.input === undefined ? { stdin: "ignore" as const } : { input: opts.input }),
      buffer: false,
      reject: false,
      // A process group of its own, so that stopping flyctl also stops what it started
      // (a build's helpers, say), which execa's own cancel (one pid) would leave running.
      detached: true,
    });
    const group = subprocess.pid === undefined ? undefined : running.start(subprocess.pid);
    let stopped = false;
    const stop = () => {
      stopped = true;
      group?.stop(this.killGraceMs);
    };
    opts.signal?.addEventListener("abort", stop, { once: true });
    const follow = (stream: Readable | null, name: "stdout" | "stderr") =>
      new Promise<void>((resolve) => {
        if (!stream) return resolve();
        const lines = createInterface({ input: stream, crlfDelay: Infinity });
        lines.on("line", (raw) => {
          if (name === "stdout") stdout.push(raw);
          for (const secret of opts.secretsIn?.(raw) ?? []) this.redactor.add(secret);
          const line = this.redactor.redact(plainText(raw));
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          if (name === "stderr" && line.startsWith("Error: ")) flyctlError = line.slice("Error: ".length);
          opts.onLine?.(line, name);
        });
        lines.on("close", resolve);
      });
    const [result] = await Promise.all([
      subprocess,
      follow(subprocess.stdout, "stdout"),
      follow(subprocess.stderr, "stderr"),
    ]).finally(() => {
      opts.signal?.removeEventListener("abort", stop);
      group?.exited();
    });

    // A flyctl that finished its work before the stop reached it succeeded.
    if (stopped && result.exitCode !== 0) {
      throw new FlyError("cancelled", reasonFor("cancelled"), { exitCode: result.exitCode, tail });
    }
    if (result.code === "ENOENT") {
      throw new FlyError("config", `flyctl was not found at "${this.path}"; install it or set FLYCTL_PATH`);
    }
    if (result.code === "EACCES") {
      throw new FlyError("config", `flyctl at "${this.path}" is not executable; fix its permissions or set FLYCTL_PATH`);
    }
    if (result.exitCode === 0) return { stdout: stdout.join("\n"), tail };
    if (result.signal) {
      throw new FlyError("unknown", `flyctl was stopped by ${result.signal}`, { tail });
    }
    const kind = classifyFailure(result.exitCode, tail.join("\n"));
    throw new FlyError(kind, reasonFor(kind, result.exitCode), { exitCode: result.exitCode, tail, detail: flyctlError });
  }

  /**
   * Only what flyctl needs. The server's environment holds the App's private key, the
   * webhook secret, the database URL and cloud credentials, and a pull request's build
   * can make flyctl read and upload its own environment; a stray FLY_ACCESS_TOKEN would
   * also win over FLY_API_TOKEN and deploy with the wrong account.
   */
  private childEnv(home: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "", HOME: home };
    for (const name of PROXY_VARIABLES) if (process.env[name] !== undefined) env[name] = process.env[name];
    return { ...env, FLY_API_TOKEN: this.token, CI: "true", FLY_NO_UPDATE_CHECK: "1" };
  }

  private describe(args: string[]): string {
    return this.redactor.redact(["flyctl", ...args].join(" "));
  }
}

/**
 * The process groups of the flyctl runs of this process. execa's own clean-up (killing
 * children when the server exits) does not cover detached subprocesses, so the groups
 * still running when the process exits are killed here instead.
 */
class ProcessGroups {
  private readonly live = new Set<number>();
  private hooked = false;

  start(pid: number): { stop(graceMs: number): void; exited(): void } {
    const live = this.live;
    live.add(pid);
    if (!this.hooked) {
      this.hooked = true;
      process.on("exit", () => {
        for (const group of live) signalGroup(group, "SIGKILL");
      });
    }
    let stopping = false;
    return {
      // flyctl gets SIGTERM to cancel cleanly; whatever of its group is left after the
      // grace gets SIGKILL, even once flyctl itself has exited.
      stop(graceMs) {
        if (stopping) return;
        stopping = true;
        signalGroup(pid, "SIGTERM");
        setTimeout(() => {
          signalGroup(pid, "SIGKILL");
          live.delete(pid);
        }, graceMs).unref();
      },
      exited() {
        if (!stopping) live.delete(pid);
      },
    };
  }
}

const running = new ProcessGroups();

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The whole group has already exited.
  }
}

// flyctl colours some lines even without a terminal (a release command's log lines carry
// aurora's faint timestamps), and a command run with a pseudo-terminal may too: the check
// run and the logs show text, so escape sequences and stray carriage returns go.
function plainText(line: string): string {
  return line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r+$/, "");
}

/**
 * The flyctl command of `args` without its operands, from the few this driver runs
 * (`deploy`, `apps create`, `secrets import`, `status`, …): a bounded name for metrics.
 */
export function commandName(args: string[]): string {
  return ["apps", "secrets", "orgs", "postgres", "ssh", "machines"].includes(args[0] ?? "") ? `${args[0]} ${args[1]}` : (args[0] ?? "");
}

function deployArgs(opts: DeployOptions): string[] {
  const args = [
    "deploy",
    opts.cwd,
    "-c",
    opts.configPath,
    "-a",
    opts.app,
    "--remote-only",
    "--yes",
    // flyctl's default is two machines on the first deploy; one is plenty for a preview.
    "--ha=false",
    "--strategy",
    "immediate",
    "--wait-timeout",
    "5m",
  ];
  if (opts.imageLabel) args.push("--image-label", opts.imageLabel);
  if (opts.image) args.push("--image", opts.image);
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    checkName(name, "environment variable");
    args.push("--env", `${name}=${value}`);
  }
  for (const [name, value] of Object.entries(opts.buildArgs ?? {})) {
    checkName(name, "build argument");
    args.push("--build-arg", `${name}=${value}`);
  }
  if (opts.memoryMb !== undefined) args.push("--vm-memory", String(opts.memoryMb));
  if (opts.cpus !== undefined) args.push("--vm-cpus", String(opts.cpus));
  if (opts.cpuKind) args.push("--vm-cpu-kind", opts.cpuKind);
  return args;
}

// attach.go:319-328: postgres://USER:PASSWORD@HOST:5432/DB?sslmode=disable, where the
// password is 15 letters and digits (helpers/rand.go). The whole URL is hidden too, so a
// reader of the logs cannot tell even which host and user the preview got.
const CONNECTION_URL = /postgres(?:ql)?:\/\/[^\s:@/]+:([^\s@/]+)@\S+/g;

function connectionSecrets(line: string): string[] {
  return [...line.matchAll(CONNECTION_URL)].flatMap((match) => [match[0], match[1]!]);
}

// flyctl splits NAME=VALUE at the first "=", so a name holding one would be cut short.
function checkName(name: string, what: string): void {
  if (!NAME.test(name)) {
    throw new FlyError("config", `"${name}" is not a valid ${what} name (letters, digits and _ only)`);
  }
}

function backoff(baseDelayMs: number, attempt: number): number {
  const delay = baseDelayMs * 4 ** (attempt - 1);
  // Jitter keeps several workers that failed together from retrying in lockstep.
  return Math.round(delay / 2 + (Math.random() * delay) / 2);
}

function parseJson(stdout: string, tail: string[]): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw unexpectedOutput(tail);
  }
}

function unexpectedOutput(tail: string[]): FlyError {
  return new FlyError("unknown", "flyctl printed something other than the JSON it was asked for", { tail });
}

// A Dockerfile for a repository that has none: Fly's own generator, @flydotio/dockerfile,
// run on the extracted source of the commit. That source is the pull request author's
// (a fork's, once approved), so the generator is treated as running on hostile input:
// see "The Dockerfile generator" in docs/security.md for what is enforced and what is not.

import { constants, type Stats } from "node:fs";
import { access, lstat, mkdir, mkdtemp, readFile, realpath, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, isAbsolute, join, posix, relative, sep } from "node:path";
import { execa } from "execa";
import type { PreviewConfig } from "../config/index.js";
import {
  generatorFailedReason,
  generatorRefusedReason,
  noDockerfileReason,
  unnamedDockerfileReason,
} from "../github/messages.js";
import { DeployFailure } from "./run.js";

/** The generator's npm name. */
export const GENERATOR = "@flydotio/dockerfile";

const require = createRequire(import.meta.url);
// Resolved, never imported: importing the package runs the generator in this process.
const generatorDir = dirname(require.resolve(`${GENERATOR}/package.json`));
const generatorPackage = require(`${GENERATOR}/package.json`) as { version: string; bin: { dockerfile: string } };
/** The version package.json pins, as the check run names it. */
export const GENERATOR_VERSION = generatorPackage.version;
const GENERATOR_BIN = join(generatorDir, generatorPackage.bin.dockerfile);

export const DEFAULT_GENERATOR_TIMEOUT_MS = 60_000;
// The generator reads package.json whole, and so do we before it: a larger one is not a real project's.
const MAX_PACKAGE_JSON_BYTES = 1024 * 1024;
// A generated Dockerfile is a few KB; the cap is for one swollen by instructions package.json names.
const MAX_DOCKERFILE_BYTES = 256 * 1024;
// What of its output a failure shows: the end, where the error is.
const OUTPUT_LINES = 40;
const OUTPUT_LINE_MAX = 500;
// Proxies for whatever honours them (npm, git, curl): port 9 (discard) of this machine,
// where nothing listens unless an operator put it there.
const CLOSED_PROXY = "http://127.0.0.1:9";
// Files the generator creates beside the Dockerfile, worth listing when it did: they are
// part of this build. Remix projects with an other/ folder get theirs there.
const CREATED = [".dockerignore", "docker-entrypoint.js", "litefs.yml", "litestream.yml"].flatMap((f) => [f, `other/${f}`]);
// Every file @flydotio/dockerfile 0.7.10 may write in the folder it runs in (gdf.js
// run(), and index.js saving its options into package.json). It follows symlinks when
// it writes, so none of them may be one.
const WRITTEN = ["Dockerfile", "package.json", "svelte.config.js", "other", ...CREATED];

export interface GeneratedDockerfile {
  /** Where flyctl finds it, relative to the repository root: the default `dockerfile`. */
  path: string;
  text: string;
  /** Other files the generator added to the build context, relative to it. */
  created: string[];
  /** Whether it ran in a network namespace of its own, with no network at all. */
  networkIsolated: boolean;
  durationMs: number;
}

/**
 * No Dockerfile could be generated: the deploy fails with `message`. `suggest` (a Node.js
 * project) has the check run say how to run the generator locally, with its `output`.
 */
export class DockerfileGenerationFailed extends DeployFailure {
  constructor(
    message: string,
    readonly suggest?: { context: string; output: string[] },
  ) {
    super(message);
    this.name = "DockerfileGenerationFailed";
  }
}

export interface GenerateOptions {
  /** The extracted source: the repository's root. */
  root: string;
  config: Pick<PreviewConfig, "dockerfile" | "context">;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Another script in place of the generator's CLI (tests: one that reports what it was given). */
  script?: string;
}

/**
 * Writes a Dockerfile at `config.dockerfile` (which .preview.yml left to its default, and
 * the commit lacks) from the package.json of the build context, with @flydotio/dockerfile.
 * Throws DockerfileGenerationFailed, saying why and what to commit instead, when the
 * context has no package.json, when its files are not safe to run the generator on, or
 * when the generator fails.
 */
export async function generateDockerfile(options: GenerateOptions): Promise<GeneratedDockerfile> {
  const { root, config } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_GENERATOR_TIMEOUT_MS;
  const started = performance.now();
  const refuse = (problem: string): never => {
    throw new DockerfileGenerationFailed(generatorRefusedReason(config.dockerfile, problem), { context: config.context, output: [] });
  };
  // source.ts refuses every symlink that leaves the repository; checked again here since
  // the generator writes where the context leads.
  const top = await realpath(root);
  const context = await realpath(join(top, config.context)).catch(() => undefined);
  if (!context || !inside(top, context)) return refuse(`the build context "${config.context}" is not a folder of the repository`);
  const inContext = (file: string) => posix.join(config.context, file);

  const pkg = await lstatOrUndefined(join(context, "package.json"));
  if (!pkg) throw new DockerfileGenerationFailed(noDockerfileReason(config.dockerfile, config.context));
  for (const name of WRITTEN) {
    if ((await lstatOrUndefined(join(context, name)))?.isSymbolicLink()) {
      return refuse(`"${inContext(name)}" is a symlink, and the generator would write through it`);
    }
  }
  if (!pkg.isFile()) return refuse(`"${inContext("package.json")}" is not a file`);
  if (pkg.size > MAX_PACKAGE_JSON_BYTES) return refuse(`"${inContext("package.json")}" is larger than 1 MiB`);
  const problem = packageJsonProblem(await readFile(join(context, "package.json"), "utf8"), context);
  if (problem) return refuse(`"${inContext("package.json")}" ${problem}`);

  // The generator writes <context>/Dockerfile; flyctl reads the default `dockerfile`.
  const target = join(top, config.dockerfile);
  const written = join(context, "Dockerfile");
  if (await lstatOrUndefined(target)) return refuse(`"${config.dockerfile}" is a folder or a symlink to nothing, not a Dockerfile`);
  if (written !== target && (await lstatOrUndefined(written))) {
    throw new DockerfileGenerationFailed(unnamedDockerfileReason(config.dockerfile, inContext("Dockerfile")));
  }
  const before = new Set<string>();
  for (const file of CREATED) if (await lstatOrUndefined(join(context, file))) before.add(file);

  const home = await mkdtemp(join(tmpdir(), "fly-preview-generator-"));
  try {
    await mkdir(join(home, "bin"));
    const isolation = await networkIsolation();
    const node = [
      // Memory for a generator, not for whatever a hostile package.json or .gitignore makes it build up.
      "--max-old-space-size=256",
      options.script ?? GENERATOR_BIN,
      // Keeps every file that exists as it is, and never asks (it would ask before overwriting).
      "--skip",
    ];
    const [command, ...args] = isolation ? [...isolation, process.execPath, ...node] : [process.execPath, ...node];
    const run = await runConfined(command!, args, {
      cwd: context,
      env: generatorEnv(home),
      timeoutMs,
      signal: options.signal,
    });
    const output = shownOutput(run.output, [
      [context, "."],
      [generatorDir, GENERATOR],
      // Where its dependencies (ejs, yargs, ...) are: this server's install.
      [dirname(dirname(generatorDir)), "node_modules"],
      [home, "~"],
    ]);
    const fail = (what: string): never => {
      throw new DockerfileGenerationFailed(generatorFailedReason(config.dockerfile, what, output.at(-1)), { context: config.context, output });
    };
    if (run.timedOut) return fail(`it did not finish within ${Math.round(timeoutMs / 1000)} s`);
    if (run.tooMuchOutput) return fail("it printed more than 1 MB");
    if (run.signal) return fail(`it was ended by ${run.signal}`);
    if (run.exitCode === undefined) return fail("it could not be started");
    if (run.exitCode !== 0) return fail(`it exited with code ${run.exitCode}`);

    const made = await lstatOrUndefined(written);
    if (!made?.isFile()) return fail("it wrote no Dockerfile");
    if (made.size > MAX_DOCKERFILE_BYTES) return fail("the Dockerfile it wrote is larger than 256 KiB");
    const text = await readFile(written, "utf8");
    if (written !== target) await rename(written, target);
    const created: string[] = [];
    for (const file of CREATED) if (!before.has(file) && (await lstatOrUndefined(join(context, file)))?.isFile()) created.push(file);
    return { path: config.dockerfile, text, created, networkIsolated: isolation !== undefined, durationMs: Math.round(performance.now() - started) };
  } finally {
    await rm(home, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  }
}

/**
 * What keeps package.json from being given to the generator, or undefined. Beyond being
 * a JSON object: the generator reads the files `dockerfile.instructions` names (options
 * a local run saved) and puts them into the Dockerfile, which the check run shows, so
 * each must stay inside the build context.
 */
export function packageJsonProblem(text: string, context: string): string | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return `is not valid JSON (${(error as Error).message})`;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "is not a JSON object";
  const instructions = (data as { dockerfile?: { instructions?: unknown } }).dockerfile?.instructions;
  if (instructions === undefined || instructions === null) return undefined;
  if (typeof instructions !== "object") return "has a dockerfile.instructions that is not an object";
  for (const [stage, file] of Object.entries(instructions)) {
    if (file === null || file === undefined || file === "") continue;
    if (typeof file !== "string") return `has a dockerfile.instructions.${stage} that is not a file name`;
    // The generator joins it to the folder it runs in (path.join: a leading "/" stays inside).
    if (!inside(context, join(context, file))) return `names a file outside the build context in dockerfile.instructions.${stage}`;
  }
  return undefined;
}

/**
 * The generator's whole environment. None of the server's: it holds the App's private
 * key, the webhook secret, FLY_API_TOKEN and the database URL, and the generator (or a
 * tool it starts) could write any of it into the Dockerfile the check run shows.
 */
export function generatorEnv(home: string): Record<string, string> {
  return {
    // An empty folder: the generator asks the shell for yarn, pnpm, bun, npm and flyctl
    // (which would read the repository's .yarnrc.yml, .npmrc or fly.toml and run what
    // they say). None is found, nor anything in the repository: PATH has no "." or "".
    PATH: join(home, "bin"),
    HOME: home,
    TMPDIR: home,
    CI: "true",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    npm_config_offline: "true",
    npm_config_update_notifier: "false",
    npm_config_cache: join(home, ".npm"),
    HTTP_PROXY: CLOSED_PROXY,
    HTTPS_PROXY: CLOSED_PROXY,
    ALL_PROXY: CLOSED_PROXY,
    http_proxy: CLOSED_PROXY,
    https_proxy: CLOSED_PROXY,
    all_proxy: CLOSED_PROXY,
  };
}

let isolation: Promise<string[] | undefined> | undefined;

/**
 * The command prefix that runs a program with no network (a network namespace of its
 * own, as an unprivileged user namespace allows), or undefined where this machine
 * refuses one (Docker's default seccomp profile does, and some kernels). Tried once.
 */
export function networkIsolation(): Promise<string[] | undefined> {
  isolation ??= (async () => {
    const unshare = await onPath("unshare");
    if (!unshare) return undefined;
    const prefix = [unshare, "--net", "--map-root-user", "--"];
    const probe = await execa(prefix[0]!, [...prefix.slice(1), process.execPath, "-e", ""], {
      env: {},
      extendEnv: false,
      stdin: "ignore",
      reject: false,
      timeout: 10_000,
    });
    return probe.exitCode === 0 ? prefix : undefined;
  })();
  return isolation;
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const file = join(dir, name);
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

interface Confined {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  tooMuchOutput: boolean;
  output: string;
}

/** Runs a process group under a time limit; on the limit, or `signal`, the whole group is killed. */
async function runConfined(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
): Promise<Confined> {
  options.signal?.throwIfAborted();
  const subprocess = execa(command, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: "ignore",
    all: true,
    maxBuffer: 1_000_000,
    reject: false,
    // A process group of its own, so the limit also ends whatever it started.
    detached: true,
  });
  let timedOut = false;
  const group = subprocess.pid;
  const killGroup = () => {
    if (group !== undefined) signalGroup(group);
  };
  if (group !== undefined) running.add(group);
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", () => {
      for (const pid of running) signalGroup(pid);
    });
  }
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, options.timeoutMs);
  options.signal?.addEventListener("abort", killGroup, { once: true });
  try {
    const result = await subprocess;
    options.signal?.throwIfAborted();
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut,
      tooMuchOutput: result.isMaxBuffer,
      output: typeof result.all === "string" ? result.all : "",
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", killGroup);
    // Whatever of the group outlived the generator (nothing should) goes with it.
    killGroup();
    if (group !== undefined) running.delete(group);
  }
}

// The groups still running: execa's clean-up on exit does not reach a detached process,
// and the time limit is this process's timer, so a server that exits ends them itself.
const running = new Set<number>();
let exitHooked = false;

function signalGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** The end of the output, with this server's paths replaced by what they stand for. */
function shownOutput(text: string, paths: Array<[string, string]>): string[] {
  let shown = text;
  for (const [path, name] of paths) shown = shown.split(path).join(name);
  return shown
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(-OUTPUT_LINES)
    .map((line) => (line.length > OUTPUT_LINE_MAX ? `${line.slice(0, OUTPUT_LINE_MAX)}…` : line));
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

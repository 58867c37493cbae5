import { posix } from "node:path";
import { parse, stringify, TomlError } from "smol-toml";
import { keyLocator, type KeyPath, type Position } from "./toml-lines.js";

export interface FlyTomlInput {
  app: string;
  region: string;
  /** Relative to the generated fly.toml's directory, which is how flyctl resolves it. */
  dockerfile: string;
  port: number;
  /** For example "512mb". */
  memory: string;
  cpus: number;
  cpuKind: string;
  env?: Record<string, string>;
  /**
   * `hooks.release` of .preview.yml and its time limit: `[deploy] release_command` and
   * `release_command_timeout` (a Go duration), in place of the repository's own.
   */
  release?: { command: string; timeout: string };
  /** Text of the repository's own fly.toml, used as the starting point. */
  base?: string;
  /**
   * Where that file is in the repository (default "fly.toml"). The generated fly.toml sits
   * at the repository's root, so paths written relative to the repository's own file are
   * rewritten relative to the root.
   */
  basePath?: string;
}

/** Something in the repository's fly.toml that keeps a preview from using it. */
export interface FlyTomlProblem extends Position {
  /** The key, dotted, like "files[0].local_path"; "" for the file as a whole. */
  path: string;
  message: string;
}

/** The repository's fly.toml cannot be used; nothing may be deployed with it. */
export class FlyTomlRefused extends Error {
  constructor(readonly problems: FlyTomlProblem[]) {
    super(problems.map((p) => `line ${p.line}: ${p.message}`).join("; "));
    this.name = "FlyTomlRefused";
  }
}

type Table = Record<string, unknown>;

// What a preview takes from the repository's fly.toml is an allow-list, read from flyctl
// v0.4.87's appconfig.Config (internal/appconfig/config.go): these top-level keys are kept
// as written, since nothing under them names a file on the machine running flyctl. [build],
// [experimental], [[files]] and [[statics]] are kept key by key below. Everything else is
// dropped (the generated fly.toml is shown in the check run): keys the preview sets itself
// (app, primary_region, [[vm]]), keys that do not fit a throwaway app ([mounts] needs a volume,
// [[services]] would clash with [http_service], host_dedication_id, [[machine_checks]],
// container) and keys flyctl does not know.
const KEPT = new Set([
  "kill_signal",
  "kill_timeout",
  "swap_size_mb",
  "console_command",
  "deploy",
  "env",
  "processes",
  "http_service",
  "checks",
  "restart",
  "metrics",
]);
// [build] image, builder, buildpacks, builtin and settings are dropped: the preview builds
// the pull request's code with the Dockerfile .preview.yml names.
const KEPT_BUILD = new Set(["args", "build-target", "build_target", "compression", "compression_level"]);
// The rest of [experimental] is switches of Fly's old platform or ones flyctl now ignores.
const KEPT_EXPERIMENTAL = new Set(["cmd", "entrypoint", "exec"]);
const KEPT_FILE = new Set(["guest_path", "raw_value", "secret_name", "processes"]);
const KEPT_STATIC = new Set(["guest_path", "url_prefix", "tigris_bucket", "index_document"]);

// Keys that make flyctl read a file of the machine it runs on and ship its content to Fly.
// That machine is the fly-preview server: its environment (/proc/self/environ) holds the App's
// private key and the Fly token, its disk every repository's secrets. So these are refused,
// never dropped quietly: the user learns why their fly.toml cannot be used as it is.
const MACHINE_CONFIG =
  "makes flyctl read a machine configuration, and every local_path it lists, from the disk of the fly-preview server; previews cannot use it";

/**
 * The problems that keep a preview from starting from the repository's fly.toml (at
 * `path` in the repository), each on its line; none when it can be used.
 */
export function flyTomlProblems(text: string, path = "fly.toml"): FlyTomlProblem[] {
  return readBase(text, path).problems;
}

/**
 * The fly.toml a preview is deployed with. It is always generated, never the user's
 * file edited in place, so a preview cannot change what their production deploy uses.
 * Throws FlyTomlRefused when the repository's fly.toml has a problem.
 */
export function renderFlyToml(input: FlyTomlInput): string {
  const { kept: base, problems } = input.base === undefined ? { kept: {}, problems: [] } : readBase(input.base, input.basePath ?? "fly.toml");
  if (problems.length > 0) throw new FlyTomlRefused(problems);

  const config: Table = {
    ...base,
    app: input.app,
    primary_region: input.region,
    build: { ...(base.build as Table | undefined), dockerfile: input.dockerfile },
    env: { ...(base.env as Table | undefined), PREVIEW: "true", ...input.env },
    // .preview.yml's release hook wins over the repository's release_command: the
    // preview's own settings live in .preview.yml, and its timeout goes with it.
    ...(input.release
      ? { deploy: { ...(base.deploy as Table | undefined), release_command: input.release.command, release_command_timeout: input.release.timeout } }
      : {}),
    http_service: {
      ...(base.http_service as Table | undefined),
      internal_port: input.port,
      force_https: true,
      auto_stop_machines: "stop",
      auto_start_machines: true,
      min_machines_running: 0,
    },
    vm: [{ memory: input.memory, cpu_kind: input.cpuKind, cpus: input.cpus }],
  };
  return indentTables(stringify(config));
}

/** The part of the repository's fly.toml a preview keeps, and what keeps it from being used. */
function readBase(text: string, path: string): { kept: Table; problems: FlyTomlProblem[] } {
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const problem = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    return { kept: {}, problems: [{ path: "", message: `not valid TOML: ${problem}`, line: error.line, column: error.column }] };
  }

  const locate = keyLocator(text);
  const problems: FlyTomlProblem[] = [];
  const refuse = (key: KeyPath, message: string) => problems.push({ path: dotted(key), message, ...locate(key) });
  const tableAt = (key: string): Table | undefined => {
    const value = doc[key];
    if (value === undefined || isTable(value)) return value;
    refuse([key], `"${key}" must be a table; write it as [${key}]`);
    return undefined;
  };
  const kept: Table = {};
  const dir = posix.dirname(path);

  for (const key of KEPT) {
    if (doc[key] !== undefined) kept[key] = doc[key];
  }
  for (const key of ["env", "deploy", "http_service"]) tableAt(key);

  const build = tableAt("build");
  if (build) {
    kept.build = pick(build, KEPT_BUILD);
    if (build.compose !== undefined) {
      refuse(
        ["build", "compose"],
        "[build.compose] makes flyctl read a compose file, and the files its volumes name, from the disk of the fly-preview server; previews build the Dockerfile that .preview.yml names",
      );
    }
    // flyctl resolves both relative to the fly.toml's directory (resolveDockerfilePath and
    // resolveIgnorefilePath in internal/command/deploy/deploy_build.go).
    for (const key of ["dockerfile", "ignorefile"]) {
      if (build[key] === undefined) continue;
      const inside = insideRepo(dir, build[key]);
      if (inside === undefined) {
        refuse(["build", key], `[build] ${key} = ${shown(build[key])} is outside the repository; flyctl would read that file from the disk of the fly-preview server. Use a path inside the repository`);
      } else if (key === "ignorefile") {
        (kept.build as Table).ignorefile = inside;
      }
    }
  }

  const experimental = tableAt("experimental");
  if (experimental) {
    kept.experimental = pick(experimental, KEPT_EXPERIMENTAL);
    if (experimental.machine_config !== undefined) refuse(["experimental", "machine_config"], `[experimental] machine_config ${MACHINE_CONFIG}`);
  }
  if (doc.machine_config !== undefined) refuse(["machine_config"], `machine_config ${MACHINE_CONFIG}`);

  const files = entries(doc.files, "files", refuse);
  if (files) {
    kept.files = files.map((file, i) => {
      if (file.local_path !== undefined) {
        refuse(
          ["files", i, "local_path"],
          `[[files]] local_path = ${shown(file.local_path)} makes flyctl upload that file from the disk of the fly-preview server into the preview; use raw_value or secret_name, or COPY the file in the Dockerfile`,
        );
      }
      return pick(file, KEPT_FILE);
    });
  }
  const statics = entries(doc.statics, "statics", refuse);
  if (statics) {
    kept.statics = statics.map((item, i) => {
      // A relative guest_path is not a path in the image: flyctl uploads that folder of its
      // own disk to a Tigris bucket (StaticIsCandidateForTigrisPush in
      // internal/command/deploy/statics/deployer.go).
      if (typeof item.guest_path !== "string" || !item.guest_path.startsWith("/")) {
        refuse(
          ["statics", i, "guest_path"],
          `[[statics]] guest_path = ${shown(item.guest_path)} is not an absolute path in the image, so flyctl would upload that folder from the disk of the fly-preview server; write the absolute path of the folder inside the image, like "/app/public"`,
        );
      }
      return pick(item, KEPT_STATIC);
    });
  }

  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { kept, problems };
}

/** The repository path `value` names, relative to the root; undefined when it leaves the repository. */
function insideRepo(dir: string, value: unknown): string | undefined {
  if (typeof value !== "string" || value === "" || /^([A-Za-z]:)?[\\/]/.test(value)) return undefined;
  const path = posix.normalize(posix.join(dir, value));
  return path === ".." || path.startsWith("../") ? undefined : path;
}

/** The tables of an array of tables (`[[files]]`), or a problem when it is something else. */
function entries(value: unknown, key: string, refuse: (key: KeyPath, message: string) => void): Table[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.every(isTable)) return value;
  refuse([key], `"${key}" must be a list of tables; write each one as [[${key}]]`);
  return undefined;
}

function pick(table: Table, keys: ReadonlySet<string>): Table {
  return Object.fromEntries(Object.entries(table).filter(([key]) => keys.has(key)));
}

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function dotted(path: KeyPath): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

// The value comes from the pull request: quoted, and cut so a long one cannot fill the check run.
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

// Matches the layout of flyctl's own fly.toml files: keys indented under their table.
// Safe line by line because smol-toml writes every string on one line, escaping newlines.
function indentTables(text: string): string {
  let inTable = false;
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("[")) inTable = true;
    lines.push(inTable && !line.startsWith("[") ? `  ${line}` : line);
  }
  return `${lines.join("\n")}\n`;
}

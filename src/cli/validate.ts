import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { stringify } from "yaml";
import { CONFIG_PATH, appReferences, parsePreviewConfig, type PreviewConfig } from "../config/index.js";
import { previewSchema, resolveRef, type JsonSchema } from "../config/schema.js";
import { flyTomlProblems } from "../fly/index.js";
import { noDockerfileReason } from "../github/messages.js";
import { GENERATOR, GENERATOR_VERSION } from "../preview/dockerfile.js";
import { flyTomlFor } from "../preview/fly-config.js";
import { appName, appUrl } from "../model/app-name.js";
import { DEFAULT_FLY_REGION } from "../settings.js";
import { CliError, type CliCommand } from "./command.js";

/** One line of output: `file:line:column: message`, or `file: message` for a file as a whole. */
interface Problem {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

// No pull request is at hand: the app is named as the server would name pull request 1 of owner/repo.
const EXAMPLE_OWNER = "owner";
const EXAMPLE_REPO = "repo";
const EXAMPLE_NUMBER = 1;

export const validate: CliCommand = {
  name: "validate",
  args: [],
  optionalArgs: ["PATH"],
  flags: [],
  local: true,
  summary: "check a .preview.yml as the server does, and show the fly.toml a preview gets (needs no server)",
  details:
    `PATH defaults to ${CONFIG_PATH} in the working directory; the files it names (dockerfile, fly_toml) are looked for next to it, at the repository's root. ` +
    "Uses the server's own parser, schema and messages, and reads no settings, .env or database. " +
    "Valid: prints the configuration with every default filled in (YAML), then the fly.toml a preview is deployed with, on standard output, and exits 0; " +
    "for a file with apps:, it prints both for each app, its repository-wide fields copied in. " +
    "Invalid: prints each problem as PATH:LINE:COLUMN: MESSAGE on standard error, as the check run would annotate it, and exits 1.",
  async run(args, ctx) {
    const file = args.positionals[0] ?? CONFIG_PATH;
    const text = await readText(file);
    if (text === undefined) {
      throw new CliError(`no file at ${file}; run this at the repository's root, or give the path: fly-preview validate PATH`);
    }
    const parsed = parsePreviewConfig(text);
    if (!parsed.ok) return fail(parsed.problems.map((p) => ({ file, ...p })), ctx.warn);

    const root = dirname(file);
    const apps = parsed.apps ?? [{ name: undefined, config: parsed.config }];
    const checked = await Promise.all(apps.map(({ name, config }) => checkFiles(config, root, file, name === undefined ? "" : `apps.${name}.`)));
    const problems = checked.flatMap((app) => app.problems);
    if (problems.length > 0) return fail(problems, ctx.warn);

    if (!parsed.apps) {
      ctx.print(`# ${file} is valid. With every default filled in, it reads:`);
      printApp(parsed.config, checked[0], undefined, ctx.print);
      return;
    }
    const names = parsed.apps.map((app) => app.name);
    ctx.print(`# ${file} is valid. It has ${names.length === 1 ? "1 app" : `${names.length} apps`}, ${names.join(", ")}, each previewed as a Fly app of its own.`);
    for (const [index, app] of parsed.apps.entries()) {
      ctx.print("");
      ctx.print(`# App ${app.name}, Fly app ${appName(EXAMPLE_OWNER, EXAMPLE_REPO, EXAMPLE_NUMBER, app.name)}. With every default filled in and the repository's fields copied in, it reads:`);
      ctx.print(app.paths ? `# paths (a push changing none of these files does not rebuild it): ${app.paths.join(", ")}` : "# no paths: every push rebuilds it");
      for (const other of referencedApps(app.config)) {
        ctx.print(`# \${apps.${other}.url} is ${appUrl(appName(EXAMPLE_OWNER, EXAMPLE_REPO, EXAMPLE_NUMBER, other))} for pull request ${EXAMPLE_NUMBER} of ${EXAMPLE_OWNER}/${EXAMPLE_REPO}`);
      }
      printApp(app.config, checked[index], app.name, ctx.print);
    }
  },
};

/** What checking one app's files found: its problems, the repository's fly.toml it starts from, the package.json a Dockerfile is generated from. */
interface CheckedFiles {
  problems: Problem[];
  base?: string;
  generated?: string;
}

/**
 * The files an app's config names, looked for in the checkout; `prefix` is where its fields
 * are in the file ("apps.api." for an app of `apps:`, "" for a file's one app).
 */
async function checkFiles(config: PreviewConfig, root: string, file: string, prefix: string): Promise<CheckedFiles> {
  const problems: Problem[] = [];
  let base: string | undefined;
  if (config.fly_toml !== undefined) {
    const path = join(root, config.fly_toml);
    base = await readText(path);
    if (base === undefined) problems.push({ file, message: `${prefix}fly_toml: "${config.fly_toml}" does not exist (no file at ${path})` });
    else problems.push(...flyTomlProblems(base, config.fly_toml).map((p) => ({ file: path, ...p })));
  }
  // The server refuses a missing Dockerfile before flyctl runs (src/preview/deploy-steps.ts),
  // unless it can generate the default one; a file that exists only here, uncommitted,
  // passes this check and not the server's.
  const dockerfile = join(root, config.dockerfile);
  const packageJson = join(root, config.context, "package.json");
  let generated: string | undefined;
  if (!existsSync(dockerfile)) {
    if (config.dockerfileNamed) problems.push({ file, message: `${prefix}dockerfile: "${config.dockerfile}" does not exist (no file at ${dockerfile})` });
    else if (!existsSync(packageJson)) problems.push({ file, message: `${prefix ? `${prefix.slice(0, -1)}: ` : ""}${noDockerfileReason(config.dockerfile, config.context)}` });
    else generated = posix.join(config.context, "package.json");
  }
  return { problems, base, generated };
}

/** One app's effective configuration, as a valid single-app .preview.yml, then the fly.toml it is deployed with. */
function printApp(config: PreviewConfig, files: CheckedFiles, app: string | undefined, print: (line: string) => void): void {
  const fields = fileFields(config, previewSchema);
  // Written out, the default would count as named, and a missing Dockerfile would fail instead of being generated.
  if (!config.dockerfileNamed) delete fields.dockerfile;
  if (files.generated) {
    print(`# dockerfile is unset, and there is no ${config.dockerfile}: a preview generates one from ${files.generated} with ${GENERATOR} ${GENERATOR_VERSION} (run npx ${GENERATOR} in ${config.context} to see it)`);
  } else if (!config.dockerfileNamed) {
    print(`# dockerfile is unset, so ${config.dockerfile}; a commit without one gets it generated from ${posix.join(config.context, "package.json")}, when there is one`);
  }
  print(stringify(fields).trimEnd());
  print("");
  const region = config.region === undefined ? `the region is the server's default, ${DEFAULT_FLY_REGION}, unless its operator set FLY_REGION` : `the region is ${config.region}`;
  const which = app === undefined ? "a preview" : `app ${app}`;
  print(`# The fly.toml ${which} is deployed with (for pull request ${EXAMPLE_NUMBER} of ${EXAMPLE_OWNER}/${EXAMPLE_REPO}; ${region}):`);
  print(previewFlyToml(config, files.base, app).trimEnd());
}

/** The apps whose URL `${apps.NAME.url}` in the config's env and build_args refers to, each once. */
function referencedApps(config: PreviewConfig): string[] {
  const values = [...Object.values(config.env), ...Object.values(config.build_args)];
  return [...new Set(values.flatMap((value) => appReferences(value).flatMap((reference) => ("name" in reference ? [reference.name] : []))))];
}

/** The fly.toml the server deploys: the same mapping from .preview.yml to Fly (src/preview/fly-config.ts). */
function previewFlyToml(config: PreviewConfig, base: string | undefined, app: string | undefined): string {
  return flyTomlFor(appName(EXAMPLE_OWNER, EXAMPLE_REPO, EXAMPLE_NUMBER, app), config, { flyRegion: DEFAULT_FLY_REGION }, base);
}

function fail(problems: Problem[], warn: (line: string) => void): never {
  for (const p of problems) warn(p.line === undefined ? `${p.file}: ${p.message}` : `${p.file}:${p.line}:${p.column}: ${p.message}`);
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  throw new CliError(`${count}: a pull request would get a failed check run and no preview`);
}

/**
 * The fields of .preview.yml, in the schema's order: what the user may write, without the
 * values the parser derives (timeoutMs, memoryMb, ttlMs), so the output is itself a valid file.
 */
function fileFields(value: object, schema: JsonSchema): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, own] of Object.entries(schema.properties ?? {})) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    const resolved = resolveRef(own);
    fields[key] = resolved.properties ? fileFields(field as object, resolved) : field;
  }
  return fields;
}

/** The file's text, or undefined when there is no file at `path`. */
async function readText(path: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return undefined;
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  // Decoded as the server decodes the bytes GitHub sends (src/config/load.ts): UTF-8, a byte-order mark dropped.
  return new TextDecoder().decode(bytes);
}

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { stringify } from "yaml";
import { CONFIG_PATH, parsePreviewConfig, type PreviewConfig } from "../config/index.js";
import { previewSchema, resolveRef, type JsonSchema } from "../config/schema.js";
import { flyTomlProblems } from "../fly/index.js";
import { noDockerfileReason } from "../github/messages.js";
import { GENERATOR, GENERATOR_VERSION } from "../preview/dockerfile.js";
import { flyTomlFor } from "../preview/fly-config.js";
import { appName } from "../model/app-name.js";
import { DEFAULT_FLY_REGION } from "../settings.js";
import { CliError, type Command } from "./command.js";

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

export const validate: Command = {
  name: "validate",
  args: [],
  optionalArgs: ["PATH"],
  flags: [],
  local: true,
  summary: "check a .preview.yml as the server does, and show the fly.toml a preview gets (needs no server)",
  details:
    `PATH defaults to ${CONFIG_PATH} in the working directory; the files it names (dockerfile, fly_toml) are looked for next to it, at the repository's root. ` +
    "Uses the server's own parser, schema and messages, and reads no settings, .env or database. " +
    "Valid: prints the configuration with every default filled in (YAML), then the fly.toml a preview is deployed with, on standard output, and exits 0. " +
    "Invalid: prints each problem as PATH:LINE:COLUMN: MESSAGE on standard error, as the check run would annotate it, and exits 1.",
  async run(args, ctx) {
    const file = args.positionals[0] ?? CONFIG_PATH;
    const text = await readText(file);
    if (text === undefined) {
      throw new CliError(`no file at ${file}; run this at the repository's root, or give the path: fly-preview validate PATH`);
    }
    const parsed = parsePreviewConfig(text);
    if (!parsed.ok) return fail(parsed.problems.map((p) => ({ file, ...p })), ctx.warn);

    const { config } = parsed;
    const root = dirname(file);
    const problems: Problem[] = [];
    let base: string | undefined;
    if (config.fly_toml !== undefined) {
      const path = join(root, config.fly_toml);
      base = await readText(path);
      if (base === undefined) problems.push({ file, message: `fly_toml: "${config.fly_toml}" does not exist (no file at ${path})` });
      else problems.push(...flyTomlProblems(base, config.fly_toml).map((p) => ({ file: path, ...p })));
    }
    // The server refuses a missing Dockerfile before flyctl runs (src/preview/deploy-steps.ts),
    // unless it can generate the default one; a file that exists only here, uncommitted,
    // passes this check and not the server's.
    const dockerfile = join(root, config.dockerfile);
    const packageJson = join(root, config.context, "package.json");
    let generated: string | undefined;
    if (!existsSync(dockerfile)) {
      if (config.dockerfileNamed) problems.push({ file, message: `dockerfile: "${config.dockerfile}" does not exist (no file at ${dockerfile})` });
      else if (!existsSync(packageJson)) problems.push({ file, message: noDockerfileReason(config.dockerfile, config.context) });
      else generated = posix.join(config.context, "package.json");
    }
    if (problems.length > 0) return fail(problems, ctx.warn);

    const fields = fileFields(config, previewSchema);
    // Written out, the default would count as named, and a missing Dockerfile would fail instead of being generated.
    if (!config.dockerfileNamed) delete fields.dockerfile;
    ctx.print(`# ${file} is valid. With every default filled in, it reads:`);
    if (generated) {
      ctx.print(`# dockerfile is unset, and there is no ${config.dockerfile}: a preview generates one from ${generated} with ${GENERATOR} ${GENERATOR_VERSION} (run npx ${GENERATOR} in ${config.context} to see it)`);
    } else if (!config.dockerfileNamed) {
      ctx.print(`# dockerfile is unset, so ${config.dockerfile}; a commit without one gets it generated from ${posix.join(config.context, "package.json")}, when there is one`);
    }
    ctx.print(stringify(fields).trimEnd());
    ctx.print("");
    const region = config.region === undefined ? `the region is the server's default, ${DEFAULT_FLY_REGION}, unless its operator set FLY_REGION` : `the region is ${config.region}`;
    ctx.print(`# The fly.toml a preview is deployed with (for pull request ${EXAMPLE_NUMBER} of ${EXAMPLE_OWNER}/${EXAMPLE_REPO}; ${region}):`);
    ctx.print(previewFlyToml(config, base).trimEnd());
  },
};

/** The fly.toml the server deploys: the same mapping from .preview.yml to Fly (src/preview/fly-config.ts). */
function previewFlyToml(config: PreviewConfig, base: string | undefined): string {
  return flyTomlFor(appName(EXAMPLE_OWNER, EXAMPLE_REPO, EXAMPLE_NUMBER), config, { flyRegion: DEFAULT_FLY_REGION }, base);
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

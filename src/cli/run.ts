import { reap } from "../preview/reaper.js";
import { SecretStore } from "../secrets/index.js";
import { readSettings, SettingsError, type Settings } from "../settings.js";
import { openStore, type Store } from "../store/store.js";
import { parseArgs } from "./args.js";
import { UsageError, usage, type CliCommand, type Context } from "./command.js";
import { destroy } from "./destroy.js";
import { doctor } from "./doctor.js";
import { gc } from "./gc.js";
import { list } from "./list.js";
import { migrate } from "./migrate.js";
import { worker } from "./worker.js";
import { secretsList, secretsSet, secretsUnset } from "./secrets.js";
import { status } from "./status.js";
import { validate } from "./validate.js";

export const CLI_COMMANDS: CliCommand[] = [list, status, destroy, gc, secretsSet, secretsList, secretsUnset, migrate, worker, doctor, validate];

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
}

/** What tests replace. */
export interface CliDeps {
  reap?: typeof reap;
}

const TOP_USAGE = "fly-preview <command> [arguments] [flags]";

/** Runs one invocation and returns its exit code: 0 done, 1 failed, 2 called wrongly. */
export async function runCli(argv: string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    io.stderr(overview(CLI_COMMANDS));
    return 2;
  }
  if (isHelp(first) || first === "help") {
    io.stdout(overview(CLI_COMMANDS));
    return 0;
  }
  const command = CLI_COMMANDS.find((c) => c.name.split(" ").every((word, i) => argv[i] === word));
  if (!command) return unknownCommand(argv, io);

  const rest = argv.slice(command.name.split(" ").length);
  const beforeDashes = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (beforeDashes.some(isHelp)) {
    io.stdout(help(command));
    return 0;
  }
  const ctx = context(io, deps);
  try {
    await command.run(parseArgs(command, rest), ctx);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`fly-preview: ${error.message}\nusage: ${usage(command)}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`fly-preview: ${error instanceof SettingsError ? `configuration error: ${message}` : message}\n`);
    return 1;
  } finally {
    await ctx.close();
  }
}

function isHelp(arg: string): boolean {
  return arg === "--help" || arg === "-h";
}

function unknownCommand(argv: string[], io: CliIo): number {
  // `fly-preview secrets` alone or with an unknown subcommand: show that group's commands.
  const group = CLI_COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
  if (group.length > 0) {
    const sub = argv[1];
    if (sub !== undefined && isHelp(sub)) {
      io.stdout(overview(group));
      return 0;
    }
    const what = sub === undefined ? `"${argv[0]}" needs a subcommand` : `unknown command "${argv[0]} ${sub}"`;
    io.stderr(`fly-preview: ${what}\n${group.map((c) => `usage: ${usage(c)}`).join("\n")}\n`);
    return 2;
  }
  const what = argv[0].startsWith("-") ? `unknown flag ${argv[0]}` : `unknown command "${argv[0]}"`;
  io.stderr(`fly-preview: ${what}; run \`fly-preview --help\` for the commands\nusage: ${TOP_USAGE}\n`);
  return 2;
}

function overview(commands: CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `usage: ${TOP_USAGE}`,
    "",
    "Operates a fly-preview server: its previews, their cleanup and per-repository secrets.",
    "Reads the server's settings, from the environment and .env (the environment wins): DATABASE_URL, FLY_API_TOKEN, FLY_ORG, FLYCTL_PATH, PREVIEW_SECRETS_KEY.",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run `fly-preview <command> --help` for a command's arguments and flags.",
    "",
  ].join("\n");
}

function help(command: CliCommand): string {
  const flags = [...command.flags, { name: "help", help: "show this help" }].map((flag) => ({
    left: flag.value ? `--${flag.name} ${flag.value}` : `--${flag.name}`,
    help: flag.help,
  }));
  const width = Math.max(...flags.map((f) => f.left.length)) + 2;
  return [
    `usage: ${usage(command)}`,
    "",
    `${command.summary[0].toUpperCase()}${command.summary.slice(1)}.`,
    ...(command.details ? [command.details] : []),
    "",
    "flags:",
    ...flags.map((f) => `  ${f.left.padEnd(width)}${f.help}`),
    "",
  ].join("\n");
}

function context(io: CliIo, deps: CliDeps): Context & { close(): Promise<void> } {
  let settings: Settings | undefined;
  let store: Promise<Store> | undefined;
  const ctx = {
    print: (line: string) => io.stdout(`${line}\n`),
    warn: (line: string) => io.stderr(`${line}\n`),
    stdin: io.stdin,
    env: io.env,
    settings: () => (settings ??= readSettings(io.env)),
    store: () => (store ??= openStore(ctx.settings().databaseUrl)),
    async secrets() {
      const secrets = new SecretStore((await ctx.store()).db, ctx.settings().secretsKey);
      await secrets.check();
      return secrets;
    },
    reap: deps.reap ?? reap,
    async close() {
      await store?.then(
        (s) => s.close(),
        () => undefined,
      );
    },
  };
  return ctx;
}

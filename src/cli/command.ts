import type { reap } from "../preview/reaper.js";
import type { SecretStore } from "../secrets/index.js";
import type { Settings } from "../settings.js";
import type { Store } from "../store/store.js";

/** A mistake in how the command was called: exit code 2, with the usage line. */
export class UsageError extends Error {}

/** The command was understood but could not be done: exit code 1. */
export class CliError extends Error {}

export interface Flag {
  name: string;
  /** The placeholder of the flag's value; a flag without one is a switch. */
  value?: string;
  help: string;
}

export interface Args {
  positionals: string[];
  switches: Set<string>;
  values: Map<string, string>;
}

export interface Context {
  print(line: string): void;
  warn(line: string): void;
  stdin(): Promise<string>;
  /** The environment the CLI runs in: the server's variables. */
  env: NodeJS.ProcessEnv;
  settings(): Settings;
  /** The server's store, opened (and migrated) on first use. */
  store(): Promise<Store>;
  /** The secret store, after its key was checked against the stored secrets. */
  secrets(): Promise<SecretStore>;
  reap: typeof reap;
}

export interface CliCommand {
  /** The words after `fly-preview`, e.g. "secrets set". */
  name: string;
  /** Placeholders of the positional arguments that must be given. */
  args: string[];
  /** Placeholders of positional arguments that may be left out, after the required ones. */
  optionalArgs?: string[];
  flags: Flag[];
  summary: string;
  /** More for `--help`, when the summary is not enough. */
  details?: string;
  /**
   * Runs in a repository checkout rather than where the server runs: the working
   * directory's `.env` is the application's, so the CLI does not read it, and the command
   * uses neither the settings nor the store.
   */
  local?: boolean;
  run(args: Args, ctx: Context): Promise<void>;
}

export function usage(command: CliCommand): string {
  const flags = command.flags.map((flag) => (flag.value ? `[--${flag.name} ${flag.value}]` : `[--${flag.name}]`));
  const optional = (command.optionalArgs ?? []).map((arg) => `[${arg}]`);
  return ["fly-preview", command.name, ...command.args, ...optional, ...flags].join(" ");
}

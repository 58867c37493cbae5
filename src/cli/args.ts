import { isAppKey } from "../model/app-name.js";
import { UsageError, type Args, type CliCommand } from "./command.js";

/** Flags anywhere before `--`, in `--name value` or `--name=value` form; the rest are positionals. */
export function parseArgs(command: CliCommand, tokens: string[]): Args {
  const args: Args = { positionals: [], switches: new Set(), values: new Map() };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === "--") {
      args.positionals.push(...tokens.slice(i + 1));
      break;
    }
    if (!token.startsWith("-")) {
      args.positionals.push(token);
      continue;
    }
    const equals = token.indexOf("=");
    const name = equals === -1 ? token : token.slice(0, equals);
    const inline = equals === -1 ? undefined : token.slice(equals + 1);
    const flag = command.flags.find((f) => `--${f.name}` === name);
    if (!flag) throw new UsageError(`unknown flag ${name}`);
    if (!flag.value) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      args.switches.add(flag.name);
      continue;
    }
    const value = inline ?? tokens[i + 1];
    if (value === undefined || value === "" || (inline === undefined && value.startsWith("-"))) {
      throw new UsageError(`${name} needs a value: ${name} ${flag.value}`);
    }
    if (inline === undefined) i++;
    args.values.set(flag.name, value);
  }
  if (args.positionals.length < command.args.length) {
    throw new UsageError(`missing ${command.args[args.positionals.length]}`);
  }
  const most = command.args.length + (command.optionalArgs?.length ?? 0);
  if (args.positionals.length > most) {
    throw new UsageError(`unexpected argument "${args.positionals[most]}"`);
  }
  return args;
}

// GitHub's rules: owners are letters, digits and inner hyphens; repository names
// also allow dots and underscores.
const OWNER = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
const REPO = "[A-Za-z0-9._-]+";
const REPOSITORY = new RegExp(`^(${OWNER})/(${REPO})$`);
const PULL_REQUEST = new RegExp(`^(${OWNER})/(${REPO})#([1-9][0-9]{0,9})$`);

export function parseRepository(text: string): { owner: string; repo: string } {
  const match = REPOSITORY.exec(text);
  if (!match || match[2] === "." || match[2] === "..") {
    throw new UsageError(`"${text}" is not a repository: write owner/repo, e.g. acme/web`);
  }
  return { owner: match[1], repo: match[2] };
}

export function parsePullRequest(text: string): { owner: string; repo: string; number: number } {
  const match = PULL_REQUEST.exec(text);
  if (!match || match[2] === "." || match[2] === "..") {
    throw new UsageError(`"${text}" is not a pull request: write owner/repo#N, e.g. acme/web#42`);
  }
  return { owner: match[1], repo: match[2], number: Number(match[3]) };
}

/** The name of one app under `apps:` in .preview.yml, as `/preview redeploy NAME` takes it (any case). */
export function parseAppKey(text: string): string {
  const key = text.toLowerCase();
  if (!isAppKey(key)) {
    throw new UsageError(`"${text}" is not an app's name: apps are named under apps: in .preview.yml, with lowercase letters, digits and hyphens, starting with a letter, e.g. api`);
  }
  return key;
}

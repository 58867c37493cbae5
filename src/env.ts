import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

export class DotEnvError extends Error {}

/**
 * Loads `.env` from the working directory into `env` before any setting is read, so the
 * server, the workers and every CLI command see the same settings. A variable already
 * set (in the shell, by systemd, by Fly.io) wins over the file, as users expect.
 *
 * Parsed as Probot 14 parses it (node_modules/probot/lib/helpers/load-env.js:
 * util.parseEnv of `${cwd}/.env`, a missing file is no error), so both read the same
 * values. Probot's run() then assigns the file over process.env again, letting the file
 * win; the returned `shadowed` holds the shell's values it overwrites, for
 * `keepShellValues` to put back.
 */
export function loadDotEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { shadowed: Record<string, string> } {
  const path = join(cwd, ".env");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { shadowed: {} };
    throw new DotEnvError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const shadowed: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (value === undefined) continue;
    const outer = env[name];
    if (outer === undefined) env[name] = value;
    else if (outer !== value) shadowed[name] = outer;
  }
  return { shadowed };
}

/** Undoes Probot's re-reading of `.env` (see loadDotEnv): the shell's values win again. */
export function keepShellValues(shadowed: Record<string, string>, env: NodeJS.ProcessEnv = process.env): void {
  Object.assign(env, shadowed);
}

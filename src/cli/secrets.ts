import { SECRET_NAME, SecretStore } from "../secrets/index.js";
import { parseRepository } from "./args.js";
import { CliError, UsageError, type CliCommand } from "./command.js";
import { isoTime, table } from "./format.js";

function secretName(text: string): string {
  if (!SECRET_NAME.test(text)) {
    throw new UsageError(`"${text}" is not a secret name: letters, digits and _, not starting with a digit (e.g. DATABASE_URL)`);
  }
  return text;
}

export const secretsSet: CliCommand = {
  name: "secrets set",
  args: ["owner/repo", "NAME"],
  flags: [],
  summary: "store a secret for a repository's previews (the value is read from stdin)",
  details:
    "The value is read from standard input: piped or redirected, all of it, several lines allowed, one trailing newline dropped; typed at a terminal, one line, not shown, ended by Enter. A value flyctl would change on its way to Fly.io, whichever way it is sent, is refused with the reason. It is stored encrypted with PREVIEW_SECRETS_KEY and never printed. Previews get it when `.preview.yml` lists NAME under `secrets`.",
  async run(args, ctx) {
    const { owner, repo } = parseRepository(args.positionals[0]);
    const name = secretName(args.positionals[1]);
    // Checked before reading, so nobody types a value only to learn the key is wrong.
    const secrets = await ctx.secrets();
    const value = (await ctx.stdin()).replace(/\r?\n$/, "");
    if (value === "") {
      throw new UsageError(`no value on standard input for ${name}: pipe it in, e.g. printf %s "$VALUE" | fly-preview secrets set ${owner}/${repo} ${name}`);
    }
    await secrets.set(owner, repo, name, value);
    ctx.print(`secret ${name} set for ${owner}/${repo}`);
  },
};

export const secretsList: CliCommand = {
  name: "secrets list",
  args: ["owner/repo"],
  flags: [],
  summary: "the names of a repository's secrets and when they changed (never values)",
  async run(args, ctx) {
    const { owner, repo } = parseRepository(args.positionals[0]);
    // Names and times are stored in the clear: listing needs no key, so no key check.
    const stored = await new SecretStore((await ctx.store()).db, undefined).list(owner, repo);
    if (stored.length === 0) {
      ctx.print(`no secrets for ${owner}/${repo}`);
      return;
    }
    for (const line of table(["NAME", "UPDATED"], stored.map((s) => [s.name, isoTime(s.updatedAt)]))) ctx.print(line);
  },
};

export const secretsUnset: CliCommand = {
  name: "secrets unset",
  args: ["owner/repo", "NAME"],
  flags: [],
  summary: "remove a secret from a repository",
  details: "Previews deployed after this no longer get it; a `.preview.yml` that still lists NAME fails its deploy.",
  async run(args, ctx) {
    const { owner, repo } = parseRepository(args.positionals[0]);
    const name = secretName(args.positionals[1]);
    if (!(await (await ctx.secrets()).unset(owner, repo, name))) throw new CliError(`${owner}/${repo} has no secret ${name}`);
    ctx.print(`secret ${name} removed from ${owner}/${repo}`);
  },
};

import { resolve } from "node:path";
import type { CliCommand } from "./command.js";

/** Which database, without the credentials a PostgreSQL URL may carry. */
export function describeDatabase(url: string): string {
  if (url.startsWith("file:")) {
    const file = url.slice("file:".length);
    return `SQLite at ${file === ":memory:" ? file : resolve(file)}`;
  }
  const parsed = new URL(url);
  return `PostgreSQL at ${parsed.hostname}${parsed.port ? `:${parsed.port}` : ""}${parsed.pathname}`;
}

export const migrate: CliCommand = {
  name: "migrate",
  args: [],
  flags: [],
  summary: "bring the database's schema up to date (the server also does this at start-up)",
  async run(_args, ctx) {
    await ctx.store();
    ctx.print(`database is up to date (${describeDatabase(ctx.settings().databaseUrl)})`);
  },
};

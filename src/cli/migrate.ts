import { resolve } from "node:path";
import type { Command } from "./command.js";

export const migrate: Command = {
  name: "migrate",
  args: [],
  flags: [],
  summary: "bring the database's schema up to date (the server also does this at start-up)",
  async run(_args, ctx) {
    await ctx.store();
    // readSettings only accepts file:PATH, which carries no credentials to hide.
    const file = ctx.settings().databaseUrl.slice("file:".length);
    ctx.print(`database is up to date (SQLite at ${file === ":memory:" ? file : resolve(file)})`);
  },
};

/**
 * The names of the `/preview` commands, in the order `/preview help` lists them: the one
 * list the parser, the check run's buttons and the command table share. What each does is
 * its entry in `SLASH_COMMANDS` (src/commands/execute.ts), whose type wants one entry per
 * name; docs/commands.md is checked against that table.
 */
export const SLASH_COMMAND_NAMES = ["redeploy", "destroy", "reset-db", "approve", "pin", "unpin", "extend", "status", "help"] as const;

export type SlashCommandName = (typeof SLASH_COMMAND_NAMES)[number];

const NAMES: ReadonlySet<string> = new Set(SLASH_COMMAND_NAMES);

export function isSlashCommandName(word: string): word is SlashCommandName {
  return NAMES.has(word);
}

// The commands that may name one app of several (`/preview redeploy api`): an app's own
// preview can be built again, destroyed or shown alone. The rest are about the whole pull
// request (its approval, its expiry, its one database), and read no app's name.
const TAKES_APP: ReadonlySet<SlashCommandName> = new Set<SlashCommandName>(["redeploy", "destroy", "status"]);

export function takesApp(name: SlashCommandName): boolean {
  return TAKES_APP.has(name);
}

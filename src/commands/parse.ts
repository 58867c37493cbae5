import { isSlashCommandName, type SlashCommandName } from "../model/slash-commands.js";

export interface ParsedCommand {
  name: SlashCommandName | "unknown";
  /** The command line as written, for the reply to an unknown one. */
  text: string;
}

/**
 * The first line of a comment that starts with `/preview` (any case, surrounding
 * spaces ignored). Lines inside fenced code blocks and quoted lines (`> /preview …`)
 * are not commands: quoting someone's command in a reply must not run it again.
 */
export function parseCommand(body: string): ParsedCommand | undefined {
  let fenced = false;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const match = /^\/preview(?:\s+(\S+))?(?:\s.*)?$/i.exec(line);
    if (!match) continue;
    const word = (match[1] ?? "help").toLowerCase();
    return { name: isSlashCommandName(word) ? word : "unknown", text: line };
  }
  return undefined;
}

import { notAnAppNameReply, oneAppReply } from "../github/messages.js";
import { isAppKey } from "../model/app-name.js";
import { isSlashCommandName, takesApp, type SlashCommandName } from "../model/slash-commands.js";

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

/** The words of a command line: the command, the app it names, and the rest. */
export interface CommandWords {
  name: SlashCommandName | "unknown";
  /** The app a command that takes one names (`/preview redeploy api`), lowercased. */
  app?: string;
  /** The other words after the command, as written: options (`--fresh`) and values (`3d`). */
  args: string[];
  /**
   * The reply when the words cannot name one app: a word that is no app's name, or two
   * of them. It matters to a pull request with several apps; one with a single app
   * ignores words after the command, as it always has (`/preview redeploy please`).
   */
  refusal?: string;
}

/**
 * Splits a command line (`ParsedCommand.text`) into words. After `redeploy`, `destroy`
 * and `status`, the first word that is not an option (`--fresh`, in any place) is the
 * app's name; other commands take no app, and their words are `args` (the duration of
 * `/preview extend 3d`). An app's name starts with a letter, so a duration never reads as one.
 */
export function parseCommandWords(text: string): CommandWords {
  const [, written = "help", ...rest] = text.trim().split(/\s+/);
  const word = written.toLowerCase();
  const name = isSlashCommandName(word) ? word : "unknown";
  if (name === "unknown" || !takesApp(name)) return { name, args: rest };
  const at = rest.findIndex((w) => !w.startsWith("-"));
  if (at < 0) return { name, args: rest };
  const app = rest[at]!;
  if (!isAppKey(app.toLowerCase())) return { name, args: rest, refusal: notAnAppNameReply(name, app) };
  const args = rest.filter((_, i) => i !== at);
  const more = args.some((w) => !w.startsWith("-"));
  return { name, app: app.toLowerCase(), args, ...(more ? { refusal: oneAppReply(name) } : {}) };
}

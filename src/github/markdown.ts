// Text that users control (branch names, titles, flyctl output) goes through these
// before it reaches a comment or a check run, so it cannot break the layout, open a
// link, mention someone or inject HTML.

/** Escapes a one-line value for inline markdown (table cells included). */
export function inline(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/([\\`*{}[\]()#+!|~])/g, "\\$1")
    // GitHub's markdown never reads an underscore inside a word as emphasis, so
    // FLY_API_TOKEN stays readable in the raw text.
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, "\\_")
    .replace(/@/g, "@\u200b");
}

/** Wraps text in a fenced code block whose fence no line of the text can close. */
export function codeBlock(text: string, lang = ""): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** Inline code that no backtick in the text can close, on one line. */
export function codeSpan(text: string): string {
  const line = text.replace(/[\r\n]+/g, " ");
  const longest = Math.max(0, ...(line.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  // CommonMark strips one space from each end, so a backtick at an end stays apart from the fence.
  const pad = line.startsWith("`") || line.endsWith("`") ? " " : "";
  return `${fence}${pad}${line}${pad}${fence}`;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}

/** A time of day within the next hours: "14:05 UTC". */
export function formatClock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A moment in the coming days, as people say it: "Dec 9 at 14:00 UTC". */
export function formatDay(ms: number): string {
  const date = new Date(ms);
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} at ${formatClock(ms)}`;
}

/** A whole duration in words: "7 days", "1 hour", "90 minutes". */
export function spellDuration(ms: number): string {
  for (const [unit, size] of [["day", 86_400_000], ["hour", 3_600_000], ["minute", 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms === size ? "" : "s"}`;
  }
  return formatDuration(ms);
}

/** Roughly how long is left: "about 23 hours", "about an hour", "about 6 minutes". */
export function aboutDuration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes >= 90) return `about ${Math.round(minutes / 60)} hours`;
  if (minutes >= 45) return "about an hour";
  return minutes === 1 ? "about a minute" : `about ${minutes} minutes`;
}

/** A TTL as people write it: "7d", "12h", "30m". */
export function formatTtl(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return formatDuration(ms);
}

/**
 * Length as GitHub measures it, or more: its limits say "characters", but check runs
 * are measured in UTF-8 bytes ("summary exceeds a maximum bytesize of 65535",
 * github/docs#35252). A byte count is never below a character count (code points or
 * UTF-16 units), so text that fits in bytes fits whichever way GitHub counts.
 */
export function githubLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The longest start of `text` within `max` bytes, never splitting a character. */
function cutToBytes(text: string, max: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    bytes += Buffer.byteLength(char, "utf8");
    if (bytes > max) break;
    end += char.length;
  }
  return text.slice(0, end);
}

/** One line (a title, an annotation) cut to `max` with an ellipsis. */
export function fitLine(text: string, max: number): string {
  if (githubLength(text) <= max) return text;
  return cutToBytes(text, max - githubLength("…")) + "…";
}

// CommonMark: a fence is 3+ backticks or tildes indented at most 3 spaces; it is
// closed by a run of the same character at least as long with nothing after it.
function fenceAfter(open: string | undefined, line: string): string | undefined {
  const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
  if (!m) return open;
  const [, run, rest] = m;
  if (open) return run[0] === open[0] && run.length >= open.length && rest.trim() === "" ? undefined : open;
  return run[0] === "`" && rest.includes("`") ? undefined : run;
}

export interface FitOptions {
  /** What a line of this text is, singular and plural: "1 more problem cut". */
  unit?: [string, string];
  /** Where the rest can be found, when somewhere can. */
  rest?: string;
}

/**
 * Text cut to GitHub's limit of `max` characters (see githubLength) at a line
 * boundary, with a note saying what was cut. A code fence left open is closed, so the
 * note is not swallowed into it. When whole lines would leave less than half the room
 * used (one huge line), that line is cut in the middle instead.
 */
export function fitText(text: string, max: number, options: FitOptions = {}): string {
  if (githubLength(text) <= max) return text;
  const [one, many] = options.unit ?? ["line", "lines"];
  const limit = max.toLocaleString("en-US");
  const note = (cut: number, partial: boolean) => {
    const what = [...(partial ? ["the rest of this line"] : []), ...(cut ? [`${cut.toLocaleString("en-US")} more ${cut === 1 ? one : many}`] : [])];
    return `… ${what.join(" and ")} cut (GitHub shows at most ${limit} characters here)${options.rest ? `; ${options.rest}` : ""}.`;
  };
  const lines = text.split("\n");
  // shown lines, then a closing fence when one is open, a blank line and the note.
  const build = (shown: string[], fence: string | undefined, cut: number, partial: boolean) =>
    [...shown, ...(fence ? [fence] : []), "", note(cut, partial)].join("\n");

  // Whole lines: the most that fit with their note and closing fence. Lengths are
  // summed as we go, so 3,000 short lines do not mean 3,000 joins.
  let kept = 0;
  let fence: string | undefined;
  let bytes = 0; // the kept lines, each with its newline
  let fits = { kept: 0, fence: undefined as string | undefined, bytes: 0 };
  const tailLength = (f: string | undefined, cut: number, partial: boolean) =>
    (f ? githubLength(f) + 1 : 0) + 1 + githubLength(note(cut, partial));
  while (kept < lines.length && bytes + githubLength(lines[kept]) + 1 <= max) {
    bytes += githubLength(lines[kept]) + 1;
    fence = fenceAfter(fence, lines[kept]);
    kept++;
    if (bytes + tailLength(fence, lines.length - kept, false) <= max) fits = { kept, fence, bytes };
  }
  if (fits.bytes >= max / 2 || fits.kept === lines.length) {
    return build(lines.slice(0, fits.kept), fits.fence, lines.length - fits.kept, false);
  }

  // Little shown: the next line is huge. Show its start, as much as fits.
  const shown = lines.slice(0, fits.kept);
  const cut = lines.length - fits.kept - 1;
  let room = max - fits.bytes - tailLength(fits.fence, cut, true) - 1;
  for (;;) {
    if (room <= 0) return build(shown, fits.fence, cut + 1, false);
    const partial = cutToBytes(lines[fits.kept], room);
    const result = build([...shown, partial], [...shown, partial].reduce<string | undefined>(fenceAfter, undefined), cut, true);
    const over = githubLength(result) - max;
    if (over <= 0) return result;
    room -= over;
  }
}

/** "$3.32", or "$0.0045" for amounts under a dollar a unit, where cents say nothing. */
export function formatMoney(amount: number, currency: string): string {
  const digits = amount >= 1 ? 2 : amount >= 0.01 ? 3 : 4;
  const figure = amount.toFixed(digits);
  return currency === "USD" ? `$${figure}` : `${figure} ${currency}`;
}

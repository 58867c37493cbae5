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

/** A TTL as people write it: "7d", "12h", "30m". */
export function formatTtl(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return formatDuration(ms);
}

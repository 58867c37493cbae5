// An app's `paths`: which files, when a push changes one, rebuild it. The syntax, for
// docs/configuration.md and the schema's description:
//
// - A pattern names files from the repository root, with `/` between directories:
//   `services/api/**`, `packages/shared/**`, `go.mod`.
// - `*` stands for any characters within one name, `?` for one character, `[abc]`,
//   `[a-z]` and `[!abc]` for one character of (or not of) a set. `**` as a whole name
//   stands for any number of directories, none included: `**/*.proto`. Names starting
//   with a dot are matched like any other (`services/api/**` covers `services/api/.env`).
// - A pattern that matches a directory matches every file under it: `services/api` is
//   `services/api/**`.
// - `!` first excludes what the rest matches. Entries are read in order and a later one
//   overrides an earlier one (as GitHub Actions reads `on.push.paths`):
//   `[services/api/**, "!services/api/docs/**"]`.
//
// The patterns come from .preview.yml, which a pull request's author writes, so the
// matcher is written here rather than compiled to a regular expression: picomatch's
// regular expressions backtrack, and `*a*a*a*a*a*a*a*a*a*a*a*a*b` against a 60-letter
// name took minutes, stalling every installation's webhooks. This one goes through a
// name once per `*` it backtracks to, within a budget of steps; past it a change counts
// as touching (a rebuild, which is always right).

/** Patterns longer than this are refused (no repository path needs more). */
export const PATH_PATTERN_MAX = 256;

/** Steps one `touches` call may take; beyond, it answers true (rebuild). */
const STEP_BUDGET = 2_000_000;

/** Why `pattern` cannot be one of `paths`, or undefined when it can. */
export function pathPatternProblem(pattern: string): string | undefined {
  const glob = pattern.startsWith("!") ? pattern.slice(1) : pattern;
  if (glob.trim() === "") return pattern.startsWith("!") ? `"${pattern}" excludes nothing: write a path after the "!"` : "a path is empty";
  if (pattern.length > PATH_PATTERN_MAX) return `"${pattern.slice(0, 40)}…" is longer than ${PATH_PATTERN_MAX} characters`;
  if (/[\u0000-\u001f\u007f]/.test(glob)) return `"${JSON.stringify(pattern).slice(1, -1)}" contains a control character`;
  if (glob.startsWith("!")) return `"${pattern}" starts with two "!": one excludes what follows`;
  if (glob.startsWith("/")) return `"${pattern}" starts with "/": paths are relative to the repository root, so write "${glob.replace(/^\/+/, "")}"`;
  if (glob.includes("\\")) return `"${pattern}" contains "\\": separate directories with "/"`;
  if (/[{}]/.test(glob)) return `"${pattern}" uses braces, which paths do not support: write one entry for each alternative`;
  const names = glob.replace(/\/$/, "").split("/");
  if (names.some((name) => name === "." || name === "..")) return `"${pattern}" contains "." or "..": write the path from the repository root`;
  if (names.some((name) => name === "")) return `"${pattern}" contains "//": a directory name is missing`;
  const mixed = names.find((name) => name.includes("**") && name !== "**");
  if (mixed) return `"${pattern}": "**" stands for directories only as a whole name ("a/**/b"); use "*" within a name`;
  if (names.some((name) => compileName(name).unclosed)) return `"${pattern}" has a "[" with no "]" to close it`;
  return undefined;
}

/** Why a list of patterns cannot be `paths`, beyond its entries' own problems. */
export function pathListProblem(patterns: readonly string[]): string | undefined {
  if (patterns.length === 0) return "paths is empty: list the paths whose changes rebuild this app, or leave paths out to rebuild on every push";
  if (patterns.every((pattern) => pattern.startsWith("!"))) {
    return 'every entry of paths starts with "!": add one that says which files rebuild this app (e.g. services/api/**), then exclude from it';
  }
  return undefined;
}

/** Whether a change to any of `files` (paths from the repository root) touches `paths`. */
export function touches(paths: readonly string[], files: readonly string[]): boolean {
  return touchedBy(paths, files) !== undefined;
}

/**
 * The first of `files` that `paths` take in, or undefined when none is. Past the step
 * budget, `files[0]`: a rebuild is always right.
 */
export function touchedBy(paths: readonly string[], files: readonly string[]): string | undefined {
  const rules = paths.map((pattern) => ({ exclude: pattern.startsWith("!"), glob: compile(pattern.replace(/^!/, "")) }));
  const budget = { steps: STEP_BUDGET };
  for (const file of files) {
    const names = file.split("/").map((name) => Array.from(name));
    let taken = false;
    for (const rule of rules) {
      // Only a rule that could change the answer is tried.
      if (rule.exclude === taken && matches(rule.glob, names, budget)) taken = !rule.exclude;
      if (budget.steps < 0) return files[0];
    }
    if (taken) return file;
  }
  return undefined;
}

/** One character test of a name pattern. */
type CharTest = (char: string) => boolean;
/** A name pattern: its characters and `*`s in order. */
type NameToken = CharTest | "*";
/** A compiled path pattern: its names, and `**` for any number of directories. */
type PathToken = NameToken[] | "**";

function compile(pattern: string): PathToken[] {
  const tokens: PathToken[] = pattern
    .replace(/\/$/, "")
    .split("/")
    .map((name) => (name === "**" ? "**" : compileName(name).tokens));
  // A pattern that matches a directory takes in what is under it.
  if (tokens.at(-1) !== "**") tokens.push("**");
  return tokens;
}

function compileName(name: string): { tokens: NameToken[]; unclosed: boolean } {
  const chars = Array.from(name);
  const tokens: NameToken[] = [];
  let unclosed = false;
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i];
    if (char === "*") {
      if (tokens.at(-1) !== "*") tokens.push("*");
    } else if (char === "?") {
      tokens.push(() => true);
    } else if (char === "[") {
      const set = charSet(chars, i);
      if (set) {
        tokens.push(set.test);
        i = set.end;
      } else {
        unclosed = true;
        tokens.push((c) => c === "[");
      }
    } else {
      tokens.push((c) => c === char);
    }
  }
  return { tokens, unclosed };
}

/** `[…]` starting at `chars[start]`: its test and the index of its `]`, or undefined when it is not closed. */
function charSet(chars: string[], start: number): { test: CharTest; end: number } | undefined {
  let i = start + 1;
  const negated = chars[i] === "!" || chars[i] === "^";
  if (negated) i++;
  const ranges: Array<[string, string]> = [];
  // A "]" first in the set is one of its characters.
  for (let first = true; i < chars.length && (first || chars[i] !== "]"); i++, first = false) {
    if (chars[i + 1] === "-" && i + 2 < chars.length && chars[i + 2] !== "]") {
      ranges.push([chars[i], chars[i + 2]]);
      i += 2;
    } else ranges.push([chars[i], chars[i]]);
  }
  if (i >= chars.length) return undefined;
  const within = (c: string) => ranges.some(([low, high]) => low <= c && c <= high);
  return { test: (c) => within(c) !== negated, end: i };
}

/**
 * Wildcard matching that backtracks only to the last `*` (or `**`): an earlier one
 * could only take in less, which the later one makes up for. So a name is gone through
 * once per `*`, never once per way of splitting it.
 */
function matches(glob: PathToken[], names: string[][], budget: { steps: number }): boolean {
  return wildcard(glob, names, "**", (token, name) => token !== "**" && nameMatches(token, name, budget), budget);
}

function nameMatches(tokens: NameToken[], name: string[], budget: { steps: number }): boolean {
  return wildcard(tokens, name, "*", (token, char) => token !== "*" && token(char), budget);
}

function wildcard<T, U>(tokens: readonly T[], items: readonly U[], star: T, one: (token: T, item: U) => boolean, budget: { steps: number }): boolean {
  let t = 0;
  let i = 0;
  let starAt = -1;
  let starItem = 0;
  while (i < items.length) {
    if (--budget.steps < 0) return true;
    if (t < tokens.length && tokens[t] === star) {
      starAt = t++;
      starItem = i;
    } else if (t < tokens.length && one(tokens[t], items[i])) {
      t++;
      i++;
    } else if (starAt >= 0) {
      t = starAt + 1;
      i = ++starItem;
    } else return false;
  }
  while (t < tokens.length && tokens[t] === star) t++;
  return t === tokens.length;
}

/**
 * The globs of an app's `paths`, matched without regular expressions. A pull request's
 * author writes both the globs (.preview.yml) and the changed files' names, and a glob
 * compiled to a backtracking RegExp (picomatch's) can be made to run for minutes on the
 * server's one event loop (`*a*a*a*a*a*a*a*a*a*a*b` against a name of 40 "a"s). Here a
 * segment matches in time proportional to the glob's length times the name's, and a path in
 * the product of their segment counts, whatever either holds.
 *
 * The syntax: `*` is any characters but `/`, `?` one of them, `[abc]`, `[a-z]` and `[!abc]`
 * one of a set, `**` as a whole segment any number of segments (none included), `{a,b}`
 * either one (nested too), `\` makes the next character plain; every other character,
 * `(`, `)`, `|`, `+`, `@` and `!` included, matches itself, so `app/(shop)/**` covers a
 * Next.js route group. A name starting with `.` is matched like any other. A leading `./`
 * is dropped: changed files are listed from the repository root.
 */

type Piece = { kind: "char"; char: string } | { kind: "one" } | { kind: "star" } | { kind: "set"; negated: boolean; ranges: Array<[string, string]> };
type Segment = { kind: "globstar" } | { kind: "pieces"; pieces: Piece[] };

/** More alternatives than this from braces (`{a,b}/{c,d}` is 4) is a mistake, and costs every match. */
const MAX_ALTERNATIVES = 64;

export type CompiledGlob = { ok: true; matches: (path: string) => boolean } | { ok: false; problem: string };

export function compileGlob(glob: string): CompiledGlob {
  const expanded = expandBraces(glob.replace(/^(\.\/)+/, ""));
  if (typeof expanded === "string") return { ok: false, problem: expanded };
  const alternatives: Segment[][] = [];
  for (const alternative of expanded) {
    const segments = parseSegments(alternative);
    if (typeof segments === "string") return { ok: false, problem: segments };
    if (segments.length === 0) return { ok: false, problem: "names no file" };
    alternatives.push(segments);
  }
  return { ok: true, matches: (path) => alternatives.some((segments) => matchPath(segments, path.split("/"))) };
}

/** Every glob `{…,…}` stands for, or what is wrong with its braces. */
function expandBraces(glob: string): string[] | string {
  const open = findUnescaped(glob, "{", 0);
  if (open === -1) return [glob];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let at = open; at < glob.length && close === -1; at++) {
    const char = glob[at];
    if (char === "\\") at++;
    else if (char === "{") depth++;
    else if (char === "}" && --depth === 0) close = at;
    else if (char === "," && depth === 1) commas.push(at);
  }
  if (close === -1) return 'has a "{" without its "}"';
  const head = glob.slice(0, open);
  const tail = glob.slice(close + 1);
  // `{a}` has no choice in it: its braces are plain characters, as in a shell.
  const options = commas.length === 0 ? [`\\{${glob.slice(open + 1, close)}\\}`] : splitAt(glob.slice(open + 1, close), commas.map((comma) => comma - open - 1));
  const results: string[] = [];
  for (const option of options) {
    const expanded = expandBraces(head + option + tail);
    if (typeof expanded === "string") return expanded;
    results.push(...expanded);
    if (results.length > MAX_ALTERNATIVES) return `stands for more than ${MAX_ALTERNATIVES} globs through its {…}; list fewer`;
  }
  return results;
}

function splitAt(text: string, positions: number[]): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const position of positions) {
    parts.push(text.slice(start, position));
    start = position + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

function findUnescaped(text: string, char: string, from: number): number {
  for (let at = from; at < text.length; at++) {
    if (text[at] === "\\") at++;
    else if (text[at] === char) return at;
  }
  return -1;
}

function parseSegments(glob: string): Segment[] | string {
  const segments: Segment[] = [];
  // Empty segments (`a//b`, a trailing `/`) name no directory of their own.
  for (const text of glob.split("/").filter((segment) => segment !== "")) {
    if (text === "**") {
      if (segments.at(-1)?.kind !== "globstar") segments.push({ kind: "globstar" });
      continue;
    }
    const pieces = parsePieces(text);
    if (typeof pieces === "string") return pieces;
    segments.push({ kind: "pieces", pieces });
  }
  return segments;
}

function parsePieces(text: string): Piece[] | string {
  const chars = Array.from(text);
  const pieces: Piece[] = [];
  for (let at = 0; at < chars.length; at++) {
    const char = chars[at];
    if (char === "\\" && at + 1 < chars.length) {
      pieces.push({ kind: "char", char: chars[++at] });
    } else if (char === "*") {
      // `a**b` is `a*b`: `**` spans directories only as a segment of its own.
      if (pieces.at(-1)?.kind !== "star") pieces.push({ kind: "star" });
    } else if (char === "?") {
      pieces.push({ kind: "one" });
    } else if (char === "[") {
      const set = parseSet(chars, at);
      if (typeof set === "string") return set;
      pieces.push(set.piece);
      at = set.end;
    } else {
      pieces.push({ kind: "char", char });
    }
  }
  return pieces;
}

/** The set `[…]` opening at `start`, and where it closes. */
function parseSet(chars: string[], start: number): { piece: Piece; end: number } | string {
  let at = start + 1;
  const negated = chars[at] === "!" || chars[at] === "^";
  if (negated) at++;
  const ranges: Array<[string, string]> = [];
  // A "]" first in the set is one of its characters.
  for (let first = true; at < chars.length && (first || chars[at] !== "]"); first = false) {
    let low = chars[at];
    if (low === "\\" && at + 1 < chars.length) low = chars[++at];
    let high = low;
    if (chars[at + 1] === "-" && at + 2 < chars.length && chars[at + 2] !== "]") {
      high = chars[at + 2] === "\\" && at + 3 < chars.length ? chars[at + 3] : chars[at + 2];
      at += chars[at + 2] === "\\" ? 3 : 2;
    }
    ranges.push([low, high]);
    at++;
  }
  if (at >= chars.length) return 'has a "[" without its "]"';
  return { piece: { kind: "set", negated, ranges }, end: at };
}

/** Whether the segments match the path's parts: a table of which prefixes match which, filled once. */
function matchPath(segments: Segment[], parts: string[]): boolean {
  // reached[j]: the segments so far match the first j parts.
  let reached = parts.map((_, index) => index === 0).concat(parts.length === 0);
  for (const segment of segments) {
    const next = new Array<boolean>(parts.length + 1).fill(false);
    if (segment.kind === "globstar") {
      let any = false;
      for (let j = 0; j <= parts.length; j++) next[j] = any ||= reached[j];
    } else {
      for (let j = 0; j < parts.length; j++) if (reached[j] && matchSegment(segment.pieces, Array.from(parts[j]))) next[j + 1] = true;
    }
    reached = next;
  }
  return reached[parts.length];
}

/** Wildcard matching that, on a mismatch, retries from the last `*` only: at most pieces × characters steps. */
function matchSegment(pieces: Piece[], chars: string[]): boolean {
  let p = 0;
  let c = 0;
  let star = -1;
  let resume = 0;
  while (c < chars.length) {
    const piece = pieces[p];
    if (piece && piece.kind !== "star" && matchesChar(piece, chars[c])) {
      p++;
      c++;
    } else if (piece?.kind === "star") {
      star = p++;
      resume = c;
    } else if (star !== -1) {
      p = star + 1;
      c = ++resume;
    } else {
      return false;
    }
  }
  while (pieces[p]?.kind === "star") p++;
  return p === pieces.length;
}

function matchesChar(piece: Exclude<Piece, { kind: "star" }>, char: string): boolean {
  switch (piece.kind) {
    case "char":
      return piece.char === char;
    case "one":
      return true;
    case "set":
      return piece.ranges.some(([low, high]) => low <= char && char <= high) !== piece.negated;
  }
}

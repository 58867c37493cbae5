// How a secret value travels to flyctl v0.4.87 so that Fly.io stores it byte for byte.
// `flyctl secrets import` rewrites values (internal/command/secrets/parser.go): it cuts
// at a "#" preceded by an even number of '"', trims leading spaces, strips surrounding
// quotes, reads """ blocks, and Go's line scanner drops one "\r" before each "\n" and
// stops (silently, for parseSecrets) at a line of 64 KiB. `flyctl secrets set NAME=-`
// (set.go, helpers/stdin.go) trims whitespace at both ends and takes 64 KiB at most.
// Each value gets a form that comes through those rules unchanged, or a reason why none does.

export type SecretEncoding =
  /** Lines for `flyctl secrets import` stdin, each ending in "\n". */
  | { form: "import"; text: string }
  /** The value alone on stdin of `flyctl secrets set NAME=- --stage`. */
  | { form: "set" }
  /** Why no form carries the value, never showing it. */
  | { form: "none"; reason: string };

// bufio.Scanner's 64 KiB buffer must hold a line and its "\n".
const MAX_LINE_BYTES = 64 * 1024 - 1;
// helpers.ReadStdin(64 * 1024)
const MAX_STDIN_BYTES = 64 * 1024;
// strings.TrimSpace trims Unicode White_Space (unicode.IsSpace).
const EDGE_SPACE = /^\p{White_Space}|\p{White_Space}$/u;

export function encodeSecret(name: string, value: string): SecretEncoding {
  const lines = importLines(name, value);
  if (typeof lines !== "string") return { form: "import", text: lines.map(terminate).join("") };
  if (!EDGE_SPACE.test(value) && Buffer.byteLength(value) <= MAX_STDIN_BYTES) return { form: "set" };
  const setWhy = EDGE_SPACE.test(value) ? "it begins or ends with whitespace" : `it is longer than ${MAX_STDIN_BYTES} bytes`;
  return {
    form: "none",
    reason: `flyctl secrets import would alter it (${lines}) and flyctl secrets set would trim or refuse it (${setWhy})`,
  };
}

/** The lines that `secrets import` reads back as exactly `value`, or why there are none. */
function importLines(name: string, value: string): string[] | string {
  const lines = value.includes("\n") ? blockLines(name, value) : [singleLine(name, value)];
  if (typeof lines === "string") return lines;
  // A longer line stops flyctl's scanner, which drops it and every line after it.
  if (lines.some((line) => Buffer.byteLength(terminate(line)) - 1 > MAX_LINE_BYTES)) {
    return `a line is longer than the ${MAX_LINE_BYTES} bytes flyctl reads`;
  }
  return lines;
}

function singleLine(name: string, value: string): string {
  // Inside """…""" the "#" rule counts three more quotes than the value's own, so it cannot cut.
  if (hashCuts(value, 0)) return `${name}="""${value}"""`;
  // '…' keeps leading spaces and surrounding quotes, which plain text would lose.
  if (/^[ "']/.test(value)) return `${name}='${value}'`;
  return `${name}=${value}`;
}

/** NAME="""first / middle lines / last""": lines inside the block are taken as they are. */
function blockLines(name: string, value: string): string[] | string {
  const lines = value.split("\n");
  const first = lines[0];
  if (hashCuts(first, 3)) return 'its first line has a "#" after an odd number of \'"\'';
  // Such a first line would close the block at once.
  if (first.endsWith('"""')) return 'its first line ends in """';
  // The block ends at the first line ending in """, so only the last may.
  if (lines.slice(1, -1).some((line) => line.endsWith('"""'))) return 'a line before its last ends in """';
  return [`${name}="""${first}`, ...lines.slice(1, -1), `${lines[lines.length - 1]}"""`];
}

/** Whether flyctl's "#" rule would cut `text` written after `quotesBefore` double quotes. */
function hashCuts(text: string, quotesBefore: number): boolean {
  const hash = text.indexOf("#");
  if (hash === -1) return false;
  return (quotesBefore + text.slice(0, hash).split('"').length - 1) % 2 === 0;
}

// The scanner drops one "\r" before each "\n"; a line's own last "\r" survives behind a second one.
function terminate(line: string): string {
  return line.endsWith("\r") ? `${line}\r\n` : `${line}\n`;
}

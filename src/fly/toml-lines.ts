// smol-toml gives values but no positions, and a check-run annotation needs the line of
// the key to fix. This finds it. It is a locator, not a parser: it runs only on a document
// smol-toml has already accepted, so it can read just the lines that start with a key or
// a table header and skip the rest.

export type KeyPath = ReadonlyArray<string | number>;
export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

const BARE = /^[A-Za-z0-9_-]+/;

/**
 * Returns where each key of the document is first written: `["build", "compose"]` finds
 * `[build.compose]`, `compose.file = …` under `[build]` or `build.compose.file = …` at the
 * top; `["files", 1, "local_path"]` finds that key under the second `[[files]]`. A key with
 * no line of its own (inside an inline table) gets the line of its nearest written parent.
 */
export function keyLocator(text: string): (path: KeyPath) => Position {
  const first = new Map<string, Position>();
  // Array-of-tables path → index of its latest element.
  const arrays = new Map<string, number>();
  let table: Array<string | number> = [];
  let openString: string | undefined;

  const record = (path: Array<string | number>, at: Position) => {
    for (let n = 1; n <= path.length; n++) {
      const key = JSON.stringify(path.slice(0, n));
      if (!first.has(key)) first.set(key, at);
    }
  };
  // Inside `[[files]]`, `[files.x]` means a table of files' latest element.
  const resolve = (parts: string[]) => {
    const path: Array<string | number> = [];
    for (const part of parts) {
      path.push(part);
      const index = arrays.get(JSON.stringify(path));
      if (index !== undefined) path.push(index);
    }
    return path;
  };

  text.split(/\r?\n/).forEach((raw, i) => {
    if (openString) {
      if (count(raw, openString) % 2 === 1) openString = undefined;
      return;
    }
    const indent = raw.length - raw.trimStart().length;
    const at = { line: i + 1, column: indent + 1 };
    const line = raw.slice(indent);
    const header = /^\[(\[?)/.exec(line);
    if (header) {
      const key = readKey(line.slice(header[0].length));
      if (!key) return;
      if (header[1]) {
        const path = [...resolve(key.parts.slice(0, -1)), key.parts.at(-1)!];
        const id = JSON.stringify(path);
        const index = (arrays.get(id) ?? -1) + 1;
        arrays.set(id, index);
        table = [...path, index];
      } else {
        table = resolve(key.parts);
      }
      record(table, at);
      return;
    }
    const key = readKey(line);
    if (!key?.rest.startsWith("=")) return;
    record([...table, ...key.parts], at);
    const value = key.rest.slice(1).trimStart();
    for (const quote of ['"""', "'''"]) {
      if (value.startsWith(quote) && count(value, quote) % 2 === 1) openString = quote;
    }
  });

  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const at = first.get(JSON.stringify(path.slice(0, n)));
      if (at) return at;
    }
    return { line: 1, column: 1 };
  };
}

/** A dotted key (`a."b.c".'d'`) at the start of `text`, and what follows it. */
function readKey(text: string): { parts: string[]; rest: string } | undefined {
  const parts: string[] = [];
  let rest = text.trimStart();
  for (;;) {
    let part: string | undefined;
    if (rest.startsWith('"')) {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(rest);
      if (!end) return undefined;
      part = unescape(end[0]);
      if (part === undefined) return undefined;
      rest = rest.slice(end[0].length);
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) return undefined;
      part = rest.slice(1, end);
      rest = rest.slice(end + 1);
    } else {
      const bare = BARE.exec(rest);
      if (!bare) return undefined;
      part = bare[0];
      rest = rest.slice(part.length);
    }
    parts.push(part);
    rest = rest.trimStart();
    if (!rest.startsWith(".")) return { parts, rest };
    rest = rest.slice(1).trimStart();
  }
}

// TOML's basic-string escapes are JSON's, save a few rare ones (\e, \xHH) no key needs.
function unescape(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}

function count(text: string, quote: string): number {
  return text.split(quote).length - 1;
}

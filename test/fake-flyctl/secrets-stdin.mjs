// How flyctl v0.4.87 turns stdin into secret values, rule by rule, for the fake flyctl
// and for tests that check an encoding survives it. Sources (at tag v0.4.87):
// internal/command/secrets/parser.go (parseSecrets, used by `secrets import`),
// internal/command/secrets/set.go and helpers/stdin.go (`secrets set NAME=-`), and Go's
// bufio.Scanner (the line splitting parseSecrets relies on).

// bufio.MaxScanTokenSize: the scanner's buffer never grows past 64 KiB.
const MAX_SCAN_TOKEN_SIZE = 64 * 1024;
// set.go: helpers.ReadStdin(64 * 1024)
export const MAX_STDIN_VALUE = 64 * 1024;

export class ParseError extends Error {}

/** A Go runtime panic; flyctl's main recovers it, prints it on stdout and exits 3. */
export class GoPanic extends Error {}

/**
 * The lines bufio.Scanner with ScanLines hands to parseSecrets. A line (with its "\n")
 * that does not fit the 64 KiB buffer makes Scan return false with ErrTooLong: that line
 * and every one after it are never seen.
 */
export function scanLines(text) {
  const lines = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start);
    const raw = newline === -1 ? text.slice(start) : text.slice(start, newline);
    // The buffer holds the line and its "\n"; a last line without one still needs room
    // for one more byte before Scan learns it hit EOF (scan.go: "Is the buffer full?").
    if (Buffer.byteLength(raw) + 1 > MAX_SCAN_TOKEN_SIZE) return { lines, tooLong: true };
    // dropCR: one "\r" before the end of the line, and only one, is dropped.
    lines.push(raw.endsWith("\r") ? raw.slice(0, -1) : raw);
    if (newline === -1) break;
    start = newline + 1;
  }
  return { lines, tooLong: false };
}

/**
 * parseSecrets. Returns the secrets as flyctl would store them, plus whether the scanner
 * stopped at a long line (parseSecrets never looks at scanner.Err(), so flyctl carries on
 * with what it has: later secrets, and a multi-line value still open, vanish silently).
 */
export function parseSecrets(text) {
  const secrets = {};
  let multiline = false;
  let parsedKey = "";
  let parsedVal = "";
  const { lines, tooLong } = scanLines(text);
  for (const line of lines) {
    if (!multiline) {
      // if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" { continue }
      if (line.startsWith("#") || goTrimSpace(line) === "") continue;
      // key, value, ok := strings.Cut(line, "=")
      const eq = line.indexOf("=");
      if (eq === -1) throw new ParseError(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      // key = strings.TrimSpace(key)
      const key = goTrimSpace(line.slice(0, eq));
      // value = strings.TrimLeft(value, " "): spaces only, not tabs
      let value = line.slice(eq + 1).replace(/^ +/, "");
      // l, _, ok := strings.Cut(value, "#"); if ok && strings.Count(l, `"`)%2 == 0 { value = strings.TrimRight(l, " ") }
      const hash = value.indexOf("#");
      if (hash !== -1) {
        const l = value.slice(0, hash);
        if (count(l, '"') % 2 === 0) value = l.replace(/ +$/, "");
      }
      if (value.startsWith('"""') && value.endsWith('"""') && value.length >= 6) {
        // Single-line triple-quoted string: value = value[3 : len(value)-3]
        secrets[key] = value.slice(3, -3);
      } else if (value.startsWith('"""')) {
        // Switch to multiline: parsedVal.WriteString(strings.TrimPrefix(value, `"""`)); parsedVal.WriteString("\n")
        multiline = true;
        parsedKey = key;
        parsedVal += `${value.slice(3)}\n`;
      } else {
        if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
          // value = value[1 : len(value)-1]: a lone quote makes that slice [1:0], and Go panics.
          if (value.length === 1) throw new GoPanic("runtime error: slice bounds out of range [1:0]");
          value = value.slice(1, -1);
        }
        secrets[key] = value;
      }
    } else if (line.endsWith('"""')) {
      // if before, ok := strings.CutSuffix(line, `"""`); ok { ... End of multiline }
      secrets[parsedKey] = parsedVal + line.slice(0, -3);
      parsedVal = "";
      parsedKey = "";
      multiline = false;
    } else {
      // parsedVal.WriteString(line + "\n")
      parsedVal += `${line}\n`;
    }
  }
  // `return secrets, nil`: an unterminated """ block is dropped without a word.
  return { secrets, tooLong };
}

/**
 * What `flyctl secrets set NAME=-` stores: helpers.ReadStdin(64 * 1024), which fails
 * once more than that many bytes arrive and returns strings.TrimSpace of the rest.
 */
export function readStdinValue(text) {
  if (Buffer.byteLength(text) > MAX_STDIN_VALUE) {
    throw new ParseError(`Input exceeded max length of ${MAX_STDIN_VALUE} bytes`);
  }
  return goTrimSpace(text);
}

// strings.TrimSpace trims unicode.IsSpace, which is Unicode's White_Space property
// (it includes U+0085 and U+00A0; unlike JavaScript's trim(), not U+FEFF).
export function goTrimSpace(text) {
  return text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, "");
}

function count(text, char) {
  return text.split(char).length - 1;
}

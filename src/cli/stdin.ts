import { CliError } from "./command.js";

/** What the CLI reads standard input through: process.stdin, or a test's stand-in. */
export interface Input extends AsyncIterable<string | Buffer> {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  on(event: "data", listener: (chunk: string) => void): unknown;
  removeListener(event: "data", listener: (chunk: string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

/**
 * Standard input, for `secrets set`. Piped or redirected it is read to its end, several
 * lines allowed (a PEM file). At a terminal it is one line, typed without echo, so
 * the value never shows on the screen or in a terminal's scrollback.
 */
export async function readStdin(input: Input, write: (s: string) => void): Promise<string> {
  if (input.isTTY && input.setRawMode) {
    write("enter the value (it is not shown), then press Enter\n");
    return readHidden(input, write);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

const ENTER = new Set(["\r", "\n"]);
const CTRL_C = "\u0003";
const CTRL_D = "\u0004";
const CTRL_U = "\u0015";
const ESC = "\u001b";
const BACKSPACE = new Set(["\u007f", "\b"]);

/**
 * One line from a terminal, not echoed. Node offers no way to turn off only the echo:
 * raw mode turns it off together with the terminal's own line editing, so Enter,
 * backspace, Ctrl-U, Ctrl-C and Ctrl-D are handled here.
 */
export function readHidden(input: Input, write: (s: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (error?: Error) => {
      input.removeListener("data", onData);
      input.setRawMode!(false);
      input.pause();
      write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      const chars = [...chunk];
      for (let i = 0; i < chars.length; i++) {
        const c = chars[i];
        if (ENTER.has(c)) {
          // A paste of several lines arrives as one chunk; its first line alone is not the value.
          if (chars.slice(i + 1).some((rest) => !ENTER.has(rest))) {
            return done(new CliError("a value of several lines cannot be typed at a terminal: redirect it from a file (`< value.pem`) or pipe it in"));
          }
          return done();
        }
        if (c === ESC) {
          // An arrow or function key: ESC [ or ESC O, then parameters up to a final letter or ~.
          if (chars[i + 1] === "[" || chars[i + 1] === "O") for (i += 2; i < chars.length && !/[@-~]/.test(chars[i]); i++);
          continue;
        }
        if (c === CTRL_D) return done();
        if (c === CTRL_C) return done(new CliError("cancelled; nothing was stored"));
        if (BACKSPACE.has(c)) value = [...value].slice(0, -1).join("");
        else if (c === CTRL_U) value = "";
        // Other control characters (arrow keys' escape sequences, say) are not part of a value.
        else if (c >= " " || c === "\t") value += c;
      }
    };
    input.setEncoding("utf8");
    input.setRawMode!(true);
    input.on("data", onData);
    input.resume();
  });
}

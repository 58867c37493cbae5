import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { readStdin } from "../src/cli/stdin.js";

/** A terminal as the CLI sees it: keystrokes come in as chunks, raw mode is recorded. */
class FakeTerminal extends PassThrough {
  readonly isTTY = true;
  readonly rawModes: boolean[] = [];
  setRawMode(raw: boolean): this {
    this.rawModes.push(raw);
    return this;
  }
}

async function typed(...chunks: string[]): Promise<{ value: Promise<string>; terminal: FakeTerminal; shown: () => string }> {
  const terminal = new FakeTerminal();
  let shown = "";
  const value = readStdin(terminal, (s) => (shown += s));
  // Handled by the test's own expect, after the keystrokes.
  value.catch(() => undefined);
  for (const chunk of chunks) {
    terminal.write(chunk);
    await new Promise((r) => setImmediate(r));
  }
  return { value, terminal, shown: () => shown };
}

describe("a secret typed at a terminal", () => {
  it("is one line, ended by Enter, never shown", async () => {
    const { value, terminal, shown } = await typed("s3", "cr3t-value", "\r");
    expect(await value).toBe("s3cr3t-value");
    expect(shown()).toBe("enter the value (it is not shown), then press Enter\n\n");
    // Echo is off while typing, and the terminal is given back as it was.
    expect(terminal.rawModes).toEqual([true, false]);
  });

  it("can be corrected with backspace and Ctrl-U, and ignores arrow keys", async () => {
    const { value } = await typed("wrong\u0015ab", "x\u007f", "c\u001b[D\u001b[Cd\r");
    expect(await value).toBe("abcd");
  });

  it("ends at Ctrl-D too", async () => {
    const { value } = await typed("token\u0004");
    expect(await value).toBe("token");
  });

  it("is cancelled by Ctrl-C, with the terminal given back", async () => {
    const { value, terminal } = await typed("half", "\u0003");
    await expect(value).rejects.toThrow("cancelled; nothing was stored");
    expect(terminal.rawModes).toEqual([true, false]);
  });

  it("refuses a paste of several lines, whose first line alone is not the value", async () => {
    const { value } = await typed("-----BEGIN KEY-----\rabc\r-----END KEY-----\r");
    await expect(value).rejects.toThrow("a value of several lines cannot be typed at a terminal: redirect it from a file");
  });
});

describe("a secret piped in", () => {
  it("is all of standard input, several lines kept", async () => {
    const pipe = new PassThrough();
    let shown = "";
    const value = readStdin(pipe, (s) => (shown += s));
    pipe.end("line one\nline two\n");
    expect(await value).toBe("line one\nline two\n");
    expect(shown).toBe("");
  });
});

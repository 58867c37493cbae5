import { describe, expect, it } from "vitest";
import { encodeSecret } from "../src/fly/secret-lines.js";
import { GoPanic, ParseError, parseSecrets, readStdinValue } from "./fake-flyctl/secrets-stdin.mjs";

// Pieces that trip flyctl's rules, glued together at random (seeded, so a failure repeats).
const PIECES = ["#", '"', "'", " ", "  ", "\t", "\r", "\n", "\r\n", '"""', "=", "a", "Zz", "\u00a0", "é", "\ufeff"];
const KIB = 1024;

function corpus(count: number, seed = 12345): string[] {
  let state = seed;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const values: string[] = [];
  for (let i = 0; i < count; i++) {
    let value = "";
    const length = Math.floor(random() * 10);
    for (let j = 0; j < length; j++) value += PIECES[Math.floor(random() * PIECES.length)];
    values.push(value);
  }
  return values;
}

const long = (bytes: number, fill = "x#y\"z'") => fill.repeat(Math.ceil(bytes / fill.length)).slice(0, bytes);

const NAMED: Record<string, string> = {
  empty: "",
  password: "p@ss#word",
  quoted: '"quoted"',
  singleQuoted: "'single'",
  leadingSpaces: "   lead",
  trailingSpaces: "trail   ",
  hashAfterSpace: "a #b",
  trailingCr: "abc\r",
  crlfPem: "-----BEGIN KEY-----\r\nMIIBOgIBAAJBAKj34GkxFhD9\r\n-----END KEY-----\r\n",
  lfPem: "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----\n",
  tripleQuotes: 'a """ b',
  tripleQuotedLines: 'a """ b\n"""c""" d\n"""',
  sixtyKib: long(60 * KIB),
  sixtyKibSpaced: ` ${long(60 * KIB)} `,
  sixtyKibLines: `${long(30 * KIB)}\r\n${long(30 * KIB)}\n`,
  lineTooLongForImport: long(64 * KIB),
};

/** What flyctl ends up storing for `value` sent in `encoding`. */
function arrives(name: string, value: string): string | undefined {
  const encoding = encodeSecret(name, value);
  if (encoding.form === "import") {
    const parsed = parseSecrets(encoding.text);
    expect(parsed.tooLong).toBe(false);
    expect(Object.keys(parsed.secrets)).toEqual([name]);
    return parsed.secrets[name];
  }
  if (encoding.form === "set") return readStdinValue(value);
  return undefined;
}

// The obvious ways to write a value; a refused value must survive none of them.
function survivesSomeForm(value: string): boolean {
  const forms = [value, `'${value}'`, `"${value}"`, `"""${value}"""`];
  const imported = forms.some((form) =>
    ["\n", "\r\n"].some((end) => {
      try {
        return parseSecrets(`NAME=${form}${end}`).secrets.NAME === value;
      } catch (error) {
        if (error instanceof GoPanic || error instanceof ParseError) return false;
        throw error;
      }
    }),
  );
  let set = false;
  try {
    set = readStdinValue(value) === value;
  } catch {}
  return imported || set;
}

describe("every secret value reaches the preview exactly as stored", () => {
  it("arrives byte for byte through flyctl's stdin rules, or is refused because no form can carry it", () => {
    const values = [...Object.values(NAMED), ...corpus(20_000)];
    const forms = { import: 0, set: 0, none: 0 };
    for (const value of values) {
      const encoding = encodeSecret("NAME", value);
      forms[encoding.form]++;
      if (encoding.form === "none") {
        expect(survivesSomeForm(value), JSON.stringify(value)).toBe(false);
      } else {
        expect(arrives("NAME", value), JSON.stringify(value)).toBe(value);
      }
    }
    // The corpus exercises every outcome.
    expect(forms.import).toBeGreaterThan(0);
    expect(forms.set).toBeGreaterThan(0);
    expect(forms.none).toBeGreaterThan(0);
  });

  it("keeps every value intact when many share one import", () => {
    const values = [...Object.values(NAMED), ...corpus(2_000, 99)];
    const expected: Record<string, string> = {};
    let text = "";
    values.forEach((value, i) => {
      const encoding = encodeSecret(`S${i}`, value);
      if (encoding.form !== "import") return;
      expected[`S${i}`] = value;
      text += encoding.text;
    });
    expect(parseSecrets(text)).toEqual({ secrets: expected, tooLong: false });
  });

  it.each([
    ["a password with #", "p@ss#word"],
    ["a value in double quotes", '"quoted"'],
    ["a value in single quotes", "'single'"],
    ["leading spaces", "   lead"],
    ["trailing spaces", "trail   "],
    ["a multi-line value with \\r\\n line ends", NAMED.crlfPem],
    ["several lines holding \"\"\"", NAMED.tripleQuotedLines],
    ["60 KiB", NAMED.sixtyKib],
    ["60 KiB with spaces around it", NAMED.sixtyKibSpaced],
  ])("carries %s through secrets import", (_, value) => {
    expect(encodeSecret("NAME", value).form).toBe("import");
    expect(arrives("NAME", value)).toBe(value);
  });

  it("sends a value only flyctl secrets set can carry on its own", () => {
    // A line too long for the import scanner, and a first line whose "#" would cut the block.
    for (const value of [NAMED.lineTooLongForImport, 'a"#b\nc']) {
      expect(encodeSecret("NAME", value)).toEqual({ form: "set" });
      expect(readStdinValue(value)).toBe(value);
    }
  });

  it("refuses a value no form can carry, saying why", () => {
    const refused = encodeSecret("NAME", 'a"#b\nc\n');
    expect(refused).toEqual({
      form: "none",
      reason: `flyctl secrets import would alter it (its first line has a "#" after an odd number of '"') and flyctl secrets set would trim or refuse it (it begins or ends with whitespace)`,
    });
    expect(encodeSecret("NAME", `${long(65 * KIB)}`)).toMatchObject({ form: "none", reason: expect.stringContaining("longer than 65536 bytes") });
  });
});

describe("the fake flyctl reads secrets from stdin as flyctl v0.4.87 does", () => {
  const imported = (text: string) => parseSecrets(text).secrets;

  it("drops everything from a # preceded by an even number of double quotes, and the spaces before it", () => {
    expect(imported("A=p@ss#word\n")).toEqual({ A: "p@ss" });
    expect(imported('A=a "b"  # note\n')).toEqual({ A: 'a "b"' });
    expect(imported('A=x"#y\n')).toEqual({ A: 'x"#y' });
    // The # rule sees the quotes before they are stripped.
    expect(imported('A="x#y"\n')).toEqual({ A: "x#y" });
    expect(imported('A="x" #c\n')).toEqual({ A: "x" });
  });

  it("trims leading spaces (not tabs) and strips one pair of surrounding quotes", () => {
    expect(imported("A=   lead\nB=\t tab\n")).toEqual({ A: "lead", B: "\t tab" });
    expect(imported("A=\"q\"\nB='q'\nC=\"'q'\"\n")).toEqual({ A: "q", B: "q", C: "'q'" });
  });

  it("reads triple quotes on one line and as a block up to a line ending in them", () => {
    expect(imported('A="""t"""\n')).toEqual({ A: "t" });
    expect(imported('A="""one\ntwo\nthree"""\nB=b\n')).toEqual({ A: "one\ntwo\nthree", B: "b" });
    expect(imported('A="""\n#not a comment\n\n"""\n')).toEqual({ A: "\n#not a comment\n\n" });
  });

  it("drops one \\r before each line end, and silently loses a block never closed", () => {
    expect(imported("A=a\r\nB=b\r\r\n")).toEqual({ A: "a", B: "b\r" });
    expect(imported('A=a\nB="""open\nstill open\n')).toEqual({ A: "a" });
  });

  it("skips comments and blank lines, and rejects a line without =", () => {
    expect(imported("# comment\n\n   \nA=a\n")).toEqual({ A: "a" });
    expect(() => parseSecrets("just text\n")).toThrow("Secrets must be provided as NAME=VALUE pairs (just text is invalid)");
  });

  it("panics on a lone quote, as Go slicing [1:0] does", () => {
    expect(() => parseSecrets('A="\n')).toThrow(GoPanic);
  });

  it("stops at a line longer than 64 KiB and drops it and every line after it, without an error", () => {
    const fits = "x".repeat(64 * KIB - 1 - "B=".length);
    expect(parseSecrets(`A=1\nB=${fits}\nC=3\n`)).toEqual({ secrets: { A: "1", B: fits, C: "3" }, tooLong: false });
    expect(parseSecrets(`A=1\nB=${fits}y\nC=3\n`)).toEqual({ secrets: { A: "1" }, tooLong: true });
  });

  it("secrets set NAME=- trims whitespace as strings.TrimSpace does and takes at most 64 KiB", () => {
    expect(readStdinValue(" \t\u00a0value\r\n\n")).toBe("value");
    expect(readStdinValue("\ufeffvalue")).toBe("\ufeffvalue");
    expect(readStdinValue("y".repeat(64 * KIB))).toHaveLength(64 * KIB);
    expect(() => readStdinValue("y".repeat(64 * KIB + 1))).toThrow("Input exceeded max length of 65536 bytes");
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import { SLASH_COMMANDS } from "../src/commands/execute.js";
import { SLASH_COMMAND_NAMES, type SlashCommandName } from "../src/model/slash-commands.js";
import type { CommandName } from "../src/store/schema.js";

const doc = readFileSync(new URL("../docs/commands.md", import.meta.url), "utf8");
const tableNames = Object.keys(SLASH_COMMANDS).sort();

describe("the slash-commands, one list", () => {
  it("docs/commands.md has a row for exactly the commands of the table", () => {
    const rows = [...doc.matchAll(/^\| `\/preview ([^`\s]+)` \|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual(tableNames);
  });

  it("docs/commands.md says who may run each command as the table does", () => {
    const whoMay = Object.fromEntries([...doc.matchAll(/^\| `\/preview ([^`\s]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]));
    const expected = Object.fromEntries(tableNames.map((name) => [name, SLASH_COMMANDS[name as SlashCommandName].needsWrite ? "write, maintain, admin" : "anyone"]));
    expect(whoMay).toEqual(expected);
  });

  it("docs/commands.md names no command the table lacks", () => {
    const named = new Set([...doc.matchAll(/\/preview ([a-z][a-z0-9_-]*)/g)].map((m) => m[1]));
    expect([...named].filter((name) => !(name in SLASH_COMMANDS))).toEqual([]);
  });

  it("the table has an entry for every name the parser knows, and no other", () => {
    expect([...SLASH_COMMAND_NAMES].sort()).toEqual(tableNames);
  });
});

// The store's `commands.name` must say what src/model/slash-commands.ts says. A type
// cannot be compared at run time: this fails the type-check (npm run typecheck).
expectTypeOf<CommandName>().toEqualTypeOf<SlashCommandName | "unknown">();

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parsePreviewConfig } from "../src/config/index.js";
import { renderConfigDocs } from "../src/config/docs.js";
import { previewSchema, resolveRef, type JsonSchema } from "../src/config/schema.js";

const docs = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");

function eachField(visit: (path: string, field: JsonSchema) => void, properties = previewSchema.properties ?? {}, parent = ""): void {
  for (const [name, field] of Object.entries(properties)) {
    const path = parent ? `${parent}.${name}` : name;
    visit(path, field);
    const resolved = resolveRef(field);
    if (resolved.properties) eachField(visit, resolved.properties, path);
  }
}

describe("the configuration docs", () => {
  it("match the schema (run `npm run docs:config` after changing schemas/preview.schema.json)", () => {
    expect(renderConfigDocs(docs, previewSchema)).toBe(docs);
  });

  it("show the line that points an editor at the published schema", () => {
    expect(docs).toContain(`# yaml-language-server: $schema=${previewSchema.$id}\n`);
  });

  it("describe every field, in the schema itself", () => {
    const undocumented: string[] = [];
    eachField((path, field) => {
      if (!field.description?.trim()) undocumented.push(path);
    });
    expect(undocumented).toEqual([]);
  });

  it("give an example for every field that is not a group of fields", () => {
    const missing: string[] = [];
    eachField((path, field) => {
      if (!resolveRef(field).properties && !field.examples?.length) missing.push(path);
    });
    expect(missing).toEqual([]);
  });

  it("show only YAML examples that are valid .preview.yml files", () => {
    const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]);
    expect(blocks.length).toBeGreaterThan(10);
    for (const block of blocks) expect(parsePreviewConfig(block), block).toMatchObject({ ok: true });
  });

  it("show the messages an invalid file really produces", () => {
    const [, file, output] = /For example, this file:\n\n```text\n([\s\S]*?)```\n\nfails with:\n\n```text\n([\s\S]*?)```/.exec(docs) ?? [];
    const text = file.replace(/^\d+ {2}/gm, "");
    const result = parsePreviewConfig(text);
    if (result.ok) throw new Error("the invalid example in the docs is valid");
    expect(result.problems.map((p) => `- line ${p.line}: ${p.message}\n`).join("")).toBe(output);
  });
});

// Rewrites the generated parts of docs/configuration.md (the editor's schema line, the field
// reference) from schemas/preview.schema.json, so each field is described once, in the
// schema. test/config-docs.test.ts fails when this has not been run after a schema change.
import { readFileSync, writeFileSync } from "node:fs";
import { renderConfigDocs } from "../src/config/docs.js";
import { previewSchema } from "../src/config/schema.js";

const docs = new URL("../docs/configuration.md", import.meta.url);
const before = readFileSync(docs, "utf8");
const after = renderConfigDocs(before, previewSchema);
if (after === before) {
  console.log("docs/configuration.md is up to date");
} else {
  writeFileSync(docs, after);
  console.log("docs/configuration.md updated");
}

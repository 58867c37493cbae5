import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { DURATION, parseDuration } from "./units.js";

/** The parts of JSON Schema that preview.schema.json uses. */
export interface JsonSchema {
  /** Where the schema is published; editors fetch it from there (docs/configuration.md). */
  $id?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  oneOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  /** Our own keyword: the longest a duration may be, itself a duration ("60m"). */
  maxDuration?: string;
}

// Read at runtime rather than imported: schemas/ sits outside src/, and this relative URL
// resolves to the same file from src/config/ (tests) and from dist/config/ (the build).
export const SCHEMA_URL = new URL("../../schemas/preview.schema.json", import.meta.url);

export const previewSchema = JSON.parse(readFileSync(SCHEMA_URL, "utf8")) as JsonSchema;

/** The default of a top-level field of .preview.yml: the schema is the one place defaults are written. */
export function schemaDefault(field: string): unknown {
  const property = previewSchema.properties?.[field];
  if (property?.default === undefined) throw new Error(`preview.schema.json: "${field}" has no default`);
  return property.default;
}

/** How long a preview may sit idle when .preview.yml does not say (the schema's default for `ttl`). */
export const DEFAULT_TTL_MS = parseDuration(String(schemaDefault("ttl")));

// useDefaults fills in every field the user left out (objects default to {} so their own
// fields get defaults too); verbose keeps the failing schema on each error so messages
// can name the allowed values.
const ajv = new Ajv2020({ allErrors: true, useDefaults: true, verbose: true });
ajv.addKeyword({
  keyword: "maxDuration",
  schemaType: "string",
  // A value that is not a duration at all is the type's or the pattern's to report.
  validate: (max: string, value: unknown) => typeof value !== "string" || !DURATION.test(value) || parseDuration(value) <= parseDuration(max),
});
export const validatePreview = ajv.compile(previewSchema);

/** The schema a `$ref` points at, with the referring schema's own keywords on top. */
export function resolveRef(schema: JsonSchema, root: JsonSchema = previewSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace(/^#\/\$defs\//, "");
  const target = root.$defs?.[name];
  if (!target) throw new Error(`preview.schema.json: unresolved $ref ${schema.$ref}`);
  const { $ref: _ref, ...own } = schema;
  return { ...target, ...own };
}

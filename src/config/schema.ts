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
  minProperties?: number;
  maxProperties?: number;
  minItems?: number;
  uniqueItems?: boolean;
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

/**
 * The fields each app of `apps:` takes that a file without `apps:` takes at its top level
 * (`$defs.app` refers to them as `#/properties/NAME`): with `apps:`, these belong under
 * each app and nowhere else. The schema is what says which field is whose.
 */
export const APP_FIELDS: readonly string[] = Object.entries(previewSchema.$defs?.app?.properties ?? {})
  .filter(([name, field]) => field.$ref === `#/properties/${name}`)
  .map(([name]) => name);

/** The fields of the whole repository, written once at the top level with `apps:` or without. */
export const REPOSITORY_FIELDS: readonly string[] = Object.keys(previewSchema.properties ?? {}).filter((name) => name !== "apps" && !APP_FIELDS.includes(name));

/**
 * The schema ajv compiles: the published one with each app field of `$defs.app` written
 * out in full rather than referred to. Filling in defaults, ajv ignores a `default` at the
 * root of a `$ref`'s target (and strict mode refuses the schema over it); written out, an
 * app's fields get their defaults exactly as the top-level ones do. Editors read the
 * published schema, where the field is described once.
 */
function withAppFieldsInline(schema: JsonSchema): JsonSchema {
  const app = schema.$defs?.app;
  if (!app?.properties) throw new Error("preview.schema.json: $defs.app has no properties");
  const properties = Object.fromEntries(
    Object.entries(app.properties).map(([name, field]) => [name, APP_FIELDS.includes(name) ? structuredClone(schema.properties?.[name] ?? {}) : field]),
  );
  return { ...schema, $defs: { ...schema.$defs, app: { ...app, properties } } };
}

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
export const validatePreview = ajv.compile(withAppFieldsInline(previewSchema));

/**
 * The schema a `$ref` points at (`#/$defs/NAME`, or `#/properties/NAME` for an app's
 * field), itself resolved, with the referring schema's own keywords on top.
 */
export function resolveRef(schema: JsonSchema, root: JsonSchema = previewSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const [, section, name] = /^#\/(\$defs|properties)\/([^/]+)$/.exec(schema.$ref) ?? [];
  const target = section === "$defs" ? root.$defs?.[name] : section === "properties" ? root.properties?.[name] : undefined;
  if (!target) throw new Error(`preview.schema.json: unresolved $ref ${schema.$ref}`);
  const { $ref: _ref, ...own } = schema;
  return { ...resolveRef(target, root), ...own };
}

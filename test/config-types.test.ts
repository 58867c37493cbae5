import { describe, expect, it } from "vitest";
import { parsePreviewConfig, type PreviewConfig } from "../src/config/index.js";
import { APP_FIELDS, REPOSITORY_FIELDS, previewSchema, resolveRef, type JsonSchema } from "../src/config/schema.js";
import { DEFAULT_TTL_MS } from "../src/preview/reaper.js";

// PreviewConfig (src/config/types.ts) is written by hand beside the schema
// (schemas/preview.schema.json). What goes wrong when they drift:
// - a field added to the schema only: .preview.yml accepts it, and parse.ts drops it
//   without a word, so the user's setting does nothing;
// - a field added to the type only: ajv never fills it, so a field the type calls
//   required is undefined at run time, and the type-check does not see it.
// FIELDS mirrors the type (its `satisfies` fails the type-check when the type gains or
// loses a field, or a field turns optional), and the tests hold it against the schema
// and against what parsing really returns.

/** A value parse.ts computes from another field (`ttlMs` from `ttl`). */
type Derived = { derivedFrom: string };
/** A field of a section of .preview.yml: optional (no default), or always there. */
type Field = "optional" | "required" | Derived;
/**
 * An optional section that takes exactly one of several fields (`database`: `neon` or
 * `fly_postgres`, the schema's oneOf), typed as a union on `provider`: one shape per provider.
 */
type OneOf = { variants: Record<string, Fields> };
/** Objects with named fields are sections of their own; maps (env) and lists are fields. */
type IsSection<V> = V extends readonly unknown[] ? false : V extends object ? (string extends keyof V ? false : true) : false;
type Variants<U extends { provider: string }> = { [P in U["provider"]]: Shape<Extract<U, { provider: P }>> };
type Shape<T> = {
  [K in keyof T]-?: {} extends Pick<T, K>
    ? NonNullable<T[K]> extends { provider: string }
      ? { variants: Variants<NonNullable<T[K]>> }
      : "optional"
    : IsSection<T[K]> extends true
      ? Shape<T[K]>
      : "required" | Derived;
};
interface Fields {
  [name: string]: Field | Fields | OneOf;
}

const FIELDS = {
  dockerfile: "required",
  dockerfileNamed: { derivedFrom: "dockerfile" },
  context: "required",
  fly_toml: "optional",
  port: "required",
  region: "optional",
  env: "required",
  build_args: "required",
  build: { timeout: "required", timeoutMs: { derivedFrom: "timeout" } },
  health: { path: "required", timeout: "required", timeoutMs: { derivedFrom: "timeout" } },
  resources: { memory: "required", memoryMb: { derivedFrom: "memory" }, cpus: "required", cpu_kind: "required" },
  secrets: "required",
  ttl: "required",
  ttlMs: { derivedFrom: "ttl" },
  notify: "required",
  max_previews: "optional",
  trigger: { labels: "required", branches: "required", drafts: "required" },
  forks: "required",
  database: {
    variants: {
      neon: {
        provider: { derivedFrom: "neon" },
        neon: { project: "required", parent: "optional", api_key_secret: "optional" },
        env: "required",
      },
      fly_postgres: { provider: { derivedFrom: "fly_postgres" }, fly_postgres: { cluster: "required" }, env: "required" },
    },
  },
  hooks: { release: "optional", postdeploy: "optional", predestroy: "optional", timeout: "required", timeoutMs: { derivedFrom: "timeout" } },
} satisfies Shape<PreviewConfig>;

type Entry = Field | Fields | OneOf;
const isDerived = (field: Entry): field is Derived => typeof field === "object" && "derivedFrom" in field && typeof field.derivedFrom === "string";
const isOneOf = (field: Entry): field is OneOf => typeof field === "object" && "variants" in field && typeof field.variants === "object";
const isSection = (field: Entry): field is Fields => typeof field === "object" && !isDerived(field) && !isOneOf(field);

/** Where the type and the schema disagree, one line each, at every depth. */
function mismatches(fields: Fields, schema: JsonSchema, at: string): string[] {
  const properties = schema.properties ?? {};
  const found: string[] = [];
  for (const name of Object.keys(properties)) {
    if (!(name in fields)) found.push(`${at}${name}: in the schema, not in PreviewConfig`);
  }
  for (const [name, field] of Object.entries(fields)) {
    if (isDerived(field)) {
      if (!(field.derivedFrom in properties)) found.push(`${at}${name}: derived from ${field.derivedFrom}, which the schema lacks`);
      continue;
    }
    const property = properties[name];
    if (!property) {
      found.push(`${at}${name}: in PreviewConfig, not in the schema`);
      continue;
    }
    const resolved = resolveRef(property);
    // Optional exactly where the file may leave the field out and ajv fills in nothing.
    const required = schema.required?.includes(name) ?? false;
    const optional = !required && resolved.default === undefined;
    if (isOneOf(field)) {
      if (!optional) found.push(`${at}${name}: optional in PreviewConfig, but the schema ${required ? "requires it" : "has a default"}`);
      found.push(...variantMismatches(field, resolved, `${at}${name}`));
    } else if (isSection(field)) {
      found.push(...mismatches(field, resolved, `${at}${name}.`));
    } else if ((field === "optional") !== optional) {
      found.push(`${at}${name}: ${field} in PreviewConfig, but the schema ${required ? "requires it" : optional ? "gives no default" : "has a default"}`);
    }
  }
  return found;
}

/** Each variant against the section as the schema has it when that variant's field is the one given. */
function variantMismatches(field: OneOf, schema: JsonSchema, at: string): string[] {
  const choices = (schema.oneOf ?? []).flatMap((branch) => branch.required ?? []);
  const variants = Object.keys(field.variants);
  if (choices.join() !== variants.join()) {
    return [`${at}: variants ${variants.join(", ")} in PreviewConfig, but the schema's oneOf asks for one of ${choices.join(", ") || "nothing"}`];
  }
  return Object.entries(field.variants).flatMap(([variant, fields]) => {
    const others = choices.filter((choice) => choice !== variant);
    const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([name]) => !others.includes(name)));
    return mismatches(fields, { ...schema, properties, required: [...(schema.required ?? []), variant] }, `${at}(${variant}).`);
  });
}

/** The fields parsing an empty .preview.yml must fill: all but the optional ones. */
function alwaysThere(fields: Fields): unknown {
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, field]) => field !== "optional" && !isOneOf(field))
      .map(([name, field]) => [name, isSection(field) ? alwaysThere(field) : expect.anything()]),
  );
}

function parsed(text: string): PreviewConfig {
  const result = parsePreviewConfig(text);
  if (!result.ok) throw new Error(`expected a valid config, got: ${JSON.stringify(result.problems)}`);
  return result.config;
}

describe("PreviewConfig and the schema of .preview.yml", () => {
  it("have the same fields, optional exactly where the schema gives no default", () => {
    // `apps` is no field of one app's config: parsing returns the apps beside it (ConfigResult.apps).
    const { apps: _apps, ...properties } = previewSchema.properties ?? {};
    expect(mismatches(FIELDS, { ...previewSchema, properties }, "")).toEqual([]);
  });

  it("an app of apps: takes the top-level fields of one app, by reference, and paths; the rest are the repository's", () => {
    const app = previewSchema.$defs?.app?.properties ?? {};
    const references = Object.entries(app).filter(([name]) => name !== "paths");
    expect(references.map(([name, field]) => [name, field])).toEqual(references.map(([name]) => [name, { $ref: `#/properties/${name}` }]));
    expect(Object.keys(app)).toEqual([...APP_FIELDS, "paths"]);
    expect(REPOSITORY_FIELDS).toEqual(["ttl", "notify", "max_previews", "trigger", "forks", "database"]);
    // Every field of PreviewConfig the file gives is one app's or the repository's, and none is both.
    const given = Object.entries(FIELDS).filter(([, field]) => !isDerived(field)).map(([name]) => name);
    expect([...APP_FIELDS, ...REPOSITORY_FIELDS].sort()).toEqual(given.sort());
  });

  it("an empty .preview.yml parses to every field that is not optional, and no other", () => {
    const config = parsed("");
    // toStrictEqual: a field parse.ts adds that FIELDS lacks fails too.
    expect(config).toStrictEqual(alwaysThere(FIELDS));
  });

  it("a database block parses to every field of its provider's shape that is not optional, and no other", () => {
    const neon = parsed("database:\n  neon:\n    project: proud-fog-123456\n").database;
    expect(neon).toStrictEqual(alwaysThere(FIELDS.database.variants.neon));
    expect(neon?.provider).toBe("neon");
    const flyPostgres = parsed("database:\n  fly_postgres:\n    cluster: acme-preview-db\n").database;
    expect(flyPostgres).toStrictEqual(alwaysThere(FIELDS.database.variants.fly_postgres));
    expect(flyPostgres?.provider).toBe("fly_postgres");
  });

  it("the reaper's default TTL is what a .preview.yml without `ttl` gets", () => {
    expect(parsed("").ttlMs).toBe(DEFAULT_TTL_MS);
  });
});

describe("the drift check", () => {
  it("names a field the schema has and the type lacks, and one the type has and the schema lacks", () => {
    const schema: JsonSchema = {
      properties: { port: { type: "integer", default: 8080 }, build: { type: "object", properties: { timeout: { type: "string", default: "20m" }, cache: { type: "boolean", default: true } } } },
    };
    const fields: Fields = { port: "required", region: "optional", build: { timeout: "required" } };
    expect(mismatches(fields, schema, "")).toEqual(["region: in PreviewConfig, not in the schema", "build.cache: in the schema, not in PreviewConfig"]);
  });

  it("names a field optional in one and always there in the other", () => {
    const schema: JsonSchema = { properties: { region: { type: "string", default: "iad" }, ttl: { type: "string" } } };
    expect(mismatches({ region: "optional", ttl: "required", ttlMs: { derivedFrom: "tll" } }, schema, "")).toEqual([
      "region: optional in PreviewConfig, but the schema has a default",
      "ttl: required in PreviewConfig, but the schema gives no default",
      "ttlMs: derived from tll, which the schema lacks",
    ]);
  });

  it("checks each variant of a one-of section against the schema with only that variant's field", () => {
    const schema: JsonSchema = {
      properties: {
        database: {
          type: "object",
          properties: {
            neon: { type: "object", required: ["project"], properties: { project: { type: "string" }, parent: { type: "string" } } },
            fly_postgres: { type: "object", properties: { cluster: { type: "string" } } },
            env: { type: "string", default: "DATABASE_URL" },
          },
          oneOf: [{ required: ["neon"] }, { required: ["fly_postgres"] }],
        },
      },
    };
    const fields: Fields = {
      database: {
        variants: {
          neon: { provider: { derivedFrom: "neon" }, neon: { project: "optional" }, env: "required" },
          fly_postgres: { provider: { derivedFrom: "neon" }, fly_postgres: { cluster: "required" }, env: "optional" },
        },
      },
    };
    expect(mismatches(fields, schema, "")).toEqual([
      "database(neon).neon.parent: in the schema, not in PreviewConfig",
      "database(neon).neon.project: optional in PreviewConfig, but the schema requires it",
      "database(fly_postgres).provider: derived from neon, which the schema lacks",
      "database(fly_postgres).fly_postgres.cluster: required in PreviewConfig, but the schema gives no default",
      "database(fly_postgres).env: optional in PreviewConfig, but the schema has a default",
    ]);
    expect(mismatches({ database: { variants: { neon: {} } } }, schema, "")).toEqual([
      "database: variants neon in PreviewConfig, but the schema's oneOf asks for one of neon, fly_postgres",
    ]);
  });
});

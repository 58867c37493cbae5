import { posix } from "node:path";
import type { ErrorObject } from "ajv";
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import { APP_FIELDS, REPOSITORY_FIELDS, previewSchema, resolveRef, validatePreview, type JsonSchema } from "./schema.js";
import { PREVIEW_VARIABLES, appReferenceProblems, type AppValues } from "./interpolate.js";
import { pathPatternProblem } from "./apps.js";
import {
  CONFIG_PATH,
  type AppConfig,
  type ConfigProblem,
  type ConfigResult,
  type DatabaseConfig,
  type FlyPostgresConfig,
  type NeonConfig,
  type PreviewConfig,
} from "./types.js";
import { parseDuration, parseMemoryMb } from "./units.js";

type Plain = Record<string, unknown>;

/** The shape ajv guarantees once validation (with defaults) has passed: the config before derived values. */
type ValidConfig = Omit<PreviewConfig, "dockerfileNamed" | "build" | "health" | "resources" | "ttlMs" | "database" | "hooks"> & {
  hooks: Omit<PreviewConfig["hooks"], "timeoutMs">;
  build: Omit<PreviewConfig["build"], "timeoutMs">;
  health: Omit<PreviewConfig["health"], "timeoutMs">;
  resources: Omit<PreviewConfig["resources"], "memoryMb">;
  database?: { neon: NeonConfig; env: string } | { fly_postgres: FlyPostgresConfig; env: string };
};

const PATH_FIELDS = ["dockerfile", "context", "fly_toml"] as const;

/**
 * Parses and validates the text of a .preview.yml. Every problem carries the line and
 * column it comes from, so a check run can annotate the exact line to fix.
 */
export function parsePreviewConfig(text: string): ConfigResult {
  const lineCounter = new LineCounter();
  // prettyErrors would append a source excerpt to each message; the annotation shows the line already.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const locator = new Locator(doc, lineCounter);

  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => ({
        path: "",
        message: `YAML syntax error: ${error.message}`,
        ...locator.offset(error.pos[0]),
      })),
    };
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // toJS refuses alias bombs and similar; the document itself parsed.
    return { ok: false, problems: [{ path: "", message: `YAML could not be read: ${(error as Error).message}`, line: 1, column: 1 }] };
  }
  // An empty file is a valid opt-in: the repository wants previews with every default.
  data ??= {};
  if (!isPlainObject(data)) {
    return {
      ok: false,
      problems: [{ path: "", message: `${CONFIG_PATH} must be a mapping of fields such as "port: 3000", not ${describeValue(data)}`, ...locator.at([], "value") }],
    };
  }

  dropEmptyFields(data, previewSchema);
  const problems: ConfigProblem[] = [];
  // With `apps:`, the fields of one app are written under each app; one left at the top
  // level is reported on its own line, and taken out so its value is not judged as well.
  const apps = data.apps !== undefined ? appBlocks(data) : undefined;
  if (apps) {
    for (const field of APP_FIELDS) {
      if (!Object.hasOwn(data, field)) continue;
      problems.push(misplacedAppField(field, Object.keys(apps), locator));
      delete data[field];
    }
  }
  // Before ajv fills in the default: a Dockerfile the file names must exist, while a
  // missing default one may be generated (src/preview/dockerfile.ts).
  const dockerfileNamed = (fields: Plain) => fields.dockerfile !== undefined;
  const namedPerApp = new Map(Object.entries(apps ?? {}).map(([name, block]) => [name, dockerfileNamed(block)]));
  const namedAtTop = dockerfileNamed(data);
  if (!validatePreview(data)) {
    for (const error of validatePreview.errors ?? []) {
      const problem = explain(error, data, locator);
      if (problem) problems.push(problem);
    }
  }
  // Each app's fields are where the checks below look: the top level, or each block under apps:.
  const places: Array<{ fields: Plain; at: string[] }> = apps ? Object.entries(apps).map(([name, block]) => ({ fields: block, at: ["apps", name] })) : [{ fields: data, at: [] }];
  for (const { fields, at } of places) {
    problems.push(...repoPathProblems(fields, at, locator));
    problems.push(...pathPatternProblems(fields, at, locator));
  }
  problems.push(...databaseEnvProblems(data, places, locator));
  if (apps) problems.push(...referenceProblems(apps, locator));
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, problems };
  }
  if (!apps) return { ok: true, config: complete(data as unknown as ValidConfig, namedAtTop) };
  const repository = Object.fromEntries(REPOSITORY_FIELDS.filter((field) => data[field] !== undefined).map((field) => [field, data[field]]));
  const configs = Object.entries(apps).map(([name, block]): AppConfig => {
    const { paths, ...fields } = block;
    // A copy each: the repository-wide sections (trigger, database) are shared by no two apps' configs.
    const config = complete(structuredClone({ ...repository, ...fields }) as unknown as ValidConfig, namedPerApp.get(name) ?? false);
    return paths === undefined ? { name, config } : { name, config, paths: paths as string[] };
  });
  return { ok: true, config: configs[0].config, apps: configs };
}

/**
 * The blocks of `apps:`, by name, in the file's order; an app written with nothing after
 * its name (`worker:`) is an app with every default. Undefined when `apps` is not a
 * mapping: ajv's type error says so, and the file is judged as one app meanwhile.
 */
function appBlocks(data: Plain): Record<string, Plain> | undefined {
  if (!isPlainObject(data.apps)) return undefined;
  const appSchema = previewSchema.$defs?.app ?? {};
  for (const [name, block] of Object.entries(data.apps)) {
    if (block === null) data.apps[name] = {};
    else if (isPlainObject(block)) dropEmptyFields(block, appSchema);
  }
  return data.apps as Record<string, Plain>;
}

function misplacedAppField(field: string, apps: string[], locator: Locator): ConfigProblem {
  const example = /^[a-z][a-z0-9-]*$/.test(apps[0] ?? "") ? apps[0] : "NAME";
  return {
    path: field,
    message: `${field}: with apps:, each app has its own ${field}; move it under the apps that need it, like apps.${example}.${field}`,
    ...locator.at([field], "key"),
  };
}

function repoPathProblems(fields: Plain, at: string[], locator: Locator): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const field of PATH_FIELDS) {
    const value = fields[field];
    if (typeof value !== "string") continue;
    const message = repoPathProblem(value);
    const path = [...at, field].join(".");
    if (message) problems.push({ path, message: `${path}: ${message}`, ...locator.at([...at, field], "value") });
  }
  return problems;
}

function pathPatternProblems(fields: Plain, at: string[], locator: Locator): ConfigProblem[] {
  if (!Array.isArray(fields.paths)) return [];
  const problems: ConfigProblem[] = [];
  for (const [index, pattern] of fields.paths.entries()) {
    if (typeof pattern !== "string") continue;
    const message = pathPatternProblem(pattern);
    const path = `${[...at, "paths"].join(".")}[${index}]`;
    if (message) problems.push({ path, message: `${path}: ${message}`, ...locator.at([...at, "paths", String(index)], "value") });
  }
  return problems;
}

/** The wrong `${apps.…}` of the apps' env and build_args, each on the line of its value. */
function referenceProblems(apps: Record<string, Plain>, locator: Locator): ConfigProblem[] {
  // Only the values that are strings: ajv reports the others.
  const strings = (map: unknown): Record<string, string> =>
    isPlainObject(map) ? Object.fromEntries(Object.entries(map).filter((entry): entry is [string, string] => typeof entry[1] === "string")) : {};
  const values = Object.entries(apps).map(([name, block]): AppValues => ({ name, env: strings(block.env), build_args: strings(block.build_args) }));
  return appReferenceProblems(values).map((problem) => {
    const segments = ["apps", problem.app, problem.field, problem.key];
    return { path: segments.join("."), message: problem.message, ...locator.at(segments, "value") };
  });
}

function complete(raw: ValidConfig, dockerfileNamed: boolean): PreviewConfig {
  const config: PreviewConfig = {
    dockerfile: normalisePath(raw.dockerfile),
    dockerfileNamed,
    context: normalisePath(raw.context),
    port: raw.port,
    env: raw.env,
    build_args: raw.build_args,
    build: { ...raw.build, timeoutMs: parseDuration(raw.build.timeout) },
    health: { ...raw.health, timeoutMs: parseDuration(raw.health.timeout) },
    resources: {
      memory: raw.resources.memory.toLowerCase(),
      memoryMb: parseMemoryMb(raw.resources.memory),
      cpus: raw.resources.cpus,
      cpu_kind: raw.resources.cpu_kind,
    },
    secrets: raw.secrets,
    ttl: raw.ttl,
    ttlMs: parseDuration(raw.ttl),
    notify: raw.notify,
    trigger: raw.trigger,
    forks: raw.forks,
    hooks: { ...raw.hooks, timeoutMs: parseDuration(raw.hooks.timeout) },
  };
  if (raw.fly_toml !== undefined) config.fly_toml = normalisePath(raw.fly_toml);
  if (raw.region !== undefined) config.region = raw.region;
  if (raw.max_previews !== undefined) config.max_previews = raw.max_previews;
  if (raw.database !== undefined) config.database = completeDatabase(raw.database);
  return config;
}

function completeDatabase(raw: NonNullable<ValidConfig["database"]>): DatabaseConfig {
  return "neon" in raw ? { provider: "neon", neon: raw.neon, env: raw.env } : { provider: "fly_postgres", fly_postgres: raw.fly_postgres, env: raw.env };
}

/**
 * The variable `database.env` names must be the preview's one source of that variable: a
 * name `env` or `secrets` also sets would give the preview two values, and which one wins
 * is not something a user should have to know. Cross-field, so no schema keyword says it.
 * With `apps:`, every app gets the database's variable, so no app may set it.
 */
function databaseEnvProblems(data: Plain, places: Array<{ fields: Plain; at: string[] }>, locator: Locator): ConfigProblem[] {
  const database = data.database;
  if (!isPlainObject(database) || typeof database.env !== "string") return [];
  const name = database.env;
  // ajv has filled in the default by now; only the YAML knows whether the user wrote it.
  const written = locator.has(["database", "env"]);
  const at = written ? locator.at(["database", "env"], "value") : locator.at(["database"], "key");
  const named = written ? JSON.stringify(name) : `${JSON.stringify(name)} (the default)`;
  const problem = (message: string): ConfigProblem => ({ path: "database.env", message: `database.env: ${named} ${message}`, ...at });

  const problems: ConfigProblem[] = [];
  if ((PREVIEW_VARIABLES as readonly string[]).includes(name)) {
    const placeholders = PREVIEW_VARIABLES.map((variable) => `\${${variable}}`).join(", ");
    problems.push(problem(`is the name of one of fly-preview's placeholders (${placeholders}); a variable of that name would be mistaken for it: use another name, like DATABASE_URL`));
  }
  const rename = written ? "give database.env another name" : "set database.env to another name";
  for (const { fields, at } of places) {
    const env = [...at, "env"].join(".");
    const secrets = [...at, "secrets"].join(".");
    if (isPlainObject(fields.env) && Object.hasOwn(fields.env, name)) {
      const { line } = locator.at([...at, "env", name], "key");
      problems.push(problem(`is also set by ${env} (line ${line}); the preview would get two values for it: ${rename}, or remove it from ${env}`));
    }
    const secret = Array.isArray(fields.secrets) ? fields.secrets.indexOf(name) : -1;
    if (secret !== -1) {
      const { line } = locator.at([...at, "secrets", String(secret)], "value");
      problems.push(problem(`is also listed in ${secrets} (line ${line}); the preview would get two values for it: ${rename}, or remove it from ${secrets}`));
    }
  }
  return problems;
}

// Kept in code rather than as a schema pattern: a regular expression cannot tell
// "a/../b" (inside) from "a/../../b" (outside), and the message can say which rule broke.
function repoPathProblem(value: string): string | undefined {
  if (/^([A-Za-z]:)?[\\/]/.test(value)) {
    return `${JSON.stringify(value)} is an absolute path; use a path relative to the repository root`;
  }
  const normal = posix.normalize(value);
  if (normal === ".." || normal.startsWith("../")) {
    return `${JSON.stringify(value)} points outside the repository; use a path inside it`;
  }
  return undefined;
}

function normalisePath(value: string): string {
  const normal = posix.normalize(value);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/**
 * `region:` with nothing after it means "not set", the same as leaving the line out. A
 * section that cannot be empty (`neon:` needs its `project`) reads as an empty section
 * instead, so the message names the field it lacks rather than the section.
 */
function dropEmptyFields(data: Plain, schema: JsonSchema): void {
  for (const [key, value] of Object.entries(data)) {
    const own = schema.properties?.[key];
    if (!own) continue;
    const field = resolveRef(own);
    if (value === null && field.required?.length) data[key] = {};
    else if (value === null) delete data[key];
    else if (isPlainObject(value) && field.properties) dropEmptyFields(value, field);
  }
}

/** Turns one ajv error into a sentence a user can act on, placed on the offending line. */
function explain(error: ErrorObject, data: Plain, locator: Locator): ConfigProblem | undefined {
  const segments = error.instancePath.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const parentSchema = (error.parentSchema ?? {}) as JsonSchema;

  if (error.keyword === "additionalProperties") {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    const where = segments.length > 0 ? ` in ${displayPath(data, segments)}` : "";
    const inApp = segments.length === 2 && segments[0] === "apps";
    const here = { path: displayPath(data, [...segments, key]), ...locator.at([...segments, key], "key") };
    if (inApp && REPOSITORY_FIELDS.includes(key)) {
      return { ...here, message: `${here.path}: ${key} applies to the whole repository, not to one app; write it once at the top level of the file` };
    }
    if (segments.length === 0 && key === "paths") {
      return { ...here, message: "paths: only an app under apps: has paths (the files that rebuild it); a file without apps: rebuilds its one app on every push" };
    }
    // With apps:, the fields of an app are no longer allowed at the top level (each is reported as misplaced).
    const appFieldsMoved = segments.length === 0 && data.apps !== undefined;
    const allowed = Object.keys(parentSchema.properties ?? {}).filter((name) => !(appFieldsMoved && APP_FIELDS.includes(name)));
    const guess = closest(key, Object.keys(parentSchema.properties ?? {}));
    const moved = guess !== undefined && appFieldsMoved && APP_FIELDS.includes(guess);
    const hint = guess ? ` (did you mean "${guess}"?${moved ? " With apps:, it goes under each app" : ""})` : `; fields allowed here: ${allowed.join(", ")}`;
    return { path: displayPath(data, [...segments, key]), message: `unknown field "${key}"${where}${hint}`, ...locator.at([...segments, key], "key") };
  }
  // ajv reports a bad map key twice: once as the name's pattern (with propertyName set), once as
  // "propertyNames". The first carries the name, so the second adds nothing.
  if (error.keyword === "propertyNames") return undefined;
  if (error.propertyName !== undefined) {
    const name = error.propertyName;
    const path = displayPath(data, [...segments, name]);
    const hint = PATTERN_HINTS[parentSchema.title ?? ""] ?? "is not a valid name; use letters, digits and _, not starting with a digit";
    return { path, message: `${displayPath(data, segments)}: "${name}" ${hint}`, ...locator.at([...segments, name], "key") };
  }

  // A section that takes exactly one of several fields (database: neon or fly_postgres).
  // The branches' own errors ("must have required property neon", then the same for
  // fly_postgres) restate the oneOf error in ajv's words; the oneOf error says it once.
  if (error.schemaPath.includes("/oneOf/")) return undefined;
  const path = displayPath(data, segments);
  const value = valueAt(data, segments);
  if (error.keyword === "oneOf") {
    // A value that is not a mapping passes every branch (required asks nothing of it); its type error says what is wrong.
    if (!isPlainObject(value)) return undefined;
    const choices = (parentSchema.oneOf ?? []).flatMap((branch) => branch.required ?? []);
    const several = (error.params as { passingSchemas: number[] | null }).passingSchemas !== null;
    const suffix = several ? (choices.length === 2 ? ", not both" : ", not several") : "";
    return { path, message: `${path}: give exactly one of ${choices.join(" or ")}${suffix}`, ...locator.at(segments, "key") };
  }
  // A missing field is placed on its section's name: the section may have no value at all (`neon:`).
  const target = error.keyword === "required" || error.keyword === "maxProperties" ? "key" : "value";
  return { path, message: `${path}: ${describeFailure(error, parentSchema, value, segments.at(-1) ?? "")}`, ...locator.at(segments, target) };
}

function describeFailure(error: ErrorObject, schema: JsonSchema, value: unknown, key: string): string {
  switch (error.keyword) {
    case "type":
      // `ttl: 7` reads as a number; saying what a duration looks like helps more than "must be a string".
      // A number is a fine file name, though (`- 7` in paths): quoting it is the fix there.
      if (schema.type === "string" && schema.title && schema.title !== "path pattern" && PATTERN_HINTS[schema.title] && typeof value === "number") {
        return `${JSON.stringify(String(value))} ${PATTERN_HINTS[schema.title]}`;
      }
      return value === null ? expected(schema, value, key) : `${expected(schema, value, key)} (got ${describeValue(value)})`;
    case "minimum":
    case "maximum":
      return `${expected(schema, value, key)} (got ${describeValue(value)})`;
    case "enum":
      return `${JSON.stringify(value)} is not allowed; use one of ${(schema.enum ?? []).map((v) => JSON.stringify(v)).join(", ")}`;
    case "pattern":
      return `${JSON.stringify(value)} ${PATTERN_HINTS[schema.title ?? ""] ?? `does not have the expected form (${String(error.params.pattern)})`}`;
    case "minLength":
      return "must not be empty";
    case "maxLength":
      return `is too long; at most ${schema.maxLength} characters`;
    case "minItems":
      return key === "paths" ? "must list at least one path; leave paths out to rebuild the app on every push" : `must list at least ${schema.minItems}`;
    case "maxProperties":
      return key === "apps" ? `names more than ${schema.maxProperties} apps, the most a pull request's preview can have; keep the apps a reviewer needs together` : `must have at most ${schema.maxProperties} fields`;
    case "minProperties":
      return key === "apps" ? "must name at least one app, like apps: {web: {port: 3000}}; leave apps out for a single app" : `must have at least ${schema.minProperties} fields`;
    case "required": {
      const missing = String((error.params as { missingProperty: string }).missingProperty);
      const example = schema.properties?.[missing]?.examples?.[0];
      return `${missing} is missing${typeof example === "string" ? `; add it, like ${missing}: ${example}` : ""}`;
    }
    case "maxDuration":
      return `${JSON.stringify(value)} is too long; the most allowed is ${schema.maxDuration}`;
    default:
      return error.message ?? "is not valid";
  }
}

// Keyed by the `title` the schema gives each patterned string, so the wording lives next
// to the field's documentation rather than next to a copy of its regular expression.
const PATTERN_HINTS: Record<string, string> = {
  duration: 'is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"',
  "memory size": 'is not a memory size; use a value like "512mb" or "1gb"',
  "Fly region code": 'is not a Fly region code; use three lowercase letters, like "iad" or "cdg"',
  "URL path": 'is not a URL path; it must start with "/", like "/healthz"',
  "variable name": "is not a valid name; use letters, digits and _, not starting with a digit",
  "Neon project id": 'is not a Neon project id; use the project\'s id (not its name), like "proud-fog-123456": lowercase letters, digits and "-", at most 60 characters',
  "Neon branch name": "is not a Neon branch name; it must not contain control characters such as tabs or line breaks",
  command: "is not a one-line command; it must not contain line breaks, tabs or other control characters",
  "app name": 'is not an app name; use lowercase letters, digits and "-", starting with a letter, at most 20 characters, like "api" or "web-admin"',
  "path pattern": "is not a path pattern; it must not contain line breaks, tabs or other control characters",
  "Fly app name": 'is not a Fly app name; use lowercase letters, digits and "-", at most 63 characters and not starting with "-", like "acme-preview-db"',
};

function expected(schema: JsonSchema, value: unknown, key: string): string {
  switch (schema.type) {
    case "integer":
      if (schema.minimum !== undefined && schema.maximum !== undefined) {
        return `must be a whole number between ${schema.minimum} and ${schema.maximum}`;
      }
      if (schema.minimum !== undefined) return `must be a whole number of at least ${schema.minimum}`;
      return "must be a whole number";
    case "string":
      // YAML reads `DEBUG: true` or `VERSION: 20` as a boolean or number; quoting keeps them text.
      if (typeof value === "number" || typeof value === "boolean") {
        const label = /^\d+$/.test(key) ? "-" : `${key}:`;
        return `must be a string; put the value in quotes, like ${label} "${String(value)}"`;
      }
      if (value === null) return 'must be a string; write "" for an empty value';
      return "must be a string";
    case "boolean":
      return "must be true or false";
    case "array":
      return 'must be a list, like [main] or lines starting with "- "';
    case "object":
      return 'must be a mapping of fields, written as indented "name: value" lines';
    default:
      return `must be of type ${String(schema.type)}`;
  }
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}..."` : text;
}

function displayPath(data: unknown, segments: string[]): string {
  let path = "";
  let current = data;
  for (const segment of segments) {
    path += Array.isArray(current) ? `[${segment}]` : path ? `.${segment}` : segment;
    current = valueAt(current, [segment]);
  }
  return path;
}

function valueAt(data: unknown, segments: string[]): unknown {
  let current = data;
  for (const segment of segments) {
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isPlainObject(current)) current = current[segment];
    else return undefined;
  }
  return current;
}

function isPlainObject(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The allowed name the user most likely meant: same letters ignoring case and _ or -, or a small typo. */
function closest(name: string, allowed: string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const distance = editDistance(squash(name), squash(candidate));
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const tolerance = name.length <= 3 ? 1 : 2;
  return bestDistance <= tolerance ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Finds the line and column of a value (or of its key) in the parsed YAML. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  offset(offset: number): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  /** Whether the document itself has a value at `segments` (rather than ajv's default). */
  has(segments: string[]): boolean {
    let node: unknown = this.doc.contents;
    for (const segment of segments) {
      if (!isMap(node)) return false;
      const pair = node.items.find((item) => String(isScalar(item.key) ? item.key.value : item.key) === segment);
      // `env:` with nothing after it is not set, like a line left out.
      if (!pair || pair.value == null || (isScalar(pair.value) && pair.value.value === null)) return false;
      node = pair.value;
    }
    return true;
  }

  /** Walks as far down `segments` as the document goes, so a missing value points at its parent. */
  at(segments: string[], target: "key" | "value"): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let found: Node | undefined = isNode(node) ? node : undefined;
    for (const [index, segment] of segments.entries()) {
      const last = index === segments.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((item) => String(isScalar(item.key) ? item.key.value : item.key) === segment);
        if (!pair) break;
        node = last && target === "key" ? pair.key : (pair.value ?? pair.key);
      } else if (isSeq(node)) {
        node = node.items[Number(segment)];
      } else {
        break;
      }
      if (!isNode(node)) break;
      found = node;
      if (isAlias(node)) break;
    }
    return found?.range ? this.offset(found.range[0]) : { line: 1, column: 1 };
  }
}

function isNode(value: unknown): value is Node {
  return isMap(value) || isSeq(value) || isScalar(value) || isAlias(value);
}

/** The names of the ${…} placeholders of env and build_args: the one list of them. */
export const PREVIEW_VARIABLES = ["PR_NUMBER", "PREVIEW_URL", "APP_NAME", "HEAD_SHA", "HEAD_REF"] as const;

export type PreviewVars = Record<(typeof PREVIEW_VARIABLES)[number], string>;

// Only these five names are replaced: anything else that looks like ${X} may be meant for
// the application itself, so it passes through untouched. One pass, so a branch name that
// contains "${APP_NAME}" is inserted literally and never expanded again.
const VARIABLE = new RegExp(`\\$\\{(${PREVIEW_VARIABLES.join("|")})\\}`, "g");

export function interpolate(values: Record<string, string>, vars: PreviewVars): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    result[name] = value.replace(VARIABLE, (_, variable: keyof PreviewVars) => vars[variable]);
  }
  return result;
}

/**
 * `${apps.NAME.url}`, in the env and build_args of an app of a file with `apps:`: the preview
 * URL of the app NAME of the same pull request. The `apps.` namespace is fly-preview's (a
 * shell variable's name cannot hold a dot), so anything else written `${apps.…}` is a
 * mistake to report, not text to pass through as unknown placeholders are.
 */
const APP_REFERENCE_START = "${apps.";
const APP_REFERENCE = /\$\{apps\.([^.{}$\s]+)\.url\}/y;

/** One `${apps.…}` in a value: a reference to the app `name`, or text that is not one. */
export type AppReference = { name: string; text: string } | { malformed: string };

/** Every `${apps.…}` in `value`, in order. */
export function appReferences(value: string): AppReference[] {
  const found: AppReference[] = [];
  for (let at = value.indexOf(APP_REFERENCE_START); at !== -1; at = value.indexOf(APP_REFERENCE_START, at + 1)) {
    APP_REFERENCE.lastIndex = at;
    const match = APP_REFERENCE.exec(value);
    if (match) {
      found.push({ name: match[1], text: match[0] });
    } else {
      const end = value.indexOf("}", at);
      const text = end === -1 ? value.slice(at) : value.slice(at, end + 1);
      found.push({ malformed: text.length > 60 ? `${text.slice(0, 57)}...` : text });
    }
  }
  return found;
}

/** What of an app `${apps.…}` reads: the two maps whose values may hold references. */
export interface AppValues {
  name: string;
  env: Record<string, string>;
  build_args: Record<string, string>;
}

/** A wrong `${apps.…}`, at the value that holds it: `apps.<app>.<field>.<key>`. */
export interface AppReferenceProblem {
  app: string;
  field: "env" | "build_args";
  key: string;
  message: string;
}

const REFERENCE_FIELDS = ["env", "build_args"] as const;

/**
 * The wrong `${apps.…}` of a file's apps: one that is not `${apps.NAME.url}`, one naming no
 * app of the file, and one on a cycle (an app reaching its own URL through the apps it
 * refers to, itself included), which the issue makes a configuration error. Pure: names are
 * all it needs, as an app's URL is known before anything deploys.
 */
export function appReferenceProblems(apps: readonly AppValues[]): AppReferenceProblem[] {
  const names = apps.map((app) => app.name);
  const edges = new Map(apps.map((app) => [app.name, new Set<string>()]));
  for (const app of apps) {
    for (const field of REFERENCE_FIELDS) {
      for (const value of Object.values(app[field])) {
        for (const reference of appReferences(value)) {
          if ("name" in reference && names.includes(reference.name)) edges.get(app.name)?.add(reference.name);
        }
      }
    }
  }
  const problems: AppReferenceProblem[] = [];
  for (const app of apps) {
    for (const field of REFERENCE_FIELDS) {
      for (const [key, value] of Object.entries(app[field])) {
        const at = `apps.${app.name}.${field}.${key}`;
        for (const reference of appReferences(value)) {
          const problem = referenceProblem(reference, app.name, names, edges);
          if (problem) problems.push({ app: app.name, field, key, message: `${at}: ${problem}` });
        }
      }
    }
  }
  return problems;
}

function referenceProblem(reference: AppReference, from: string, names: string[], edges: Map<string, Set<string>>): string | undefined {
  if ("malformed" in reference) {
    return `${JSON.stringify(reference.malformed)} is not a reference to an app's URL; write \${apps.NAME.url}, NAME being an app under apps: (${names.join(", ")})`;
  }
  if (!names.includes(reference.name)) {
    return `${reference.text} names no app: there is no "${reference.name}" under apps:; the apps are ${names.join(", ")}`;
  }
  if (reference.name === from) return `${reference.text} is this app's own URL, a cycle of one app; write \${PREVIEW_URL} instead`;
  const back = pathBetween(reference.name, from, edges);
  if (back) {
    const cycle = [from, ...back].join(" → ");
    return `${reference.text} makes a cycle of apps referring to each other's URLs (${cycle}); remove the reference on one side`;
  }
  return undefined;
}

/** The apps from `start` to `goal` following references, both ends included; undefined when `goal` is not reached. */
function pathBetween(start: string, goal: string, edges: Map<string, Set<string>>): string[] | undefined {
  const previous = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start];
  for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
    if (current === goal) {
      const path: string[] = [];
      for (let at: string | undefined = goal; at !== undefined; at = previous.get(at)) path.unshift(at);
      return path;
    }
    for (const next of edges.get(current) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, current);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/**
 * `values` with each `${apps.NAME.url}` replaced by `urls[NAME]`, in one pass. Run before
 * `interpolate`: a URL holds no `${`, and a branch name inserted later is never read again.
 */
export function replaceAppReferences(values: Record<string, string>, urls: Record<string, string>): Record<string, string> {
  const reference = new RegExp(APP_REFERENCE.source, "g");
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    result[name] = value.replace(reference, (text, app: string) => (Object.hasOwn(urls, app) ? urls[app] : text));
  }
  return result;
}

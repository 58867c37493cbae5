import { appName, appUrl } from "../model/app-name.js";
import { compileGlob } from "./glob.js";
import { appReferenceProblems, replaceAppReferences, type AppReferenceProblem } from "./interpolate.js";
import type { AppConfig } from "./types.js";

/**
 * What is wrong with one glob of an app's `paths` (syntax: src/config/glob.ts), or
 * undefined. Kept in code like the repository paths of parse.ts: each rule gets a
 * sentence, and a glob that could never match a file of the repository would silently stop
 * the app from ever rebuilding.
 */
export function pathPatternProblem(pattern: string): string | undefined {
  const quoted = JSON.stringify(pattern);
  // An empty one is the schema's to report (minLength).
  if (pattern === "") return undefined;
  if (pattern.startsWith("!")) {
    return `${quoted} excludes files, which paths cannot: list the files whose changes rebuild the app, like "services/api/**"`;
  }
  if (/^([A-Za-z]:)?[\\/]/.test(pattern)) {
    return `${quoted} is an absolute path; write it relative to the repository root, like "services/api/**"`;
  }
  // Not normalised away: a glob matches as written, and GitHub lists changed files without "..".
  if (pattern.split("/").includes("..")) {
    return `${quoted} uses "..", which no changed file's path has; write it relative to the repository root, like "services/api/**"`;
  }
  const compiled = compileGlob(pattern);
  return compiled.ok ? undefined : `${quoted} ${compiled.problem}`;
}

/**
 * The first of the changed files `changed` (paths relative to the repository root) that one
 * of the globs `paths` matches, or undefined: none of them rebuilds the app.
 */
export function touchedBy(paths: readonly string[], changed: readonly string[]): string | undefined {
  const globs = paths.map((path) => {
    const compiled = compileGlob(path);
    // Parsing refuses such a glob; one that reaches here anyway rebuilds rather than skipping a change.
    return compiled.ok ? compiled.matches : () => true;
  });
  return changed.find((file) => globs.some((matches) => matches(file)));
}

/** Whether a change to the files `changed` rebuilds an app whose `paths` are `paths`: always without `paths`. */
export function changeRebuilds(paths: readonly string[] | undefined, changed: readonly string[]): boolean {
  return paths === undefined || touchedBy(paths, changed) !== undefined;
}

/** The pull request whose apps are named. */
export interface AppsPullRequest {
  owner: string;
  repo: string;
  number: number;
}

/**
 * The apps with each `${apps.NAME.url}` in their env and build_args replaced by the preview
 * URL of the app NAME of this pull request (`https://{fly app}.fly.dev`, the name from
 * src/model/app-name.ts): known before anything deploys, so no app waits for another.
 * The problems are those parsing reports on their lines; a config from parsePreviewConfig
 * has none. The five placeholders of `interpolate` are left for it, at deploy.
 */
export function resolveAppUrls(
  apps: readonly AppConfig[],
  pr: AppsPullRequest,
): { ok: true; apps: AppConfig[] } | { ok: false; problems: AppReferenceProblem[] } {
  const problems = appReferenceProblems(apps.map(({ name, config }) => ({ name, env: config.env, build_args: config.build_args })));
  if (problems.length > 0) return { ok: false, problems };
  const urls = Object.fromEntries(apps.map(({ name }) => [name, appUrl(appName(pr.owner, pr.repo, pr.number, name))]));
  return {
    ok: true,
    apps: apps.map((app) => ({
      ...app,
      config: { ...app.config, env: replaceAppReferences(app.config.env, urls), build_args: replaceAppReferences(app.config.build_args, urls) },
    })),
  };
}

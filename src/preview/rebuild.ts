import { touchedBy } from "../config/index.js";
import type { ChangedFiles } from "../github/compare.js";

/** What decides whether a push rebuilds one app. */
export interface AppChanges {
  /** The app's `paths`; undefined: it rebuilds on every push. */
  paths?: readonly string[];
  /** The commit the app last deployed; undefined: it never did. */
  deployedSha?: string;
}

/** Why an app is built. */
export type BuildReason =
  | { kind: "no-paths" }
  | { kind: "never-deployed" }
  /** `file`, one of its paths, changed since the app's last deploy. */
  | { kind: "changed"; file: string }
  /** GitHub could not say which files changed (`reason`): every file counts as changed. */
  | { kind: "unknown"; reason: string };

export type RebuildDecision =
  | { action: "build"; because: BuildReason }
  /** None of its paths changed since `since`, the commit it last deployed. */
  | { action: "unchanged"; since: string };

/** The files changed from `base` to `head`: `changedFiles` from src/github/compare.ts, given the repository. */
export type CompareLookup = (base: string, head: string) => Promise<ChangedFiles>;

/**
 * Per app, whether the push of `head` builds it or leaves it unchanged. Apps that last
 * deployed the same commit share one comparison (one request). A lookup that throws
 * (GitHub down: worth retrying) rejects the whole decision, as any read of a run does.
 *
 * "Unchanged" only says no file under its paths changed: whether its image is released
 * again (its env changed) or it is left alone, and whether a command (a redeploy) builds
 * it all the same, is the caller's to judge.
 */
export async function appsToRebuild(apps: ReadonlyMap<string, AppChanges>, head: string, lookup: CompareLookup): Promise<Map<string, RebuildDecision>> {
  const comparisons = new Map<string, Promise<ChangedFiles>>();
  const compare = (base: string) => {
    let found = comparisons.get(base);
    if (!found) comparisons.set(base, (found = lookup(base, head)));
    return found;
  };
  const decisions = await Promise.all(
    [...apps].map(async ([name, app]): Promise<[string, RebuildDecision]> => {
      if (app.paths === undefined) return [name, { action: "build", because: { kind: "no-paths" } }];
      if (app.deployedSha === undefined) return [name, { action: "build", because: { kind: "never-deployed" } }];
      const changed = await compare(app.deployedSha);
      if ("unknown" in changed) return [name, { action: "build", because: { kind: "unknown", reason: changed.unknown } }];
      const file = touchedBy(app.paths, changed.files);
      return [name, file === undefined ? { action: "unchanged", since: app.deployedSha } : { action: "build", because: { kind: "changed", file } }];
    }),
  );
  return new Map(decisions);
}

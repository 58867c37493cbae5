import { createHash } from "node:crypto";

// Fly app names are DNS labels: lowercase letters, digits and "-", at most 63 characters.
const MAX_LENGTH = 63;
const HASH_LENGTH = 6;

/**
 * The Fly app name of one pull request's preview: "pr-{number}-{owner}-{repo}", or, for
 * one app of a repository whose .preview.yml has `apps:`, "pr-{number}-{app}-{owner}-{repo}"
 * (the app first, so it survives the cut below: app names are at most 20 characters).
 * Names too long for Fly are cut and end in a short hash of the full identity, so two
 * repositories sharing a long prefix, or two apps of one pull request, still get different
 * apps. The hash is taken over the lowercased identity because GitHub treats owner and
 * repository names case-insensitively.
 */
export function appName(owner: string, repo: string, prNumber: number, app?: string): string {
  if (!Number.isInteger(prNumber) || prNumber < 1) throw new RangeError(`not a pull request number: ${prNumber}`);
  if (app !== undefined && slug(app) === "") throw new RangeError(`not an app name: ${JSON.stringify(app)}`);
  const name = slug(app === undefined ? `pr-${prNumber}-${owner}-${repo}` : `pr-${prNumber}-${app}-${owner}-${repo}`);
  if (name.length <= MAX_LENGTH) return name;
  // Without an app, the identity hashed is the one names have always been hashed over, so existing previews keep their apps.
  const identity = app === undefined ? `${owner}/${repo}#${prNumber}` : `${owner}/${repo}#${prNumber}/${app}`;
  const hash = createHash("sha256").update(identity.toLowerCase()).digest("hex").slice(0, HASH_LENGTH);
  const head = name.slice(0, MAX_LENGTH - HASH_LENGTH - 1).replace(/-+$/, "");
  return `${head}-${hash}`;
}

/** Where Fly serves an app by default: the preview URL `${PREVIEW_URL}` and `${apps.NAME.url}` stand for. */
export function appUrl(app: string): string {
  return `https://${app}.fly.dev`;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-|-$/g, "");
}

// The name of one app under `apps:` in .preview.yml ("web", "api"): lowercase letters,
// digits and single hyphens, starting with a letter, at most 20 characters. It goes into
// the Fly app name, the check run's name and the deployment's environment as it is;
// starting with a letter keeps it apart from a duration (`3d`) and a flag (`--fresh`) in a
// command. The schema states the same rule for the file (`apps.propertyNames`); a test
// holds the two together.
const APP_KEY = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const APP_KEY_MAX = 20;

export function isAppKey(word: string): boolean {
  return word.length <= APP_KEY_MAX && APP_KEY.test(word);
}

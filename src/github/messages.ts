import { APP_KEY_MAX } from "../model/app-name.js";
import { CONFIG_PATH } from "../model/config-file.js";
import type { CostShown, DatabaseShown, DestroyReason, HookShown } from "../model/pull-request.js";
import { codeSpan, fitLine, formatClock, formatDuration, formatMoney, formatTtl, shortSha } from "./markdown.js";

// The one-line reasons a run gives people: in the comment, the check run, the
// deployment's description and the row's last_error (`fly-preview status`). Runs pick
// one; the wording lives here, beside the renderers that show it.

export function noConfigReason(ref: string): string {
  return `No ${CONFIG_PATH} at ${ref}: nothing to deploy.`;
}

/** The first problem of an invalid .preview.yml. */
export function invalidConfigReason(first: { line: number; message: string }): string {
  return `${CONFIG_PATH} is invalid: line ${first.line}: ${first.message}`;
}

/** The first problem of the repository's fly.toml (at `file`) that keeps a preview from using it. */
export function refusedFlyTomlReason(file: string, first: { line: number; message: string }): string {
  return `${file} cannot be used: line ${first.line}: ${first.message}`;
}

export const FORKS_OFF_REASON = "Previews are off for pull requests from forks (forks: off).";

/** Which limit keeps a preview from starting, and how to free a slot. */
export interface FullLimit {
  scope: "repository" | "installation";
  /** Previews running in that scope, besides this one. */
  active: number;
  max: number;
  /** Fly apps this pull request needs (several with `apps:`); 1 when absent. */
  need?: number;
}

export function fullLimitReason(limit: FullLimit): string {
  if ((limit.need ?? 1) > 1) {
    const where = limit.scope === "repository" ? `max_previews: ${limit.max} in ${CONFIG_PATH}` : `PREVIEW_MAX_PER_INSTALLATION=${limit.max}`;
    return (
      `This pull request's ${limit.need} apps do not all fit: ${limit.active} of ${limit.max} Fly apps are running (${where}), and it deploys whole or not at all. ` +
      "Close a pull request, or comment `/preview destroy` on one, to free slots: this preview then deploys by itself."
    );
  }
  const free = "Close a pull request, or comment `/preview destroy` on one, to free a slot: this preview then deploys by itself.";
  return limit.scope === "repository"
    ? `This repository already has ${limit.active} previews running, its limit (max_previews: ${limit.max} in ${CONFIG_PATH}). ${free}`
    : `This installation already has ${limit.active} previews running, the server's limit (PREVIEW_MAX_PER_INSTALLATION=${limit.max}). ${free}`;
}

/** A file .preview.yml names (under `field`) that the commit does not have. */
export function missingFileReason(field: "dockerfile" | "fly_toml", path: string): string {
  return `${field}: "${path}" does not exist in the repository at this commit`;
}

/**
 * The default `dockerfile` is missing, and fly-preview generates one only from a
 * package.json in the build context (`context`), which has none.
 */
export function noDockerfileReason(dockerfile: string, context: string): string {
  return (
    `${missingFileReason("dockerfile", dockerfile)}, and fly-preview generates a Dockerfile only for a Node.js project ` +
    `(a package.json in the build context, ${contextShown(context)}). Commit a Dockerfile at "${dockerfile}", or name yours with dockerfile: in ${CONFIG_PATH}`
  );
}

/** The default `dockerfile` is missing but the build context has a Dockerfile of its own (at `found`). */
export function unnamedDockerfileReason(dockerfile: string, found: string): string {
  return `${missingFileReason("dockerfile", dockerfile)}, but "${found}" does: name it with dockerfile: ${found} in ${CONFIG_PATH}`;
}

/** The source is not one fly-preview runs the Dockerfile generator on, and why (`problem`). */
export function generatorRefusedReason(dockerfile: string, problem: string): string {
  return `${missingFileReason("dockerfile", dockerfile)}, and fly-preview did not generate one: ${problem}. Commit a Dockerfile at "${dockerfile}"`;
}

/**
 * The Dockerfile generator ran and failed (`what`: "it exited with code 1"), with the last
 * line it printed. The command to run instead is in the check run, in a code span: here
 * it would go through inline(), which breaks the "@" of @flydotio/dockerfile for copying.
 */
export function generatorFailedReason(dockerfile: string, what: string, lastLine?: string): string {
  const said = lastLine ? ` (last line: ${lastLine.trim().slice(0, 200)})` : "";
  return `${missingFileReason("dockerfile", dockerfile)}, and Fly's Dockerfile generator failed to write one: ${what}${said}. Commit a Dockerfile at "${dockerfile}"; the check run says how to generate one`;
}

function contextShown(context: string): string {
  return context === "." ? "the repository's root" : `"${context}"`;
}

export const NO_SECRET_STORE_REASON = "This server has no secret store; ask the operator to set PREVIEW_SECRETS_KEY";

export function missingSecretsReason(missing: string[], repo: { owner: string; repo: string }): string {
  return `Missing secrets: ${missing.join(", ")}. An operator stores them with \`fly-preview secrets set ${repo.owner}/${repo.repo} NAME\``;
}

/** Another repository's preview already has this Fly app name (two names can fold to one). */
export function appNameTakenReason(app: string, holder: { owner: string; repo: string; number: number }): string {
  return `The Fly app name ${app} is already used by the preview of ${holder.owner}/${holder.repo}#${holder.number}; it frees when that preview is destroyed`;
}

/** `timeout`: build.timeout as written in .preview.yml. */
export function buildTimeoutReason(timeout: string): string {
  return `The build took longer than build.timeout (${timeout}) in ${CONFIG_PATH}`;
}

export function maxRunReason(maxRunMs: number): string {
  return `The deploy took longer than PREVIEW_MAX_RUN (${formatTtl(maxRunMs)}), the server's limit`;
}

export function unhealthyReason(health: { path: string; timeout: string }, lastProblem: string | undefined): string {
  return `The app did not answer ${health.path} with a 2xx status within ${health.timeout} (last: ${lastProblem ?? "no answer"})`;
}

/** What ended a run at an error nobody planned for: the error's own words. */
export function internalErrorReason(message: string): string {
  return `Internal error: ${message}`;
}

/** The deployment's description when a newer desire (a push, a close) stopped a deploy. */
export function supersededDescription(newerSha: string | null): string {
  return newerSha ? `Superseded by ${shortSha(newerSha)}` : "Superseded";
}

export function supersededReason(sha: string, newerSha: string): string {
  return `${shortSha(sha)} was not deployed: ${shortSha(newerSha)} superseded it and deploys next.`;
}

/** The provider of a preview's database failing for a passing reason (a 5xx, the network). */
export function databaseFailingReason(detail: string): string {
  return `The database provider is failing (${detail})`;
}

/** `database:` names a Neon project or a Fly Postgres cluster the operator did not list in PREVIEW_DATABASES (`item`, as listed there). */
export function databaseNotAllowedReason(what: string, item: string): string {
  return `${what} is not one this server lets previews use: ask its operator to add ${item} to PREVIEW_DATABASES.`;
}

/** How to give fly-preview a valid Neon API key: the repository secret `secretName`, or the server's NEON_API_KEY. */
export function neonKeyHelp(secretName: string | null, repo: { owner: string; repo: string }): string {
  return secretName
    ? `Set a valid key with \`fly-preview secrets set ${repo.owner}/${repo.repo} ${secretName}\`.`
    : "Ask the server's operator to set a valid NEON_API_KEY.";
}

/** database.neon.api_key_secret names `secretName`, which the server cannot give: no secret store, or no such secret. */
export function neonKeySecretMissingReason(secretName: string, repo: { owner: string; repo: string }, store: boolean): string {
  if (!store) return `database.neon.api_key_secret names ${secretName}, but this server has no secret store: ask its operator to set PREVIEW_SECRETS_KEY.`;
  return `database.neon.api_key_secret names ${secretName}, which is not set for ${repo.owner}/${repo.repo}. ${neonKeyHelp(secretName, repo)}`;
}

/** A Fly Postgres database (or an app's user on one) whose name another preview of this server holds. */
/** A Neon branch another preview's record holds: a repository sharing the Neon project has a pull request of the same number. */
export function neonBranchTakenReason(name: string, project: string): string {
  return (
    `Neon branch ${name} of project ${project} is already the database of another preview: a pull request of the same number ` +
    "in another repository that uses the same Neon project. Give each repository its own Neon project (database.neon.project)."
  );
}

export function flyDatabaseTakenReason(what: "database" | "database user", name: string, cluster: string): string {
  return `The ${what} ${name} on the Fly Postgres cluster ${cluster} already belongs to another preview of this server.`;
}

/** database.neon names no key, and the server has none. */
export function noNeonKeyReason(repo: { owner: string; repo: string }): string {
  return `database.neon names no api_key_secret and this server has no NEON_API_KEY: store a key with \`fly-preview secrets set ${repo.owner}/${repo.repo} NEON_API_KEY\` and name it in api_key_secret, or ask the operator to set NEON_API_KEY.`;
}

/** Fly.io failed for a passing reason: `detail` is its own words, already redacted. */
export function flyFailingReason(detail: string): string {
  return `Fly.io is failing (${detail})`;
}

/** Where a run is in the pool's schedule of attempts. */
export interface AttemptView {
  number: number;
  of: number;
}

/** A run that Fly.io failed with attempts left: when the next one starts. */
export function retryNotice(problem: string, at: number, attempt: AttemptView): string {
  return `${problem}; trying again at ${formatClock(at)} (attempt ${attempt.number} of ${attempt.of} failed). A push deploys at once.`;
}

/** A run that Fly.io failed on its last attempt: what is left to do. */
export function lastAttemptReason(reason: string, attempt: AttemptView): string {
  return `${reason}${attempt.of > 1 ? `; attempt ${attempt.number} of ${attempt.of}` : ""}. A push or /preview redeploy tries again`;
}

export function destroyFailedReason(reason: string): string {
  return `Could not destroy the Fly app: ${reason}`;
}

/** The row's last_error for a failed destroy; the reaper retries it. */
export function destroyFailedError(reason: string): string {
  return `destroy: ${reason}`;
}

/** An app's row whose app left the `apps:` block of .preview.yml: the pull request's run destroys it. */
export function appRemovedReason(app: string): string {
  return `The app ${app} is no longer in apps: of ${CONFIG_PATH}: it is destroyed`;
}

/** The deployment's description once the preview is gone. */
export function destroyedDescription(why: DestroyReason): string {
  if (why === "closed") return "Pull request closed";
  if (why === "trigger") return "Preview destroyed: the trigger rules no longer match";
  if (why === "removed") return "Preview destroyed: the app is no longer in .preview.yml";
  return `Preview destroyed (${why})`;
}

/** One line naming a preview's database and how to reset it: no URL, no password. */
export function databaseLine(db: DatabaseShown): string {
  const where =
    db.provider === "neon"
      ? `Neon branch \`${db.name}\`${db.parent ? ` of \`${db.parent}\`` : ""}${db.schemaOnly ? " (schema only: a fork gets none of its data)" : ""}`
      : `database \`${db.name}\` on the Fly Postgres cluster \`${db.parent ?? "?"}\``;
  return `${where}; \`/preview reset-db\` starts it afresh`;
}

/** What the preview's machine costs, and that it costs nothing for compute while stopped. */
export function costLine(cost: CostShown): string {
  return `${costFigures(cost)} (${costSource(cost)}). ${idleCost("it")}`;
}

/** That a stopped machine costs nothing for compute, said of `subject` ("it", "an app"). */
export function idleCost(subject: string): string {
  return `Idle, ${subject} stops by itself (auto-stop) and costs nothing for compute until the next request.`;
}

/** A machine's size and price: "`shared-cpu-1x`, 256 MB: about $0.0027 an hour, $1.94 a month if always on". */
export function costFigures(cost: CostShown): string {
  const memory = cost.memoryMb % 1024 === 0 ? `${cost.memoryMb / 1024} GB` : `${cost.memoryMb} MB`;
  const money = (amount: number) => formatMoney(amount, cost.currency);
  return `\`${cost.preset}\`, ${memory}: about ${money(cost.perHour)} an hour, ${money(cost.perMonth)} a month if always on`;
}

/** Where a price was read: "[Fly's iad prices](…) of 2026-11-01". */
export function costSource(cost: CostShown): string {
  return `[Fly's ${cost.region} prices](${encodeURI(cost.source)}) of ${cost.date}`;
}

/** A hook named with its command, for plain one-line reasons: `postdeploy (npm run seed)`. */
function hookLabel(hook: Pick<HookShown, "name" | "command">): string {
  return `${hook.name} (${hook.command.length > 120 ? `${hook.command.slice(0, 119)}…` : hook.command})`;
}

// A failed hook's `reason` says what happened to it; `hookFailure` and `hookLine` name the hook.

/** The hook's command ran and exited non-zero. */
export function hookExitReason(exitCode: number): string {
  return `exited with code ${exitCode}`;
}

/** `timeout`: hooks.timeout as written in .preview.yml. */
export function hookTimeoutReason(timeout: string): string {
  return `took longer than hooks.timeout (${timeout}) in ${CONFIG_PATH} and was stopped`;
}

/** After a hook's timeout, its one-off machine could not be destroyed (flyctl's words, redacted). */
export function hookMachineLeftReason(detail: string): string {
  return `; its machine could not be destroyed (${detail}) and runs until the preview is destroyed`;
}

/** flyctl could not run the hook at all (no machine, the app gone): its own words, redacted. */
export function hookNotRunReason(detail: string): string {
  return `could not run: ${detail}`;
}

/** A failed hook in one plain line (the row's last_error, the logs). */
export function hookFailure(hook: HookShown): string {
  return `${hookLabel(hook)} ${hook.reason ?? "failed"}`;
}

/** A release command (hooks.release or fly.toml's) failed: flyctl's own words, redacted. */
export function releaseFailedReason(command: string | undefined, detail: string | undefined): string {
  const which = command ? `The release command (${command})` : "The release command ([deploy] release_command)";
  return `${which} failed${detail ? ` (${detail})` : ""}: the deploy stopped before any machine was updated, and the previous deploy keeps serving`;
}

/**
 * One markdown line on a hook that ran: "postdeploy (`npm run seed`) ran in 14s", or how it
 * failed. `code` renders the command as code, `text` escapes the reason.
 */
export function hookLine(hook: HookShown, code: (text: string) => string, text: (text: string) => string): string {
  const took = formatDuration(hook.durationMs);
  return hook.ok ? `${hook.name} (${code(hook.command)}) ran in ${took}` : `${hook.name} (${code(hook.command)}) ${text(hook.reason ?? "failed")} (after ${took})`;
}

// Replies to a command that names an app (`/preview redeploy api`) in a way that cannot
// be carried out. The word is the commenter's: shown in code, and cut, so a long or
// hostile one cannot bloat or break the reply.
const WORD_SHOWN_MAX = 60;

function word(text: string): string {
  return codeSpan(fitLine(text, WORD_SHOWN_MAX));
}

/** The word after `/preview NAME` cannot be an app's name (`apps:` in .preview.yml). */
export function notAnAppNameReply(command: string, written: string): string {
  return (
    `${word(written)} is not an app's name: apps are named under \`apps:\` in \`${CONFIG_PATH}\`, with lowercase letters, digits and hyphens, ` +
    `starting with a letter, at most ${APP_KEY_MAX} characters, like \`/preview ${command} api\`. Without a name, \`/preview ${command}\` ${withoutName(command)}.`
  );
}

/** More than one word after `/preview NAME` that could be an app's. */
export function oneAppReply(command: string): string {
  return `\`/preview ${command}\` takes one app at a time, like \`/preview ${command} api\`; without a name it ${withoutName(command)}.`;
}

/** The app a command names is not one of the pull request's (`apps` are the ones it has). */
/** `/preview status NAME` of an app the file names that has no row yet. */
export function appNotYetReply(app: string): string {
  return `The app ${word(app)} has no preview yet: the pull request's next deploy makes it.`;
}

export function unknownAppReply(command: string, app: string, apps: string[]): string {
  const have = apps.length ? `its apps are ${apps.map(word).join(", ")}` : "it has no apps yet";
  return `This pull request has no app ${word(app)} (\`apps:\` in \`${CONFIG_PATH}\`): ${have}. Nothing was done; \`/preview ${command}\` alone ${withoutName(command)}.`;
}

/** What a command that may name an app does without one. */
function withoutName(command: string): string {
  return command === "status" ? "shows every app" : "acts on every app";
}

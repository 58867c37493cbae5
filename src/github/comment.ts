import { createHash } from "node:crypto";
import type { Expiry } from "../model/expiry.js";
import type { CostShown, DatabaseShown, DestroyReason, HookShown, PreviewStatus } from "../model/pull-request.js";
import { costFigures, costLine, costSource, databaseLine, hookLine, idleCost } from "./messages.js";
import { aboutDuration, codeSpan, fitLine, fitText, formatDay, formatDuration, formatTime, formatTtl, inline, shortSha, spellDuration } from "./markdown.js";
import { httpStatus, type Octokit, type RepoRef } from "./octokit.js";

// The hidden marker that finds our one comment among all of a PR's comments.
export const COMMENT_MARKER = "<!-- fly-preview -->";

// GitHub answers 422 to a comment body longer than this ("Body is too long (maximum
// is 65536 characters)").
const COMMENT_MAX = 65_536;

/** A comment body cut to what GitHub accepts, saying what was cut. */
export function fitComment(body: string): string {
  return fitText(body, COMMENT_MAX);
}

export interface CommentView {
  // "deploying" is the store's alone: the comment says "building" until the outcome.
  status: Exclude<PreviewStatus, "none" | "skipped" | "deploying">;
  appName: string;
  sha: string; // the commit this state is about
  headRef: string;
  url?: string; // the preview's URL, when one exists
  servingSha?: string; // what still serves at url when the newest deploy did not succeed
  reason?: string; // one line: why it failed, what superseded it, which limit is full, which trigger rule failed
  remedy?: string; // one line: what lets the pull request through the trigger rules again
  checkRunUrl?: string;
  destroyReason?: DestroyReason;
  /** Who destroyed it with `/preview destroy`. */
  destroyedBy?: string;
  /** The preview's own database, when .preview.yml asks for one. */
  database?: DatabaseShown;
  /** What its machine costs while it runs, when the price table knows its size. */
  cost?: CostShown;
  /** The build used a Dockerfile fly-preview generated, the repository having none. */
  generatedDockerfile?: boolean;
  /** The TTL that expired, as written in .preview.yml (e.g. "7d"). */
  ttl?: string;
  /** A hook that failed: postdeploy on a ready preview, predestroy on a destroyed one. */
  hook?: HookShown;
  /** When the preview expires and why: only while it exists (src/model/expiry.ts). */
  expiry?: Expiry;
  /** The reminder before expiry, when it is due and given by an edit. */
  reminder?: ExpiryReminder;
  updatedAt: number;
}

export interface ExpiryReminder {
  /** How long is left until the expiry. */
  leftMs: number;
  /** The extension to suggest, as the command takes it ("1d"). */
  extendBy: string;
}

const HEADLINES: Record<CommentView["status"], string> = {
  queued: "⏳ Preview queued",
  building: "🔨 Building preview",
  ready: "✅ Preview ready",
  failed: "❌ Preview failed",
  superseded: "⏭️ Preview superseded",
  awaiting_approval: "⏸️ Preview waiting for approval",
  blocked: "🚫 No preview for pull requests from forks",
  limited: "⏳ Preview waiting for a free slot",
  destroyed: "🗑️ Preview destroyed",
};

/** Every state the comment can show. */
export const COMMENT_STATUSES = Object.keys(HEADLINES) as Array<CommentView["status"]>;

/** What the comment says about a state of the whole preview: the facts its explanation reads. */
type StateFacts = Pick<CommentView, "status" | "sha" | "reason" | "remedy" | "destroyReason" | "destroyedBy" | "ttl">;

function destroyedNote(view: Omit<StateFacts, "status" | "sha">): string {
  switch (view.destroyReason) {
    case "command":
      return `Destroyed by ${inline("@" + (view.destroyedBy ?? "someone"))} with \`/preview destroy\`. Pushes do not bring it back: comment \`/preview redeploy\` to deploy it again.`;
    case "expired":
      return `It expired after ${inline(view.ttl ?? "its TTL")} without a push or a command. Push, or comment \`/preview redeploy\`, to bring it back.`;
    case "operator":
      return "An operator destroyed it. Pushes do not bring it back: comment `/preview redeploy` to deploy it again.";
    case "removed":
      return "Its app is no longer in the `apps:` block of `.preview.yml`, so its Fly app was destroyed.";
    case "trigger":
      return `The pull request no longer matches the trigger rules in \`.preview.yml\`: ${inline(view.reason ?? "")}. ${inline(view.remedy ?? "")}`;
    default:
      return "The Fly app was destroyed because the pull request was closed.";
  }
}

/** What a failed hook left behind: a preview up but not seeded, or a cleanup that did not run. */
function hookNote(view: CommentView): string | undefined {
  const hook = view.hook;
  if (!hook || hook.ok) return undefined;
  const line = hookLine(hook, codeSpan, inline);
  if (hook.name === "postdeploy" && view.status === "ready") {
    return `The preview is up at its URL, but not seeded: ${line}. It runs again after the next deploy; \`/preview redeploy --fresh\` runs it now.`;
  }
  if (hook.name === "predestroy" && view.status === "destroyed") return `The cleanup before the destroy failed: ${line}. The app was destroyed anyway.`;
  return undefined;
}

function explanation(view: StateFacts): string | undefined {
  switch (view.status) {
    case "failed":
      return view.reason ? `**Reason:** ${inline(view.reason)}` : undefined;
    case "queued":
    case "superseded":
    case "limited":
      return view.reason ? inline(view.reason) : undefined;
    case "awaiting_approval":
      return (
        "This pull request comes from a fork: its code runs on this repository's Fly.io account only after review. " +
        `Someone with write access can comment \`/preview approve\` (or press **Approve** on the check run) to deploy \`${shortSha(view.sha)}\`. Each new push needs a new approval.`
      );
    case "blocked":
      return "This repository does not preview pull requests from forks (`forks: off` in `.preview.yml`).";
    case "destroyed":
      return destroyedNote(view);
    default:
      return undefined;
  }
}

/** The comment's line on expiry: when, and why then. */
export function expiryLine(expiry: Expiry): string {
  switch (expiry.kind) {
    case "pinned":
      return `📌 Pinned by ${inline("@" + expiry.by)}: does not expire while the pull request is open (\`/preview unpin\` lets it expire again).`;
    case "extended":
      return `Expires ${formatDay(expiry.at)}, extended by ${inline("@" + expiry.by)} with \`/preview extend ${formatTtl(expiry.ms)}\`.`;
    case "unpinned":
      return `Expires ${formatDay(expiry.at)}, ${spellDuration(expiry.ttlMs)} after ${inline("@" + expiry.by)} unpinned it (\`ttl\` in .preview.yml).`;
    case "ttl":
      return `Expires ${formatDay(expiry.at)}, ${spellDuration(expiry.ttlMs)} after the last push or redeploy (\`ttl\` in .preview.yml).`;
  }
}

function keepIt(reminder: ExpiryReminder): string {
  return `push, or comment \`/preview extend ${reminder.extendBy}\` or \`/preview pin\`, to keep it.`;
}

/** The reminder, in the sticky comment. */
export function reminderLine(reminder: ExpiryReminder): string {
  return `⏰ This preview expires in ${aboutDuration(reminder.leftMs)}: ${keepIt(reminder)}`;
}

/** The hidden marker of the reminder for the expiry `at`: a retried post finds it instead of posting twice. */
export function noticeMarker(at: number): string {
  return `<!-- fly-preview notice:${at} -->`;
}

/** The reminder as a comment of its own (`notify: comment`), which notifies the pull request's participants. */
export function renderNotice(notice: ExpiryReminder & { at: number; url?: string }): string {
  const preview = notice.url ? `The preview of this pull request (${urlLink(notice.url)})` : "The preview of this pull request";
  return [noticeMarker(notice.at), `⏰ ${preview} expires ${formatDay(notice.at)}, in ${aboutDuration(notice.leftMs)}: ${keepIt(notice)}`].join("\n");
}

/** A link whose text is the URL itself. */
function urlLink(url: string): string {
  return `[${inline(url)}](${encodeURI(url)})`;
}

function stillServing(sha: string): string {
  return `The previous deploy (\`${shortSha(sha)}\`) is still serving.`;
}

function commitCell(sha: string, headRef: string): string {
  return `\`${shortSha(sha)}\` on ${inline(headRef)}`;
}

/** The table of facts, its **Updated** row last (bodyHash skips that row). */
function factsTable(rows: Array<[string, string]>, updatedAt: number): string[] {
  return ["| | |", "|---|---|", ...[...rows, ["Updated", formatTime(updatedAt)]].map(([k, v]) => `| **${k}** | ${v} |`)];
}

export function renderComment(view: CommentView): string {
  const rows: Array<[string, string]> = [];
  if (view.url && view.status !== "destroyed") rows.push(["URL", urlLink(view.url)]);
  rows.push(["Commit", commitCell(view.sha, view.headRef)]);
  rows.push(["App", `\`${view.appName}\``]);
  if (view.database && view.status !== "destroyed") rows.push(["Database", databaseLine(view.database)]);
  if (view.cost && view.status === "ready") rows.push(["Cost", costLine(view.cost)]);

  const note = hookNote(view);
  const headline = note && view.status === "ready" ? "⚠️ Preview up, but postdeploy failed" : HEADLINES[view.status];
  const lines = [COMMENT_MARKER, `### ${headline}`, ""];
  const why = explanation(view);
  if (why) lines.push(why, "");
  if (note) lines.push(note, "");
  if (view.servingSha && view.url && view.status !== "destroyed" && view.servingSha !== view.sha) {
    lines.push(stillServing(view.servingSha), "");
  }
  if (view.generatedDockerfile && view.status !== "destroyed") {
    lines.push("Built with a generated Dockerfile: the repository has none. The check run shows it and how to commit it.", "");
  }
  if (view.reminder) lines.push(reminderLine(view.reminder), "");
  lines.push(...factsTable(rows, view.updatedAt));
  if (view.expiry) lines.push("", expiryLine(view.expiry));
  if (view.checkRunUrl) lines.push("", `[Details in the check run](${encodeURI(view.checkRunUrl)})`);
  return lines.join("\n");
}

/**
 * The state of one app of several: a preview's; "unchanged" (not rebuilt: the push touched
 * none of its `paths`); or "unseeded" (up, but its postdeploy hook failed).
 */
export type AppState = CommentView["status"] | "unchanged" | "unseeded";

/** One app's row in the comment of a pull request with several apps (`apps:` in .preview.yml). */
export interface AppRowView {
  /** Its name under `apps:`. */
  name: string;
  /** Its Fly app. */
  appName: string;
  status: AppState;
  url?: string;
  /** The commit it serves, or the one its state is about. */
  sha: string;
  /** What still serves at url when its newest deploy failed. */
  servingSha?: string;
  /** How long its build and deploy took, when it was built. */
  buildMs?: number;
  /** One line: why it failed, or why it is not seeded (its postdeploy hook's failure). */
  reason?: string;
  /** Its own check run, `Fly Preview / NAME`. */
  checkRunUrl?: string;
  /** What its machine costs while it runs, when the price table knows its size. */
  cost?: CostShown;
  /** It was built with a Dockerfile fly-preview generated, the repository having none. */
  generatedDockerfile?: boolean;
}

/** The one sticky comment of a pull request with several apps: the pull request's facts and a row per app. */
export interface AppsCommentView
  extends Pick<CommentView, "sha" | "headRef" | "reason" | "remedy" | "destroyReason" | "destroyedBy" | "ttl" | "database" | "expiry" | "reminder" | "updatedAt"> {
  /**
   * The state of the whole pull request, when one speaks for every app: a gate before
   * any app deploys (an invalid .preview.yml, a fork waiting for approval, a full limit)
   * or its destroy. Without it the headline sums up the apps' states. `sha` is the
   * pull request's head; `reason` and the rest are about this state.
   */
  status?: CommentView["status"];
  apps: AppRowView[];
}

const APP_STATES: Record<AppState, string> = {
  queued: "⏳ Queued",
  building: "🔨 Building",
  ready: "✅ Ready",
  unchanged: "✅ Unchanged",
  unseeded: "⚠️ Up, seeding failed",
  failed: "❌ Failed",
  superseded: "⏭️ Superseded",
  awaiting_approval: "⏸️ Waiting for approval",
  blocked: "🚫 Not deployed",
  limited: "⏳ Waiting for a free slot",
  destroyed: "🗑️ Destroyed",
};

/** Every state an app's row can show. */
export const APP_STATES_SHOWN = Object.keys(APP_STATES) as AppState[];

// A failure's reason is one line of flyctl's; a longer one is cut, so one app's
// reason cannot push the other apps' rows out of the comment.
const APP_REASON_MAX = 1_000;

const running = (app: AppRowView) => app.status === "ready" || app.status === "unchanged" || app.status === "unseeded";

/** "2 apps", "1 app". */
function apps(n: number): string {
  return `${n} ${n === 1 ? "app" : "apps"}`;
}

/**
 * The apps' states summed up: a failure first (it needs someone), then builds in
 * progress, then apps waiting. Apps being destroyed (removed from `apps:`) do not
 * count; undefined when every app is destroyed.
 */
function appsHeadline(rows: AppRowView[]): string | undefined {
  const counted = rows.filter((app) => app.status !== "destroyed");
  if (!counted.length) return undefined;
  const of = (k: number) => `${k} of ${apps(counted.length)}`;
  const failed = counted.filter((app) => app.status === "failed").length;
  if (failed) return `❌ ${of(failed)} failed`;
  const building = counted.filter((app) => app.status === "building").length;
  if (building) return `🔨 Building preview (${of(building)})`;
  const waiting = counted.filter((app) => !running(app)).length;
  if (waiting) return `⏳ Preview queued (${of(waiting)})`;
  const unseeded = counted.filter((app) => app.status === "unseeded").length;
  if (unseeded) return `⚠️ Preview up, but postdeploy failed (${of(unseeded)})`;
  return `✅ Preview ready (${apps(counted.length)})`;
}

/** Inline code inside a table cell: GitHub splits cells at a `|` even inside code, unless escaped. */
function cellCode(text: string): string {
  return codeSpan(text).replace(/\|/g, "\\|");
}

function appsTable(rows: AppRowView[], destroyed: boolean): string[] {
  // Prices come from one table (src/fly/prices.ts), so one source line serves every app.
  const prices = destroyed ? undefined : rows.find((app) => app.cost && running(app))?.cost;
  const withCost = prices !== undefined;
  const header = ["App", "State", "URL", "Commit", "Build time", ...(withCost ? ["Cost"] : []), "Fly app"];
  const cells = (app: AppRowView) => {
    const state = APP_STATES[app.status];
    const gone = destroyed || app.status === "destroyed";
    return [
      `**${inline(app.name)}**`,
      app.checkRunUrl ? `[${state}](${encodeURI(app.checkRunUrl)})` : state,
      app.url && !gone ? urlLink(app.url) : "—",
      `\`${shortSha(app.sha)}\``,
      app.buildMs === undefined ? "—" : formatDuration(app.buildMs),
      ...(withCost ? [app.cost && running(app) ? costFigures(app.cost) : "—"] : []),
      cellCode(app.appName),
    ];
  };
  const line = (values: string[]) => `| ${values.join(" | ")} |`;
  return [
    line(header),
    line(header.map(() => "---")),
    ...rows.map((app) => line(cells(app))),
    ...(prices ? ["", `Costs from ${costSource(prices)}. ${idleCost("an app")}`] : []),
  ];
}

/** A line for each app that needs one: why it failed or is not seeded, that it was not rebuilt, that its Dockerfile was generated. */
function appNotes(rows: AppRowView[]): string[] {
  return rows.flatMap((app) => {
    const name = `**${inline(app.name)}**`;
    const notes: string[] = [];
    if (app.status === "failed") {
      notes.push(`- ❌ ${name} failed: ${inline(fitLine(app.reason ?? "no reason was given", APP_REASON_MAX))}`);
      if (app.servingSha && app.url && app.servingSha !== app.sha) notes.push(`  - ${stillServing(app.servingSha)}`);
    }
    if (app.status === "unseeded") {
      notes.push(
        `- ⚠️ ${name} is up at its URL, but not seeded: ${inline(fitLine(app.reason ?? "its postdeploy hook failed", APP_REASON_MAX))}. ` +
          `It runs again after the app's next deploy; \`/preview redeploy ${app.name} --fresh\` runs it now.`,
      );
    }
    if (app.status === "unchanged") {
      notes.push(`- ${name} is unchanged: not rebuilt, as the push touched none of its \`paths\` in \`.preview.yml\`.`);
    }
    if (app.generatedDockerfile && app.status !== "destroyed") {
      notes.push(`- ${name} was built with a generated Dockerfile: the repository has none for it. Its check run shows it and how to commit it.`);
    }
    return notes;
  });
}

/**
 * The one sticky comment of a pull request with several apps: a headline over all of
 * them, a row per app, a line per app that failed (and why), and the pull request's
 * facts. Cut to what GitHub takes, however many apps and however long their reasons.
 */
export function renderAppsComment(view: AppsCommentView): string {
  const summary = appsHeadline(view.apps);
  // No app left (all destroyed) is a destroyed preview; none yet is one still queued.
  const status = view.status ?? (summary ? undefined : view.apps.length ? "destroyed" : "queued");
  const destroyed = status === "destroyed";
  const lines = [COMMENT_MARKER, `### ${status ? HEADLINES[status] : summary}`, ""];
  const why = status && explanation({ ...view, status });
  if (why) lines.push(why, "");
  if (view.reminder) lines.push(reminderLine(view.reminder), "");
  if (view.apps.length) lines.push(...appsTable(view.apps, destroyed), "");
  const notes = destroyed ? [] : appNotes(view.apps);
  if (notes.length) lines.push(...notes, "");
  const rows: Array<[string, string]> = [["Commit", commitCell(view.sha, view.headRef)]];
  if (view.database && !destroyed) rows.push(["Database", databaseLine(view.database)]);
  lines.push(...factsTable(rows, view.updatedAt));
  if (view.expiry) lines.push("", expiryLine(view.expiry));
  return fitComment(lines.join("\n"));
}

/** One app's end, as the reply to a command on every app of a pull request tells it. */
export interface AppCommandEnd {
  name: string;
  /** What the command asked of it. */
  action: "deploy" | "destroy";
  status: PreviewStatus;
  /** One line: why, when its run gave one. */
  reason?: string;
}

/** The hidden marker of the reply to the command of comment `commentId`: a retried post finds it instead of posting twice. */
export function commandReplyMarker(commentId: number): string {
  return `<!-- fly-preview command:${commentId} -->`;
}

/** An app's end in a few words, for an app that did not end as its command asked. */
function appEnd(app: AppCommandEnd): string {
  if (app.action === "destroy") return app.status === "failed" ? "could not be destroyed; the reaper tries again" : `ended ${app.status}`;
  switch (app.status) {
    case "failed":
      return "failed";
    case "limited":
      return "waits for a free slot";
    case "awaiting_approval":
      return "waits for approval";
    case "destroyed":
      return "was destroyed";
    case "none":
    case "skipped":
    case "blocked":
      return "was not deployed";
    default:
      return `ended ${app.status}`;
  }
}

/**
 * The reply to a command on every app of a pull request (`/preview redeploy` without a
 * name, …) once their runs ended, when not every app ended as it asked (up, or
 * destroyed): which did not, and why. Its 😕 alone would not say which.
 */
/** Whether an app ended as a command on every app asked: up for a deploy, gone for a destroy. */
export function endedAsAsked(app: Pick<AppCommandEnd, "action" | "status">): boolean {
  return app.action === "deploy" ? app.status === "ready" : app.status === "destroyed";
}

export function renderAppsCommandReply(v: { commentId: number; command?: string; apps: AppCommandEnd[] }): string {
  const wrong = v.apps.filter((app) => !endedAsAsked(app));
  const command = v.command ? codeSpan(`/preview ${v.command}`) : "Your command";
  const destroying = wrong.every((app) => app.action === "destroy");
  const of = `${wrong.length} of ${apps(v.apps.length)}`;
  return [
    commandReplyMarker(v.commentId),
    `${command}: ${of} ${destroying ? (wrong.length === 1 ? "was" : "were") + " not destroyed" : (wrong.length === 1 ? "is" : "are") + " not up"}.`,
    "",
    ...wrong.map((app) => `- **${inline(app.name)}** ${appEnd(app)}${app.reason ? `: ${inline(fitLine(app.reason, APP_REASON_MAX))}` : ""}`),
    "",
    "The preview comment shows every app; each app's check run (`Fly Preview / NAME`) has the details.",
  ].join("\n");
}

/** A hash of what the reader sees, so an edit that changes nothing visible is skipped. */
export function bodyHash(body: string): string {
  return createHash("sha256").update(body.replace(/\| \*\*Updated\*\* \|.*\|/, "")).digest("hex").slice(0, 16);
}

/**
 * Our comment: it starts with the marker and this App wrote it. Another App's comment may
 * hold the same marker (a copy of fly-preview, a fork of it): editing it fails with
 * 403, and adopting it would fail every run on the PR. Every comment we write puts its
 * marker first; one of ours holding a marker further on only repeats what someone wrote
 * (the unknown-command reply quotes the line, a hook command is shown in the comment),
 * and matching it would let that someone suppress a reply or move the sticky comment.
 */
async function findComment(octokit: Octokit, where: RepoRef & { number: number }, appId: number, marker = COMMENT_MARKER): Promise<number | undefined> {
  const iterator = octokit.paginate.iterator(octokit.rest.issues.listComments, {
    owner: where.owner,
    repo: where.repo,
    issue_number: where.number,
    per_page: 100,
  });
  for await (const page of iterator) {
    const found = page.data.find((c) => c.body?.startsWith(marker) && c.performed_via_github_app?.id === appId);
    if (found) return found.id;
  }
  return undefined;
}

/**
 * Edits the PR's one sticky comment in place, or creates it. The id is remembered
 * by the caller; without one we search by marker first, so a lost id (crash between
 * create and save) never produces a second comment. `appId` is this App's id, which
 * tells our comment from another App's holding the same marker.
 */
export async function upsertComment(
  octokit: Octokit,
  where: RepoRef & { number: number; appId: number },
  commentId: number | null,
  text: string,
): Promise<number> {
  const body = fitComment(text);
  const id = commentId ?? (await findComment(octokit, where, where.appId));
  if (id) {
    try {
      await octokit.rest.issues.updateComment({ owner: where.owner, repo: where.repo, comment_id: id, body });
      return id;
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
  }
  const created = await octokit.rest.issues.createComment({
    owner: where.owner,
    repo: where.repo,
    issue_number: where.number,
    body,
  });
  return created.data.id;
}

/**
 * Posts a comment once: unless this App already wrote one holding `marker` (a post that
 * reached GitHub before the process died, or before its success was recorded).
 */
export async function postOnce(octokit: Octokit, where: RepoRef & { number: number; appId: number }, marker: string, text: string): Promise<void> {
  if (await findComment(octokit, where, where.appId, marker)) return;
  await octokit.rest.issues.createComment({ owner: where.owner, repo: where.repo, issue_number: where.number, body: fitComment(text) });
}

export type Reaction = "eyes" | "rocket" | "confused";

/** Reacts to a command's comment: 👀 taken, 🚀 carried out, 😕 refused or failed. */
export async function react(octokit: Octokit, where: RepoRef & { commentId: number }, content: Reaction): Promise<void> {
  try {
    await octokit.rest.reactions.createForIssueComment({ owner: where.owner, repo: where.repo, comment_id: where.commentId, content });
  } catch (error) {
    // The comment may have been deleted since: a reaction is not worth failing for.
    if (httpStatus(error) !== 404) throw error;
  }
}

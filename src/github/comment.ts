import { createHash } from "node:crypto";
import type { Expiry } from "../model/expiry.js";
import type { CostShown, DatabaseShown, DestroyReason, HookShown, PreviewStatus } from "../model/pull-request.js";
import { costLine, databaseLine, hookLine } from "./messages.js";
import { aboutDuration, codeSpan, fitText, formatDay, formatTime, formatTtl, inline, shortSha, spellDuration } from "./markdown.js";
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

function destroyedNote(view: CommentView): string {
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

function explanation(view: CommentView): string | undefined {
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
  const preview = notice.url ? `The preview of this pull request ([${inline(notice.url)}](${encodeURI(notice.url)}))` : "The preview of this pull request";
  return [noticeMarker(notice.at), `⏰ ${preview} expires ${formatDay(notice.at)}, in ${aboutDuration(notice.leftMs)}: ${keepIt(notice)}`].join("\n");
}

export function renderComment(view: CommentView): string {
  const rows: Array<[string, string]> = [];
  if (view.url && view.status !== "destroyed") rows.push(["URL", `[${inline(view.url)}](${encodeURI(view.url)})`]);
  rows.push(["Commit", `\`${shortSha(view.sha)}\` on ${inline(view.headRef)}`]);
  rows.push(["App", `\`${view.appName}\``]);
  if (view.database && view.status !== "destroyed") rows.push(["Database", databaseLine(view.database)]);
  if (view.cost && view.status === "ready") rows.push(["Cost", costLine(view.cost)]);
  rows.push(["Updated", formatTime(view.updatedAt)]);

  const note = hookNote(view);
  const headline = note && view.status === "ready" ? "⚠️ Preview up, but postdeploy failed" : HEADLINES[view.status];
  const lines = [COMMENT_MARKER, `### ${headline}`, ""];
  const why = explanation(view);
  if (why) lines.push(why, "");
  if (note) lines.push(note, "");
  if (view.servingSha && view.url && view.status !== "destroyed" && view.servingSha !== view.sha) {
    lines.push(`The previous deploy (\`${shortSha(view.servingSha)}\`) is still serving.`, "");
  }
  if (view.generatedDockerfile && view.status !== "destroyed") {
    lines.push("Built with a generated Dockerfile: the repository has none. The check run shows it and how to commit it.", "");
  }
  if (view.reminder) lines.push(reminderLine(view.reminder), "");
  lines.push("| | |", "|---|---|", ...rows.map(([k, v]) => `| **${k}** | ${v} |`));
  if (view.expiry) lines.push("", expiryLine(view.expiry));
  if (view.checkRunUrl) lines.push("", `[Details in the check run](${encodeURI(view.checkRunUrl)})`);
  return lines.join("\n");
}

/** A hash of what the reader sees, so an edit that changes nothing visible is skipped. */
export function bodyHash(body: string): string {
  return createHash("sha256").update(body.replace(/\| \*\*Updated\*\* \|.*\|/, "")).digest("hex").slice(0, 16);
}

/**
 * Our comment: it holds the marker and this App wrote it. Another App's comment may
 * hold the same marker (a copy of fly-preview, a fork of it): editing it fails with
 * 403, and adopting it would fail every run on the PR.
 */
async function findComment(octokit: Octokit, where: RepoRef & { number: number }, appId: number, marker = COMMENT_MARKER): Promise<number | undefined> {
  const iterator = octokit.paginate.iterator(octokit.rest.issues.listComments, {
    owner: where.owner,
    repo: where.repo,
    issue_number: where.number,
    per_page: 100,
  });
  for await (const page of iterator) {
    const found = page.data.find((c) => c.body?.includes(marker) && c.performed_via_github_app?.id === appId);
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

import type { Logger } from "probot";
import { DEFAULT_TTL_MS, loadPreviewConfig, parseDuration } from "../config/index.js";
import { expiryLine, fitComment, react, type Reaction } from "../github/comment.js";
import { formatDay, formatTtl, inline, shortSha } from "../github/markdown.js";
import { httpStatus, installationGone, type Octokit } from "../github/octokit.js";
import { pullRequestFromApi } from "../github/pull-request.js";
import { EXTEND_CAP_TTLS, expiryOf, extendCap, type Expiry } from "../model/expiry.js";
import { appNotYetReply, unknownAppReply } from "../github/messages.js";
import { isSlashCommandName, SLASH_COMMAND_NAMES, takesApp, type SlashCommandName } from "../model/slash-commands.js";
import type { CommandName } from "../store/schema.js";
import { parseCommandWords } from "./parse.js";
import { APP_REMOVED_OUTCOME, type Command, type Preview, type PullRequestInfo, type Store } from "../store/store.js";

export interface CommandDeps {
  store: Store;
  github: (installationId: number) => Promise<Octokit>;
  /** Tells the worker pool that a desire changed. */
  wake: () => void;
  log: Logger;
  /** The docs/ folder replies link to. */
  docsUrl: string;
  clock?: () => number;
}

interface Run {
  command: Command;
  /** The app of the pull request's `apps:` block the command names (or whose button was pressed); undefined: all of them, or a single-app preview. */
  app?: string;
  octokit: Octokit;
  store: Store;
  pr: PullRequestInfo & { open: boolean };
  preview: Preview | undefined;
  docsUrl: string;
  clock: () => number;
  reply(body: string): Promise<void>;
}

/** What happened, for the command's row and its reaction. `pending`: the reconciler reacts when the run ends. */
type Outcome = { result: "done" | "refused" | "failed" | "pending"; note: string };

/** How a command ended: its result, and the text its row records. */
export interface CommandEnd {
  result: Outcome["result"];
  text: string;
}

interface CommandSpec {
  summary: string;
  /** Only users with write, maintain or admin permission may run it. */
  needsWrite: boolean;
  execute(run: Run): Promise<Outcome>;
}

// The slash-command table: one entry per `/preview` command, keyed by its name (the
// type wants every name of src/model/slash-commands.ts, and no other). `help` renders
// from it, and docs/commands.md is checked against it.
export const SLASH_COMMANDS: Record<SlashCommandName, CommandSpec> = {
  redeploy: {
    summary:
      "deploy the pull request's head commit again (without a build when its image exists); `--fresh` builds it from source and runs the postdeploy hook again",
    needsWrite: true,
    async execute({ command, store, pr, preview, app }) {
      if (!pr.open) return { result: "refused", note: "the pull request is closed" };
      // Only a comment carries words after the command; a button or Re-run is a plain redeploy.
      const fresh = command.source === "comment" && /\s--fresh(?:\s|$)/i.test(command.text);
      const asked = { by: command.sender, commentId: command.comment_id ?? undefined, fresh };
      // One app of several: that app alone, built whatever its paths say. One never deployed
      // yet has no row: the pull request's run deploys it with the others.
      if (app && preview && (await store.desireApp(preview, app, pr.headSha, asked))) {
        return { result: "pending", note: `${fresh ? "fresh " : ""}redeploy of ${app} at ${shortSha(pr.headSha)} recorded` };
      }
      await store.desireDeploy(pr, asked);
      return { result: "pending", note: `${fresh ? "fresh " : ""}redeploy of ${shortSha(pr.headSha)} recorded` };
    },
  },
  destroy: {
    summary: "destroy the preview now; pushes do not bring it back, `/preview redeploy` does",
    needsWrite: true,
    async execute({ command, store, pr, preview, app }) {
      const why = { reason: "command" as const, by: command.sender, commentId: command.comment_id ?? undefined };
      if (app) {
        if (preview && (await store.destroyApp(preview, app, why))) return { result: "pending", note: `destroy of ${app} recorded` };
        return { result: "done", note: `${app} is already destroyed` };
      }
      const { changed } = await store.desireDestroy(pr.owner, pr.repo, pr.number, why);
      if (changed) return { result: "pending", note: "destroy recorded" };
      return { result: "done", note: preview ? "already destroyed" : "there was no preview" };
    },
  },
  "reset-db": {
    summary: "start the preview's database afresh from its parent, then deploy again (only with a `database:` block)",
    needsWrite: true,
    async execute({ command, store, pr, preview, reply }) {
      if (!pr.open) return { result: "refused", note: "the pull request is closed" };
      const database = preview && (await store.databaseOf(preview.id));
      if (!database) {
        await reply("This preview has no database to reset: a `database:` block in `.preview.yml` gives it one (see docs/database.md).");
        return { result: "refused", note: "no database" };
      }
      await store.desireDeploy(pr, { by: command.sender, commentId: command.comment_id ?? undefined, resetDb: true });
      return { result: "pending", note: `reset of ${database.name} recorded` };
    },
  },
  approve: {
    summary: "let a pull request from a fork deploy its current head commit (each new push needs a new approval)",
    needsWrite: true,
    async execute({ command, store, pr, reply }) {
      if (!pr.open) return { result: "refused", note: "the pull request is closed" };
      if (!pr.fork) return { result: "done", note: "not a fork: nothing to approve" };
      // The commit the approver saw (the head when the command arrived), not the head
      // now: a fork author who pushes after seeing the approval gets nothing approved.
      const seen = command.head_sha;
      if (!seen) {
        await reply("I don't know this pull request's head commit yet, so I can't tell which one you approve: approve again once the `Fly Preview` check run shows it.");
        return { result: "refused", note: "no known head commit to approve" };
      }
      if (seen !== pr.headSha) {
        await reply(`Approved \`${shortSha(seen)}\`, but the head is now \`${shortSha(pr.headSha)}\`; approve again.`);
        return { result: "refused", note: `approved ${shortSha(seen)}, but the head moved to ${shortSha(pr.headSha)}` };
      }
      await store.desireDeploy(pr, { by: command.sender, commentId: command.comment_id ?? undefined, approvedSha: seen });
      return { result: "pending", note: `approved ${shortSha(seen)}` };
    },
  },
  pin: {
    summary: "keep the preview while the pull request is open: it does not expire (`/preview unpin` undoes it)",
    needsWrite: true,
    async execute({ command, store, pr, preview, reply }) {
      if (!pr.open) return { result: "refused", note: "the pull request is closed" };
      if (!isLive(preview)) return noPreview(preview, reply, "pin");
      if (preview.pinned_by) return { result: "done", note: `already pinned by ${preview.pinned_by}` };
      await store.pin(preview.id, command.sender);
      await showExpiry(store, preview);
      return { result: "done", note: "pinned" };
    },
  },
  unpin: {
    summary: "let a pinned preview expire again, `ttl` after the unpin at the earliest",
    needsWrite: true,
    async execute({ command, store, preview, clock }) {
      if (!preview?.pinned_by) return { result: "done", note: "not pinned" };
      const ttlMs = ttlOf(preview);
      // Pinned for longer than its TTL, it would expire at the next pass, unwarned: it gets a fresh TTL.
      const fresh = clock() + ttlMs;
      const unpinned = expiryAt(expiryOf({ ...preview, pinned_by: null }, ttlMs));
      await store.unpin(preview.id, unpinned < fresh ? { until: fresh, by: command.sender } : undefined);
      await showExpiry(store, preview);
      return { result: "done", note: "unpinned" };
    },
  },
  extend: {
    summary: `push the preview's expiry out, like \`/preview extend 3d\` (at most ${EXTEND_CAP_TTLS} × \`ttl\` from now)`,
    needsWrite: true,
    async execute({ command, store, pr, preview, reply, clock }) {
      if (!pr.open) return { result: "refused", note: "the pull request is closed" };
      const ms = extensionOf(command.text);
      if (ms === undefined) {
        await reply("`/preview extend` needs how long, as `ttl` in `.preview.yml` takes it: a whole number and a unit, like `/preview extend 3d` or `/preview extend 12h`.");
        return { result: "refused", note: "no duration" };
      }
      if (!isLive(preview)) return noPreview(preview, reply, "extend");
      const ttlMs = ttlOf(preview);
      const expiry = expiryOf(preview, ttlMs);
      if (expiry.kind === "pinned") {
        await reply(`${expiryLine(expiry)} Nothing to extend.`);
        return { result: "refused", note: "pinned" };
      }
      const now = clock();
      // From the current expiry; one the reaper has not acted on yet counts from now.
      const from = Math.max(expiry.at, now);
      const until = from + ms;
      const cap = extendCap(ttlMs, now);
      if (until > cap) {
        await reply(overCapReply(until, cap, ttlMs, from));
        return { result: "refused", note: "past the cap of 4 × ttl" };
      }
      await store.extend(preview.id, { until, by: command.sender, ms });
      await showExpiry(store, preview);
      return { result: "done", note: `extended to ${new Date(until).toISOString()}` };
    },
  },
  status: {
    summary: "show the preview's state, URL, commit and last error: of each app when there are several, of one with `/preview status NAME`",
    needsWrite: false,
    async execute({ store, preview, app, reply }) {
      const apps = preview ? await store.appsOf(preview.owner, preview.repo, preview.number) : [];
      if (app) {
        const row = apps.find((a) => a.app_key === app);
        // An app of the file that its pull request's run has not handed a desire yet has no row.
        await reply(row && preview ? renderStatus(row, { app, pullRequest: preview }) : appNotYetReply(app));
        return { result: "done", note: `status of ${app} sent` };
      }
      await reply(preview && apps.length ? renderAppsStatus(preview, apps) : renderStatus(preview));
      return { result: "done", note: "status sent" };
    },
  },
  help: {
    summary: "list these commands",
    needsWrite: false,
    async execute({ reply, docsUrl }) {
      await reply(renderHelp(docsUrl));
      return { result: "done", note: "help sent" };
    },
  },
};

function ttlOf(preview: Preview): number {
  return preview.config_ttl_ms ?? DEFAULT_TTL_MS;
}

function expiryAt(expiry: Expiry): number {
  return expiry.kind === "pinned" ? Number.POSITIVE_INFINITY : expiry.at;
}

/** The duration after `/preview extend`, as `ttl` takes it; undefined when there is none, or it is not one. */
function extensionOf(text: string): number | undefined {
  const word = /^\/preview\s+extend\s+(\S+)/i.exec(text)?.[1];
  if (!word) return undefined;
  try {
    const ms = parseDuration(word.toLowerCase());
    return ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** Only a preview that exists (or is on its way) has an expiry to pin or extend. */
function isLive(preview: Preview | undefined): preview is Preview {
  return preview !== undefined && preview.desired_action === "deploy" && preview.status !== "none" && preview.status !== "skipped";
}

async function noPreview(preview: Preview | undefined, reply: Run["reply"], name: "pin" | "extend"): Promise<Outcome> {
  const back = preview?.desired_action === "destroy" ? " It was destroyed: `/preview redeploy` brings it back." : "";
  await reply(`There is no preview to ${name}.${back}`);
  return { result: "refused", note: "no preview" };
}

/** The sticky comment again: its expiry line is rendered from the row, which just changed. */
async function showExpiry(store: Store, preview: Preview): Promise<void> {
  await store.surfaceWrites.again(preview.id, "comment");
}

function overCapReply(until: number, cap: number, ttlMs: number, from: number): string {
  const room = Math.floor((cap - from) / 3_600_000) * 3_600_000;
  const most = room > 0 ? ` The most it can be extended by now is \`/preview extend ${formatTtl(room)}\`.` : "";
  return (
    `That would keep the preview until ${formatDay(until)}, but it may be kept at most ${EXTEND_CAP_TTLS} × \`ttl\` ` +
    `(${formatTtl(EXTEND_CAP_TTLS * ttlMs)}) from now: until ${formatDay(cap)}.${most} \`/preview pin\` keeps it while the pull request is open.`
  );
}

export function renderHelp(docsUrl: string, intro = "fly-preview commands (comment one on this pull request):"): string {
  return [
    intro,
    "",
    ...SLASH_COMMAND_NAMES.map((name) => {
      const { summary, needsWrite } = SLASH_COMMANDS[name];
      return `- \`/preview ${name}\`: ${summary}${needsWrite ? " (write access)" : ""}`;
    }),
    "",
    `More in [the docs](${docsUrl}/commands.md).`,
  ].join("\n");
}

/**
 * `/preview status`: the preview's state, URL, commit, Fly app and last error. With `of`,
 * `preview` is the row of the app `of.app` of a pull request with several, which expires
 * with its pull request (`of.pullRequest`, its own row).
 */
export function renderStatus(preview: Preview | undefined, of?: { app: string; pullRequest: Preview }): string {
  if (!preview || preview.status === "none" || preview.status === "skipped") {
    const why = preview?.status === "skipped" && preview.last_error ? ` (${inline(preview.last_error)})` : "";
    return `No preview ${of ? `of \`${of.app}\`` : "for this pull request"}${why}.`;
  }
  const lines = [`**Preview${of ? ` of \`${of.app}\`` : ""}:** ${preview.status}`];
  if (preview.url && preview.status !== "destroyed") lines.push(`**URL:** ${inline(preview.url)}`);
  if (preview.deployed_sha) lines.push(`**Commit:** \`${shortSha(preview.deployed_sha)}\``);
  lines.push(`**App:** \`${preview.app_name}\``);
  if (preview.last_error) lines.push(`**Last error:** ${inline(preview.last_error)}`);
  if (holdsApp(preview)) lines.push(expiryLine(expiryOfRow(of?.pullRequest ?? preview)));
  if (preview.paused) lines.push(`Destroyed by command: pushes do not bring it back; \`/preview redeploy${of ? ` ${of.app}` : ""}\` does.`);
  return lines.join("\n");
}

/**
 * `/preview status` of a pull request with several apps: its own row's state while it
 * holds them back (a gate, its destroy), a row per app (state, URL, commit), what failed,
 * and when they expire: together, from its own row.
 */
export function renderAppsStatus(own: Preview, apps: Preview[]): string {
  const quiet = own.status === "none" || own.status === "skipped";
  const head = quiet ? renderStatus(own) : `**Preview:** ${own.status === "ready" ? `${apps.length} apps` : own.status}`;
  const lines = [head, "", "| App | State | URL | Commit |", "|---|---|---|---|"];
  for (const app of apps) {
    const url = app.url && app.status !== "destroyed" ? inline(app.url) : "—";
    lines.push(`| **${inline(app.app_key)}** | ${app.status} | ${url} | ${app.deployed_sha ? `\`${shortSha(app.deployed_sha)}\`` : "—"} |`);
  }
  lines.push("");
  if (own.last_error && !quiet) lines.push(`**Last error:** ${inline(own.last_error)}`);
  for (const app of apps) if (app.last_error) lines.push(`**Last error of \`${app.app_key}\`:** ${inline(app.last_error)}`);
  if (own.desired_action === "deploy" && apps.some(holdsApp)) lines.push(expiryLine(expiryOfRow(own)));
  if (own.paused) lines.push("Destroyed by command: pushes do not bring it back; `/preview redeploy` does.");
  lines.push("`/preview status NAME` shows one app.");
  return lines.join("\n");
}

/** The row holds a Fly app it means to keep: it has an expiry. */
function holdsApp(row: Preview): boolean {
  return row.desired_action === "deploy" && row.app_created === 1;
}

function expiryOfRow(row: Preview): Expiry {
  return expiryOf(row, ttlOf(row));
}

const REACTIONS: Record<Outcome["result"], Reaction | undefined> = {
  done: "rocket",
  refused: "confused",
  failed: "confused",
  pending: undefined,
};

function specOf(name: CommandName): CommandSpec | undefined {
  return isSlashCommandName(name) ? SLASH_COMMANDS[name] : undefined;
}

async function hasWriteAccess(octokit: Octokit, owner: string, repo: string, username: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username });
    // `maintain` is reported as permission "write" with role_name "maintain".
    return data.permission === "admin" || data.permission === "write" || data.role_name === "maintain";
  } catch (error) {
    if (httpStatus(error) === 404) return false;
    throw error;
  }
}

/**
 * Carries out one recorded command: permission, configuration, then the command itself.
 * Throws what GitHub or the network throws; the pool tries again later or gives up
 * (`commandFailed`).
 */
export async function executeCommand(command: Command, deps: CommandDeps): Promise<CommandEnd> {
  const log = deps.log.child({ repo: `${command.owner}/${command.repo}`, pr: command.number, command: command.name });
  const octokit = await deps.github(command.installation_id);
  const where = { owner: command.owner, repo: command.repo };
  const reactTo = async (content: Reaction | undefined) => {
    if (content && command.comment_id) await react(octokit, { ...where, commentId: command.comment_id }, content);
  };
  const reply = async (body: string) => {
    // A button has no comment to react to: address the person who pressed it.
    const text = command.source === "comment" ? body : `@${command.sender}: ${body}`;
    await octokit.rest.issues.createComment({ ...where, issue_number: command.number, body: fitComment(text) });
  };

  let note: Outcome;
  try {
    if (command.attempts === 0) await reactTo("eyes");
    note = await carryOut(command, deps, octokit, reply);
  } catch (error) {
    if (!installationGone(error)) throw error;
    // No token for a deleted installation: nothing of it can be answered any more.
    log.warn({ installationId: command.installation_id }, "installation gone: destroying its previews quietly");
    if (await deps.store.appRemoved({ installationId: command.installation_id })) deps.wake();
    return { result: "failed", text: APP_REMOVED_OUTCOME };
  }
  // The command is carried out: a reaction GitHub fails to take must not run it twice.
  await reactTo(REACTIONS[note.result]).catch((error) => log.warn({ err: error }, "could not react to the command"));
  log.info({ source: command.source, sender: command.sender, outcome: note.result, note: note.note }, "command handled");
  return { result: note.result, text: `${note.result}: ${note.note}` };
}

/** A command given up (an error that would fail again, or no retry left): 😕 on its comment, as far as GitHub answers. */
export async function commandFailed(command: Command, deps: CommandDeps): Promise<void> {
  if (!command.comment_id) return;
  const octokit = await deps.github(command.installation_id);
  await react(octokit, { owner: command.owner, repo: command.repo, commentId: command.comment_id }, "confused");
}

async function carryOut(command: Command, deps: CommandDeps, octokit: Octokit, reply: (body: string) => Promise<void>): Promise<Outcome> {
  const where = { owner: command.owner, repo: command.repo };
  const { data } = await octokit.rest.pulls.get({ ...where, pull_number: command.number });
  const pr = { ...pullRequestFromApi(command.installation_id, command.owner, command.repo, data), open: data.state === "open" };

  const spec = specOf(command.name);
  // A fork can delete .preview.yml at its head; its commands obey the default branch's,
  // like its deploys.
  const config = await loadPreviewConfig(octokit, { ...where, ref: pr.fork ? data.base.repo.default_branch : pr.headSha });
  if (!config.found) {
    await reply(`Previews are not configured for this repository: add a \`.preview.yml\` (see [the docs](${deps.docsUrl}/configuration.md)).`);
    return { result: "refused", note: "not configured" };
  }
  if (!spec) {
    await reply(renderHelp(deps.docsUrl, `I don't know \`${command.text.replace(/`/g, "'")}\`. The commands are:`));
    return { result: "refused", note: "unknown command" };
  }
  if (spec.needsWrite && !(await hasWriteAccess(octokit, command.owner, command.repo, command.sender))) {
    await reply(`Sorry, only people with write access to this repository can \`/preview ${command.name}\`. Anyone can ask for \`/preview status\`.`);
    return { result: "refused", note: "no write access" };
  }
  const preview = await deps.store.get(command.owner, command.repo, command.number);
  const clock = deps.clock ?? Date.now;
  // With `apps:`, redeploy and destroy may name one app (a comment's word, or the app of the
  // check run whose button was pressed). Without, words after a command are ignored.
  const apps = config.ok ? config.apps?.map((a) => a.name) : undefined;
  let app: string | undefined;
  if (apps && isSlashCommandName(command.name) && takesApp(command.name)) {
    const words = parseCommandWords(command.text);
    if (command.source === "comment" && words.refusal) {
      await reply(words.refusal);
      return { result: "refused", note: "not one app name" };
    }
    app = command.app_key ?? (command.source === "comment" ? words.app : undefined);
    if (app && !apps.includes(app)) {
      await reply(unknownAppReply(command.name, app, apps));
      return { result: "refused", note: `no app ${app}` };
    }
  }
  const outcome = await spec.execute({ command, app, octokit, store: deps.store, pr, preview, reply, docsUrl: deps.docsUrl, clock });
  if (outcome.result === "pending") deps.wake();
  return outcome;
}

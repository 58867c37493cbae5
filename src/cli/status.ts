import { formatTtl } from "../github/markdown.js";
import type { Expiry } from "../model/expiry.js";
import type { DatabaseRow, Preview } from "../store/store.js";
import { parseAppKey, parsePullRequest } from "./args.js";
import { CliError, type CliCommand, type Context } from "./command.js";
import {
  costCell,
  expiryOfApp,
  expiryOfPreview,
  isoTime,
  oneLine,
  ownApp,
  perMonthJson,
  previewJson,
  previewName,
  pullRequestStatus,
  runningCost,
  statusLabel,
  table,
  type PullRequestRows,
} from "./format.js";

export const status: CliCommand = {
  name: "status",
  args: ["owner/repo#N"],
  optionalArgs: ["APP"],
  flags: [{ name: "json", help: "a JSON object instead of lines" }],
  summary: "everything fly-preview knows about one preview",
  details:
    "For a pull request with several apps (`apps:` in .preview.yml): its own row (its gates, expiry and database), then a line per app; " +
    "with APP, everything about that app, as for a preview of one app.",
  async run(args, ctx) {
    const { owner, repo, number } = parsePullRequest(args.positionals[0]);
    const key = args.positionals[1] === undefined ? undefined : parseAppKey(args.positionals[1]);
    const store = await ctx.store();
    const own = await store.get(owner, repo, number);
    if (!own) throw new CliError(`no preview for ${owner}/${repo}#${number}`);
    const pr: PullRequestRows = { own, apps: await store.appsOf(owner, repo, number) };
    // A pull request's database is its own row's, shared by its apps.
    const database = await store.databaseOf(own.id);
    if (key !== undefined) {
      // On Fly Postgres, the app's own user of that database (src/preview/database.ts).
      const app = pr.apps.find((a) => a.app_key === key);
      const user = app && (await store.databasesOf(app.id)).find((d) => d.onDatabase !== null);
      return showApp(pr, key, { database, user }, args.switches.has("json"), ctx);
    }
    if (!pr.apps.length) {
      if (args.switches.has("json")) {
        ctx.print(JSON.stringify({ ...statusJson(own), database: database ? databaseJson(database) : null }, null, 2));
        return;
      }
      print(describe(own, { database: databaseText(database), expiry: expiryText(own, expiryOfPreview(own)) }), ctx);
      return;
    }
    const prices = ctx.settings().prices;
    const cost = (p: Preview) => runningCost(p, prices);
    if (args.switches.has("json")) {
      const apps = pr.apps.map((app) => ({ ...appStatusJson(app, pr), costPerMonth: perMonthJson(cost(app)) }));
      ctx.print(JSON.stringify({ ...statusJson(own, expiryOfPreview(own, pr.apps)), app: ownApp(pr), database: database ? databaseJson(database) : null, apps }, null, 2));
      return;
    }
    // Its own row coordinates the apps: no commit, URL or deployment of its own, unless a Fly app of its own is still there.
    const lines = describe(own, { database: databaseText(database), expiry: expiryText(own, expiryOfPreview(own, pr.apps)) })
      .filter(([label]) => ownApp(pr) !== null || !["app", "commit", "url", "deployment"].includes(label))
      .map(([label, value]): [string, string] => (label === "status" && own.status === "ready" ? [label, pullRequestStatus(pr)] : [label, value]));
    lines.splice(1, 0, ["apps", `${pr.apps.map((app) => app.app_key).join(", ")}: below; \`fly-preview status ${previewName(own)} APP\` shows one`]);
    print(lines, ctx);
    ctx.print("");
    const rows = pr.apps.map((app) => [
      app.app_key,
      app.app_name,
      statusLabel(app),
      app.deployed_sha?.slice(0, 7) ?? "-",
      app.url ?? "-",
      costCell(cost(app)),
      isoTime(app.updated_at),
      oneLine(app.last_error),
    ]);
    for (const line of table(["APP", "FLY APP", "STATUS", "COMMIT", "URL", "COST/MONTH", "UPDATED", "LAST ERROR"], rows)) ctx.print(line);
  },
};

/** `fly-preview status OWNER/REPO#N APP`: one app of a pull request with several, in full. */
function showApp(pr: PullRequestRows, key: string, { database, user }: { database?: DatabaseRow; user?: DatabaseRow }, json: boolean, ctx: Context): void {
  const name = previewName(pr.own);
  const app = pr.apps.find((a) => a.app_key === key);
  if (!app) {
    if (!pr.apps.length) throw new CliError(`${name} has no apps (no apps: in its .preview.yml): run \`fly-preview status ${name}\``);
    throw new CliError(`${name} has no app ${key}: its apps are ${pr.apps.map((a) => a.app_key).join(", ")}`);
  }
  if (json) {
    const databaseUser = user ? { name: user.name, ready: user.readyAt !== null } : null;
    ctx.print(JSON.stringify({ ...appStatusJson(app, pr), database: database ? databaseJson(database) : null, databaseUser }, null, 2));
    return;
  }
  const userText = user ? `; its own user ${user.name}${user.readyAt === null ? " (asked for, not confirmed)" : ""}` : "";
  const shared = database ? `${databaseText(database)}, the pull request's, shared by its apps${userText}` : "none";
  const lines = describe(app, { database: shared, expiry: expiryText(pr.own, expiryOfApp(app, pr)) }).map(([key, value]): [string, string] => {
    if (key === "preview") return [key, `${name} ${app.app_key}`];
    // The pull request's one comment has a row per app.
    if (key === "comment") return [key, pr.own.comment_id === null ? "none" : `${pr.own.comment_id} (the pull request's)`];
    return [key, value];
  });
  print(lines, ctx);
}

function print(lines: Array<[string, string]>, ctx: Context): void {
  const width = Math.max(...lines.map(([key]) => key.length)) + 2;
  for (const [key, value] of lines) ctx.print(`${`${key}:`.padEnd(width)}${value}`);
}

/** Where a preview's own database lives, and whether the provider confirmed it: never its URL. */
function databaseText(d: DatabaseRow | undefined): string {
  if (!d) return "none";
  const where = d.provider === "neon" ? `Neon branch ${d.name} of project ${d.home}${d.parent ? `, copied from ${d.parent}` : ""}` : `database ${d.name} on Fly Postgres cluster ${d.home}`;
  return `${where}${d.readyAt === null ? " (asked for, not confirmed)" : ""}`;
}

function databaseJson(d: DatabaseRow) {
  return { provider: d.provider, home: d.home, name: d.name, parent: d.parent, createdAt: isoTime(d.createdAt), ready: d.readyAt !== null };
}

function describe(p: Preview, shown: { database: string; expiry: string }): Array<[string, string]> {
  const caughtUp = p.observed_generation >= p.desired_generation;
  const desire = [`generation ${p.desired_generation}`, `since ${isoTime(p.desired_at)}`];
  if (p.desired_by) desire.push(`by ${p.desired_by}`);
  if (p.desired_action === "destroy" && p.destroy_reason) desire.push(`reason: ${p.destroy_reason}`);
  return [
    ["preview", previewName(p)],
    ["app", p.app_name],
    ["status", `${statusLabel(p)} (since ${isoTime(p.status_at)})`],
    ["desired", `${p.desired_action}${p.desired_sha ? ` at ${p.desired_sha}` : ""} (${desire.join(", ")})`],
    [
      "observed",
      `generation ${p.observed_generation}${caughtUp ? ", caught up" : ", the server has not carried out the desire yet"}`,
    ],
    ["commit", p.deployed_sha ?? "none deployed"],
    ["url", p.url ?? "none"],
    ["database", shown.database],
    ["head", `${p.head_sha} (${p.head_ref} → ${p.base_ref})`],
    ["check run", p.check_run_id === null ? "none" : String(p.check_run_id)],
    ["comment", p.comment_id === null ? "none" : String(p.comment_id)],
    ["deployment", p.deployment_id === null ? "none" : String(p.deployment_id)],
    ["last error", p.last_error ?? "none"],
    ["lease", p.lease_owner ? `${p.lease_owner} until ${isoTime(p.lease_expires_at ?? 0)}` : "none"],
    ["expires", shown.expiry],
    ["paused", p.paused ? `yes, destroyed by ${p.destroyed_by ?? "a command"}: pushes do not redeploy it until /preview redeploy` : "no"],
    ["updated", isoTime(p.updated_at)],
  ];
}

/** When it expires and why, in the comment's terms; `pr` is the row that holds the pin (an app's is its pull request's). */
function expiryText(pr: Preview, expiry: Expiry | undefined): string {
  if (!expiry) return "no app to expire";
  switch (expiry.kind) {
    case "pinned":
      return `never while the pull request is open: pinned by ${expiry.by}${pr.pinned_at === null ? "" : ` at ${isoTime(pr.pinned_at)}`}`;
    case "extended":
      return `${isoTime(expiry.at)}, extended by ${expiry.by} (by ${formatTtl(expiry.ms)})`;
    case "unpinned":
      return `${isoTime(expiry.at)}, the ttl after ${expiry.by} unpinned it`;
    case "ttl":
      return `${isoTime(expiry.at)}, the ttl (${formatTtl(expiry.ttlMs)}) after the last push or redeploy`;
  }
}

/** An app of a pull request with several: its row in full; its expiry, pin, extension and comment its pull request's. */
function appStatusJson(app: Preview, pr: PullRequestRows) {
  return { name: app.app_key, ...statusJson(app, expiryOfApp(app, pr)), pinnedBy: pr.own.pinned_by, ...expiryMoves(pr.own), commentId: pr.own.comment_id };
}

/** What moved the expiry of the row's preview: a pin, an extension, the reminder sent. */
function expiryMoves(p: Preview) {
  return {
    pinnedAt: p.pinned_at === null ? null : isoTime(p.pinned_at),
    extendedUntil: p.extended_until === null ? null : isoTime(p.extended_until),
    extendedBy: p.extended_by,
    remindedFor: p.reminded_for === null ? null : isoTime(p.reminded_for),
  };
}

function statusJson(p: Preview, expiry = expiryOfPreview(p)) {
  return {
    ...previewJson(p, expiry),
    statusAt: isoTime(p.status_at),
    desiredSha: p.desired_sha,
    desiredGeneration: p.desired_generation,
    desiredAt: isoTime(p.desired_at),
    desiredBy: p.desired_by,
    destroyReason: p.destroy_reason,
    observedGeneration: p.observed_generation,
    headSha: p.head_sha,
    headRef: p.head_ref,
    baseRef: p.base_ref,
    checkRunId: p.check_run_id,
    commentId: p.comment_id,
    deploymentId: p.deployment_id,
    paused: p.paused === 1,
    destroyedBy: p.destroyed_by,
    ...expiryMoves(p),
    leaseOwner: p.lease_owner,
    leaseExpiresAt: p.lease_expires_at === null ? null : isoTime(p.lease_expires_at),
    createdAt: isoTime(p.created_at),
  };
}

import { formatTtl } from "../github/markdown.js";
import type { DatabaseRow, Preview } from "../store/store.js";
import { parsePullRequest } from "./args.js";
import { CliError, type CliCommand } from "./command.js";
import { expiryOfPreview, isoTime, previewJson, previewName, statusLabel } from "./format.js";

export const status: CliCommand = {
  name: "status",
  args: ["owner/repo#N"],
  flags: [{ name: "json", help: "a JSON object instead of lines" }],
  summary: "everything fly-preview knows about one preview",
  async run(args, ctx) {
    const { owner, repo, number } = parsePullRequest(args.positionals[0]);
    const store = await ctx.store();
    const preview = await store.get(owner, repo, number);
    if (!preview) throw new CliError(`no preview for ${owner}/${repo}#${number}`);
    const database = await store.databaseOf(preview.id);
    if (args.switches.has("json")) {
      ctx.print(JSON.stringify({ ...statusJson(preview), database: database ? databaseJson(database) : null }, null, 2));
      return;
    }
    const lines = describe(preview, database);
    const width = Math.max(...lines.map(([key]) => key.length)) + 2;
    for (const [key, value] of lines) ctx.print(`${`${key}:`.padEnd(width)}${value}`);
  },
};

/** Where a preview's own database lives, and whether the provider confirmed it: never its URL. */
function databaseText(d: DatabaseRow | undefined): string {
  if (!d) return "none";
  const where = d.provider === "neon" ? `Neon branch ${d.name} of project ${d.home}${d.parent ? `, copied from ${d.parent}` : ""}` : `database ${d.name} on Fly Postgres cluster ${d.home}`;
  return `${where}${d.readyAt === null ? " (asked for, not confirmed)" : ""}`;
}

function databaseJson(d: DatabaseRow) {
  return { provider: d.provider, home: d.home, name: d.name, parent: d.parent, createdAt: isoTime(d.createdAt), ready: d.readyAt !== null };
}

function describe(p: Preview, database: DatabaseRow | undefined): Array<[string, string]> {
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
    ["database", databaseText(database)],
    ["head", `${p.head_sha} (${p.head_ref} → ${p.base_ref})`],
    ["check run", p.check_run_id === null ? "none" : String(p.check_run_id)],
    ["comment", p.comment_id === null ? "none" : String(p.comment_id)],
    ["deployment", p.deployment_id === null ? "none" : String(p.deployment_id)],
    ["last error", p.last_error ?? "none"],
    ["lease", p.lease_owner ? `${p.lease_owner} until ${isoTime(p.lease_expires_at ?? 0)}` : "none"],
    ["expires", expiryText(p)],
    ["paused", p.paused ? `yes, destroyed by ${p.destroyed_by ?? "a command"}: pushes do not redeploy it until /preview redeploy` : "no"],
    ["updated", isoTime(p.updated_at)],
  ];
}

/** When it expires and why, in the comment's terms. */
function expiryText(p: Preview): string {
  const expiry = expiryOfPreview(p);
  if (!expiry) return "no app to expire";
  switch (expiry.kind) {
    case "pinned":
      return `never while the pull request is open: pinned by ${expiry.by}${p.pinned_at === null ? "" : ` at ${isoTime(p.pinned_at)}`}`;
    case "extended":
      return `${isoTime(expiry.at)}, extended by ${expiry.by} (by ${formatTtl(expiry.ms)})`;
    case "unpinned":
      return `${isoTime(expiry.at)}, the ttl after ${expiry.by} unpinned it`;
    case "ttl":
      return `${isoTime(expiry.at)}, the ttl (${formatTtl(expiry.ttlMs)}) after the last push or redeploy`;
  }
}

function statusJson(p: Preview) {
  return {
    ...previewJson(p),
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
    pinnedAt: p.pinned_at === null ? null : isoTime(p.pinned_at),
    extendedUntil: p.extended_until === null ? null : isoTime(p.extended_until),
    extendedBy: p.extended_by,
    remindedFor: p.reminded_for === null ? null : isoTime(p.reminded_for),
    leaseOwner: p.lease_owner,
    leaseExpiresAt: p.lease_expires_at === null ? null : isoTime(p.lease_expires_at),
    createdAt: isoTime(p.created_at),
  };
}

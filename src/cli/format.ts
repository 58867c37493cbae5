import { DEFAULT_TTL_MS } from "../config/index.js";
import { recordedMachineCost, type PriceTable } from "../fly/index.js";
import { formatMoney } from "../github/markdown.js";
import { expiryOf, type Expiry } from "../model/expiry.js";
import type { CostShown } from "../model/pull-request.js";
import type { Preview } from "../store/store.js";

/** Columns padded to their widest cell; the last one is not padded, so it may be long. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (days > 0) return `${days}d ${hours % 24}h`;
  if (hours > 0) return `${hours}h ${minutes % 60}m`;
  return `${minutes}m`;
}

export function previewName(p: Preview): string {
  return `${p.owner}/${p.repo}#${p.number}`;
}

/**
 * The observed status, with what is still to come for a destroy: a destroy that
 * failed leaves a Fly app running (and billed), so it must not read as a plain
 * "failed" deploy.
 */
export function statusLabel(p: Preview): string {
  if (p.desired_action !== "destroy" || p.status === "destroyed") return p.status;
  if (p.desired_generation > p.observed_generation) return `${p.status}, destroy pending`;
  return p.status === "failed" ? "destroy failed" : p.status;
}

/**
 * A pull request as the store holds it: its own row and, with `apps:` in its
 * .preview.yml (docs/monorepos.md), the rows of its apps by name. Its own row then
 * coordinates them and has no Fly app, unless one is left from before the file gained
 * `apps:` (its run destroys it) or is back after it lost them.
 */
export interface PullRequestRows {
  own: Preview;
  apps: Preview[];
}

/** The rows of `rows` by pull request, each where its first row is: the list's order, newest first, kept. */
export function byPullRequest(rows: Preview[]): PullRequestRows[] {
  const groups = new Map<string, { own?: Preview; apps: Preview[] }>();
  for (const row of rows) {
    const key = JSON.stringify([row.owner, row.repo, row.number]);
    const group = groups.get(key) ?? { apps: [] };
    groups.set(key, group);
    if (row.app_key === "") group.own = row;
    else group.apps.push(row);
  }
  // Every app's row is made from its pull request's own, and rows are never deleted: an
  // app without one would be a store written by hand, shown as it is.
  return [...groups.values()].flatMap((g) =>
    g.own ? [{ own: g.own, apps: g.apps.sort((a, b) => (a.app_key < b.app_key ? -1 : 1)) }] : g.apps.map((app) => ({ own: app, apps: [] })),
  );
}

/** The preview's Fly app, when it has one of its own: a pull request with apps has theirs instead. */
export function ownApp(pr: PullRequestRows): string | null {
  return pr.apps.length && pr.own.app_created !== 1 ? null : pr.own.app_name;
}

/** The Fly apps named in a line: `app NAME`, `apps A, B`, or none left. */
export function flyAppsText(names: string[]): string {
  if (!names.length) return "no Fly app left";
  return `${names.length === 1 ? "app" : "apps"} ${names.join(", ")}`;
}

/** A pull request with apps and its own: how it stands. Its own status while it holds its apps back (a gate, its destroy); once it handed them their desires, theirs, counted. */
export function pullRequestStatus(pr: PullRequestRows): string {
  const own = statusLabel(pr.own);
  if (!pr.apps.length || pr.own.status !== "ready") return own;
  const counts = new Map<string, number>();
  for (const app of pr.apps) counts.set(statusLabel(app), (counts.get(statusLabel(app)) ?? 0) + 1);
  const apps = [...counts].map(([label, n]) => `${n} ${label}`).join("; ");
  return own === "ready" ? apps : `${apps}; destroy pending`;
}

/** What the row's machine costs always on, while its Fly app exists (a failed destroy leaves it running) and a deploy recorded its size. */
export function runningCost(p: Preview, prices: PriceTable): CostShown | undefined {
  return p.app_created === 1 ? recordedMachineCost(prices, p) : undefined;
}

/** The COST/MONTH cell: what a running Fly app costs a month, or `-`. */
export function costCell(cost: CostShown | undefined): string {
  return cost ? formatMoney(cost.perMonth, cost.currency) : "-";
}

/** A cost a month in JSON, to the cent; null for no Fly app. */
export function perMonthJson(cost: CostShown | undefined): number | null {
  return cost ? roundMoney(cost.perMonth) : null;
}

export function roundMoney(amount: number): number {
  return Math.round(amount * 100) / 100;
}

const ERROR_WIDTH = 80;

/** An error on one line of a table; `fly-preview status` shows the whole of it. */
export function oneLine(error: string | null): string {
  if (!error) return "";
  const line = error.replace(/\s+/g, " ").trim();
  return line.length > ERROR_WIDTH ? `${line.slice(0, ERROR_WIDTH - 1)}…` : line;
}

export function previewJson(p: Preview, expiry = expiryOfPreview(p)) {
  return {
    repo: `${p.owner}/${p.repo}`,
    number: p.number,
    app: p.app_name,
    status: p.status,
    desired: p.desired_action,
    deployedSha: p.deployed_sha,
    url: p.url,
    lastError: p.last_error,
    pinnedBy: p.pinned_by,
    expiresAt: expiry && expiry.kind !== "pinned" ? isoTime(expiry.at) : null,
    updatedAt: isoTime(p.updated_at),
  };
}

/** An app of a pull request with several, in JSON: it expires with its pull request, whose object says when. */
export function appJson(app: Preview) {
  return {
    name: app.app_key,
    app: app.app_name,
    status: app.status,
    desired: app.desired_action,
    deployedSha: app.deployed_sha,
    url: app.url,
    lastError: app.last_error,
    updatedAt: isoTime(app.updated_at),
  };
}

/** The row holds a Fly app it means to keep. */
const holdsApp = (p: Preview) => p.app_created === 1 && p.desired_action === "deploy";

/**
 * When the preview expires and why; undefined while it has no app to expire (src/model/expiry.ts).
 * A pull request with apps (`apps`, their rows) expires as one, from its own row, while one of them holds a Fly app.
 */
export function expiryOfPreview(p: Preview, apps: Preview[] = []): Expiry | undefined {
  if (p.desired_action !== "deploy" || !(p.app_created === 1 || apps.some(holdsApp))) return undefined;
  return expiryOf(p, p.config_ttl_ms ?? DEFAULT_TTL_MS);
}

/** An app's expiry: its pull request's, while the app holds a Fly app. */
export function expiryOfApp(app: Preview, pr: PullRequestRows): Expiry | undefined {
  return holdsApp(app) ? expiryOfPreview(pr.own, pr.apps) : undefined;
}

/** The list's EXPIRES cell: a time, `pinned by LOGIN`, or `-` for a preview with no app. */
export function expiryCell(expiry: Expiry | undefined): string {
  if (!expiry) return "-";
  return expiry.kind === "pinned" ? `pinned by ${expiry.by}` : isoTime(expiry.at);
}

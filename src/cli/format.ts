import { DEFAULT_TTL_MS } from "../config/index.js";
import { expiryOf, type Expiry } from "../model/expiry.js";
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

export function previewJson(p: Preview) {
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
    expiresAt: expiryJson(p),
    updatedAt: isoTime(p.updated_at),
  };
}

/** When the preview expires and why; undefined while it has no app to expire (src/model/expiry.ts). */
export function expiryOfPreview(p: Preview): Expiry | undefined {
  if (p.desired_action !== "deploy" || p.app_created !== 1) return undefined;
  return expiryOf(p, p.config_ttl_ms ?? DEFAULT_TTL_MS);
}

/** The list's EXPIRES cell: a time, `pinned by LOGIN`, or `-` for a preview with no app. */
export function expiryCell(p: Preview): string {
  const expiry = expiryOfPreview(p);
  if (!expiry) return "-";
  return expiry.kind === "pinned" ? `pinned by ${expiry.by}` : isoTime(expiry.at);
}

function expiryJson(p: Preview): string | null {
  const expiry = expiryOfPreview(p);
  return expiry && expiry.kind !== "pinned" ? isoTime(expiry.at) : null;
}

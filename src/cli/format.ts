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
    updatedAt: isoTime(p.updated_at),
  };
}

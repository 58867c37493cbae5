import { DEFAULT_TTL_MS } from "../config/index.js";
import type { Flyctl } from "../fly/index.js";
import type { Metrics } from "../metrics/metrics.js";
import { expiryOf, reminderLeadMs } from "../model/expiry.js";
import type { SecretStore } from "../secrets/index.js";
import type { Settings } from "../settings.js";
import type { Preview, Store } from "../store/store.js";
import { dropDatabase } from "./database.js";
import { wantedWrite } from "./surfaces.js";

export interface ReaperDeps {
  store: Store;
  flyctl: Flyctl;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  clock?: () => number;
  /** What dropping a Neon branch needs (its API key); without it, only Fly Postgres databases and apps are swept. */
  settings?: Pick<Settings, "neonApiKey" | "neonApiUrl" | "previewDatabases">;
  secrets?: SecretStore;
  metrics?: Metrics;
}

/**
 * A preview the reaper acted on: its Fly app, or for the own row of a pull request with
 * several apps (which has no Fly app of its own, and whose `app` is no Fly app's name)
 * `apps`, the Fly apps the pull request holds.
 */
export interface Reaped {
  app: string;
  apps?: string[];
  repo: string;
  number: number;
}

export interface ReapReport {
  /** Fly apps the store created whose preview should be gone: destroyed (or, dry, would be). */
  orphans: Array<{ app: string; repo: string; number: number; reason: string }>;
  /** Previews whose destroy failed earlier: asked for again. */
  retried: Reaped[];
  /** Previews past their expiry (TTL or extension; pinned ones never): destroy asked for. A pull request with several apps expires as one. */
  expired: Array<Reaped & { idleMs: number }>;
  /** Previews whose expiry is near: reminded (or, dry, would be), once per expiry. */
  reminded: Array<Reaped & { expiresAt: number }>;
  /** Databases fly-preview made whose preview is gone: dropped (or, dry, would be). */
  databases: Array<{ provider: string; home: string; name: string; repo: string; number: number; outcome?: "dropped" | "absent" | "failed" }>;
  /** A dry run that could not list the Fly apps: why, and so orphans were not looked for. */
  orphansUnchecked?: string;
}

// Still exported from here for the modules that import it from the reaper.
export { DEFAULT_TTL_MS };

const settled = (row: Preview) => row.desired_generation === row.observed_generation && row.lease_owner === null;
const gone = (row: Preview) => row.desired_action === "destroy" && row.status === "destroyed" && settled(row);
const where = (row: Preview) => ({ app: row.app_name, repo: `${row.owner}/${row.repo}`, number: row.number });

/**
 * One pass of leak-proof cleanup: retry failed destroys, expire idle previews, and
 * destroy Fly apps the store created but believes gone. An app the store never
 * recorded is never touched, whatever its name. With `dryRun` it only reports.
 */
export async function reap(deps: ReaperDeps, options: { dryRun: boolean }): Promise<ReapReport> {
  const now = (deps.clock ?? Date.now)();
  const report: ReapReport = { orphans: [], retried: [], expired: [], reminded: [], databases: [] };
  const rows = await deps.store.list();
  // A pull request with `apps:` expires as one: its own row (which has no Fly app) holds its
  // activity, pin, extension and comment, and its destroy takes every app with it.
  const pullRequest = (row: Preview) => `${row.owner}/${row.repo}#${row.number}`;
  const withApps = new Set(rows.filter((row) => row.app_key !== "" && row.app_created === 1 && row.desired_action === "deploy").map(pullRequest));
  // Each pull request's app rows: its own row is reported with the Fly apps they hold.
  const appRows = new Map<string, Preview[]>();
  const byKey = [...rows].sort((a, b) => (a.app_key < b.app_key ? -1 : 1));
  for (const row of byKey) if (row.app_key !== "") appRows.set(pullRequest(row), [...(appRows.get(pullRequest(row)) ?? []), row]);
  const reaped = (row: Preview): Reaped => {
    const apps = row.app_key === "" ? appRows.get(pullRequest(row)) : undefined;
    if (!apps) return where(row);
    const holding = [row, ...apps].filter((r) => r.app_created === 1);
    return { ...where(row), apps: holding.map((r) => r.app_name) };
  };

  for (const row of rows) {
    if (!settled(row)) continue;
    if (row.desired_action === "destroy" && row.status === "failed") {
      report.retried.push(reaped(row));
      if (!options.dryRun) await deps.store.redesire(row.id);
    } else if (row.desired_action === "deploy" && row.app_key === "" && (row.app_created === 1 || withApps.has(pullRequest(row)))) {
      const ttlMs = row.config_ttl_ms ?? DEFAULT_TTL_MS;
      const expiry = expiryOf(row, ttlMs);
      if (expiry.kind === "pinned") continue;
      if (now > expiry.at) {
        report.expired.push({ ...reaped(row), idleMs: now - (row.activity_at ?? row.desired_at) });
        if (!options.dryRun) await deps.store.desireDestroy(row.owner, row.repo, row.number, { reason: "expired" });
      } else if (now >= expiry.at - reminderLeadMs(ttlMs) && row.reminded_for !== expiry.at) {
        report.reminded.push({ ...reaped(row), expiresAt: expiry.at });
        if (!options.dryRun) await remind(deps.store, row, expiry.at);
      }
    }
  }

  const byApp = new Map<string, Preview[]>();
  for (const row of rows) byApp.set(row.app_name, [...(byApp.get(row.app_name) ?? []), row]);
  let apps: Awaited<ReturnType<Flyctl["listApps"]>>;
  try {
    apps = await deps.flyctl.listApps();
  } catch (error) {
    // A dry run is a report: what the store alone shows is still worth showing.
    if (!options.dryRun) throw error;
    report.orphansUnchecked = (error as Error).message;
    apps = [];
  }
  for (const app of apps) {
    const holders = byApp.get(app.name) ?? [];
    // Names fold case and punctuation, so two repositories' previews can share one: an
    // app is swept only when none of them still wants it, and only for the row that created it.
    if (!holders.every(gone)) continue;
    const row = holders.find((holder) => holder.app_owner === 1);
    if (!row) continue;
    report.orphans.push({ ...where(row), reason: `preview ${row.destroy_reason ?? "closed"}, but its app still exists` });
    if (!options.dryRun) {
      const outcome = await deps.flyctl.destroyApp(app.name);
      deps.log.info({ ...where(row), outcome }, "orphaned fly app destroyed");
    }
  }
  // Databases after apps: a database is dropped once nothing that used it is left. Only
  // those the store recorded before making them are candidates (src/store/preview-databases.ts).
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const database of await deps.store.databasesToSweep()) {
    const row = byId.get(database.previewId);
    if (!row) continue;
    const entry: ReapReport["databases"][number] = { provider: database.provider, home: database.home, name: database.name, repo: `${row.owner}/${row.repo}`, number: row.number };
    report.databases.push(entry);
    if (options.dryRun) continue;
    try {
      const outcome = await dropDatabase({ store: deps.store, flyctl: deps.flyctl, settings: deps.settings, secrets: deps.secrets, metrics: deps.metrics }, row, database);
      entry.outcome = outcome;
      deps.log.info({ ...where(row), provider: database.provider, name: database.name, outcome }, "left-over database dropped");
    } catch (error) {
      entry.outcome = "failed";
      deps.log.warn({ ...where(row), provider: database.provider, name: database.name, reason: deps.flyctl.redactor.redact((error as Error).message) }, "left-over database not dropped: the next pass tries again");
    }
  }
  if (report.orphans.length || report.retried.length || report.expired.length || report.reminded.length || report.databases.length) {
    const counts = { orphans: report.orphans.length, retried: report.retried.length, expired: report.expired.length, reminded: report.reminded.length };
    deps.log.info({ dryRun: options.dryRun, ...counts }, "reaper pass");
  }
  return report;
}

/**
 * The reminder before the expiry `at`, once: the sticky comment sent again (its reminder
 * line comes from the row), or under `notify: comment` a comment of its own. Both go
 * through the write queue: the reaper writes nothing to GitHub itself.
 */
async function remind(store: Store, row: Preview, at: number): Promise<void> {
  if (!(await store.remind(row.id, at))) return;
  if (row.notify_comment) await store.surfaceWrites.want(wantedWrite(row, row.desired_generation, { surface: "notice", state: { expiresAt: at } }));
  else await store.surfaceWrites.again(row.id, "comment");
}

import type { Octokit } from "../github/octokit.js";
import { pullRequestFromApi } from "../github/pull-request.js";
import type { Preview, Store } from "../store/store.js";

export interface ResyncDeps {
  store: Store;
  github: (installationId: number) => Promise<Octokit>;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  clock?: () => number;
  /**
   * A pull request with a recorded event (or worker write) this recent is left for a
   * later pass: GitHub's API can lag its webhooks, and a stale listing must not undo
   * a newer desire.
   */
  quietMs?: number;
}

/** Long enough for GitHub's API to catch up with its webhooks. */
export const RESYNC_QUIET_MS = 60_000;

export interface ResyncReport {
  repositories: number;
  /** Pull requests whose head moved without a webhook telling us: a deploy of the new head was asked for. */
  pushed: Array<{ repo: string; number: number; sha: string }>;
  /** Pull requests closed without a webhook telling us: their preview's destroy was asked for. */
  closed: Array<{ repo: string; number: number }>;
  /** Repositories GitHub would not list (the next pass tries again). */
  failed: Array<{ repo: string; error: string }>;
}

/**
 * GitHub does not send a webhook again when its delivery failed: while the server
 * restarts, is down, or answers 5xx, pushes and closes are lost. A pass compares each
 * repository that has previews with GitHub's open pull requests and records what was
 * missed: a newer head commit (as a push would) or a closed pull request (as its
 * `closed` event would). It only looks at pull requests the store knows, so installing
 * the App never deploys a repository's old pull requests.
 */
export async function resync(deps: ResyncDeps): Promise<ResyncReport> {
  const clock = deps.clock ?? Date.now;
  const report: ResyncReport = { repositories: 0, pushed: [], closed: [], failed: [] };
  const byRepo = new Map<string, Preview[]>();
  for (const row of await deps.store.list()) {
    if (row.desired_action !== "deploy") continue;
    const key = `${row.installation_id}/${row.owner}/${row.repo}`;
    const group = byRepo.get(key);
    if (group) group.push(row);
    else byRepo.set(key, [row]);
  }

  for (const rows of byRepo.values()) {
    const { installation_id: installationId, owner, repo } = rows[0]!;
    const name = `${owner}/${repo}`;
    report.repositories++;
    try {
      const octokit = await deps.github(installationId);
      // Rows written after this moment may know of events newer than the listing.
      const quietSince = clock() - (deps.quietMs ?? RESYNC_QUIET_MS);
      const open = await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: "open", per_page: 100 });
      const openByNumber = new Map(open.map((pr) => [pr.number, pr]));
      for (const row of rows) {
        const now = await deps.store.getById(row.id);
        if (!now || now.desired_action !== "deploy" || now.updated_at >= quietSince) continue;
        const pr = openByNumber.get(row.number);
        if (pr) {
          if (pr.head.sha === now.head_sha) continue;
          const { changed } = await deps.store.desireDeploy(pullRequestFromApi(installationId, owner, repo, pr));
          if (changed) report.pushed.push({ repo: name, number: row.number, sha: pr.head.sha });
          continue;
        }
        // Not in the list: closed, or opened after it was taken. Ask about this one.
        const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: row.number });
        if (data.state !== "closed") continue;
        const { changed } = await deps.store.desireDestroy(owner, repo, row.number, { reason: "closed" });
        if (changed) report.closed.push({ repo: name, number: row.number });
      }
    } catch (error) {
      report.failed.push({ repo: name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  if (report.pushed.length || report.closed.length || report.failed.length) {
    deps.log.info(
      { repositories: report.repositories, pushed: report.pushed, closed: report.closed, failed: report.failed },
      "resync: recorded what webhooks missed",
    );
  }
  return report;
}

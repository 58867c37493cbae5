import { DEFAULT_TTL_MS } from "../config/index.js";
import {
  bodyHash,
  noticeMarker,
  postOnce,
  renderAppsComment,
  renderComment,
  renderNotice,
  upsertComment,
  type AppRowView,
  type CommentView,
  type ExpiryReminder,
} from "../github/comment.js";
import {
  completeCheckRun,
  createCheckRun,
  findOpenCheckRuns,
  startCheckRun,
  type CheckAction,
  type CheckConclusion,
  type CheckOutput,
} from "../github/check-run.js";
import { createDeployment, findDeployment, setDeploymentState, type DeploymentState } from "../github/deployment.js";
import { formatTtl } from "../github/markdown.js";
import type { Octokit } from "../github/octokit.js";
import { recordedMachineCost, type PriceTable } from "../fly/index.js";
import { expiryOf, type Expiry } from "../model/expiry.js";
import type { Preview, Store, SurfaceIds } from "../store/store.js";

/** What a run wants the sticky comment to say; the rest is filled in when it is sent. */
export type WantedComment = Omit<CommentView, "appName" | "headRef" | "updatedAt" | "checkRunUrl" | "expiry" | "reminder">;

/** The reminder before expiry as a comment of its own (`notify: comment`): the expiry it is about. */
export interface WantedNotice {
  expiresAt: number;
}

const DAY_MS = 86_400_000;

/** The store's record of the commits whose check run may still be in progress. */
export type OpenCheckRuns = Pick<Store, "openCheckRun" | "openCheckRuns" | "checkRunEnded">;

/** What the reporter reads of the store: the open check runs, and a pull request's apps (`apps:`) for its comment. */
export type ReporterStore = OpenCheckRuns & Pick<Store, "appsOf">;

/**
 * The three GitHub surfaces of one preview (sticky comment, check run, deployment),
 * written by the write queue. It remembers ids in the store as soon as GitHub returns
 * them, so a write retried after a crash reuses them instead of creating duplicates,
 * and it skips comment edits that would change nothing visible.
 *
 * Every check run it may leave in progress is recorded (`open_check_runs`) before
 * GitHub is asked to create it and forgotten only once it has ended, so a process
 * that dies at any point leaves a record the next run ends it by.
 */
export class Reporter {
  private checkRunUrl?: string;

  constructor(
    private readonly octokit: Octokit,
    private preview: Preview,
    private readonly save: (patch: SurfaceIds) => Promise<void>,
    private readonly clock: () => number,
    private readonly appId: number,
    private readonly checks: ReporterStore,
    private readonly prices?: PriceTable,
  ) {
    this.checkRunUrl = preview.check_run_url ?? undefined;
  }

  private get repo() {
    return { owner: this.preview.owner, repo: this.preview.repo };
  }

  /** The app of an `apps:` block this row deploys: its check run and deployment are named after it. */
  private get app(): string | undefined {
    return this.preview.app_key || undefined;
  }

  private async remember(patch: SurfaceIds): Promise<void> {
    this.preview = { ...this.preview, ...patch } as Preview;
    await this.save(patch);
  }

  /** The check run of `sha` in progress: reused when this commit already has one. */
  async startCheck(sha: string, output: CheckOutput): Promise<void> {
    const resumed = !(await this.checks.openCheckRun(this.preview.id, sha));
    const known = this.knownCheck(sha) ?? (resumed ? await this.createdBeforeCrash(sha) : undefined);
    if (known) {
      this.checkRunUrl = await startCheckRun(this.octokit, { ...this.repo, id: known }, output);
      await this.rememberCheck(known, sha);
      return;
    }
    const run = await createCheckRun(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id), app: this.app }, output);
    this.checkRunUrl = run.url;
    await this.rememberCheck(run.id, sha);
  }

  private async rememberCheck(id: number, sha: string): Promise<void> {
    if (id === this.preview.check_run_id && this.checkRunUrl === this.preview.check_run_url) return;
    await this.remember({ check_run_id: id, check_run_sha: sha, check_run_url: this.checkRunUrl ?? null });
  }

  /**
   * The check run of `sha` completed: the one it has, or a new one created completed (an
   * invalid config, a fork waiting for approval, a full limit, or a run whose outcome
   * came before its start was sent). Recorded before GitHub is asked to create it, so a
   * process that dies after the create and before saving the id finds it again instead
   * of creating a second one.
   */
  async completedCheck(sha: string, conclusion: CheckConclusion, output: CheckOutput, actions?: CheckAction[]): Promise<void> {
    let known = this.knownCheck(sha);
    if (!known && !(await this.checks.openCheckRun(this.preview.id, sha))) known = await this.createdBeforeCrash(sha, true);
    if (known) {
      await completeCheckRun(this.octokit, { ...this.repo, id: known }, conclusion, output, actions);
      await this.rememberCheck(known, sha);
    } else {
      const where = { ...this.repo, sha, externalId: String(this.preview.id), app: this.app };
      const run = await createCheckRun(this.octokit, where, output, conclusion, actions);
      this.checkRunUrl = run.url;
      await this.rememberCheck(run.id, sha);
    }
    await this.checks.checkRunEnded(this.preview.id, sha);
  }

  /**
   * Ends the check run of `sha` if one may be in progress (a run created it and died,
   * or was stopped before its last word), and forgets it; a commit whose check run was
   * never asked for gets none. It is looked up on GitHub, not by the id in the store:
   * the process may have died before saving it, and one already completed keeps its outcome.
   */
  async endOpenCheck(sha: string, conclusion: CheckConclusion, output: CheckOutput): Promise<void> {
    if (!(await this.checks.openCheckRuns(this.preview.id)).includes(sha)) return;
    const open = await findOpenCheckRuns(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id), appId: this.appId, app: this.app });
    for (const run of open) await completeCheckRun(this.octokit, { ...this.repo, id: run.id }, conclusion, output);
    await this.checks.checkRunEnded(this.preview.id, sha);
  }

  private knownCheck(sha: string): number | undefined {
    return this.preview.check_run_sha === sha && this.preview.check_run_id ? this.preview.check_run_id : undefined;
  }

  /**
   * The check run of `sha` a process that died before saving its id had created, if
   * GitHub has one in progress (with `completed`, or completed: it may have been created so).
   */
  private async createdBeforeCrash(sha: string, completed = false): Promise<number | undefined> {
    const [newest] = await findOpenCheckRuns(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id), appId: this.appId, app: this.app }, completed);
    if (newest) this.checkRunUrl = newest.url;
    return newest?.id;
  }

  /**
   * The deployment of `sha`, created with no status of its own: GitHub shows it pending
   * until its outcome, and an `in_progress` status would be one more write saying what
   * the check run and the comment already say. Its create goes beside flyctl, so a
   * process killed mid-deploy may have sent it without saving the id: GitHub is asked
   * first (a read, outside the write lane).
   */
  async startDeployment(sha: string): Promise<void> {
    if (this.preview.deployment_id && this.preview.deployment_sha === sha) return;
    const where = { ...this.repo, sha, number: this.preview.number, app: this.app };
    const id = (await findDeployment(this.octokit, { ...where, appId: this.appId })) ?? (await createDeployment(this.octokit, where));
    await this.remember({ deployment_id: id, deployment_sha: sha });
  }

  /**
   * The outcome of the deployment of `sha`, created first when its start was never
   * sent. A commit never deployed has no deployment to mark inactive.
   */
  async endDeployment(sha: string, state: DeploymentState, extra: { environmentUrl?: string; description?: string } = {}) {
    const exists = this.preview.deployment_id && this.preview.deployment_sha === sha;
    if (!exists && state === "inactive") return;
    await this.startDeployment(sha);
    await this.deploymentState(state, extra);
  }

  async deploymentState(state: DeploymentState, extra: { environmentUrl?: string; description?: string } = {}) {
    if (!this.preview.deployment_id) return;
    await setDeploymentState(this.octokit, { ...this.repo, id: this.preview.deployment_id }, state, {
      logUrl: this.preview.check_run_sha === this.preview.deployment_sha ? this.checkRunUrl : undefined,
      ...extra,
    });
  }

  /**
   * The preview's expiry, from its row as it is now (so a pin, an extension or a push
   * since the state was wanted shows). The comment shows it only while an app runs.
   */
  private expiry(): Expiry | undefined {
    if (this.preview.desired_action !== "deploy") return undefined;
    return expiryOf(this.preview, this.ttlMs);
  }

  private get ttlMs(): number {
    return this.preview.config_ttl_ms ?? DEFAULT_TTL_MS;
  }

  /** The reminder the reaper recorded for the current expiry, while that expiry is ahead. */
  private reminder(expiry: Expiry | undefined): (ExpiryReminder & { at: number }) | undefined {
    if (!expiry || expiry.kind === "pinned" || this.preview.reminded_for !== expiry.at) return undefined;
    const leftMs = expiry.at - this.clock();
    if (leftMs <= 0) return undefined;
    // An extension by the TTL (a day at most) passes the reminder, and stays within the cap.
    return { at: expiry.at, leftMs, extendBy: formatTtl(Math.min(this.ttlMs, DAY_MS)) };
  }

  /**
   * The reminder as a comment of its own, posted once. Not at all when the expiry it is
   * about has moved since (a push, an extension, a pin): the sticky comment says what is true.
   */
  async notice(notice: WantedNotice): Promise<void> {
    const reminder = this.reminder(this.expiry());
    if (!reminder || reminder.at !== notice.expiresAt) return;
    const where = { ...this.repo, number: this.preview.number, appId: this.appId };
    await postOnce(this.octokit, where, noticeMarker(reminder.at), renderNotice({ ...reminder, url: this.preview.url ?? undefined }));
  }

  async comment(view: WantedComment): Promise<void> {
    // A pull request with several apps: its one comment is a row per app, read from the
    // apps' own rows now, so it is as new as the last app's run. Its expiry is the pull
    // request's, while one of its apps runs.
    const apps = this.preview.app_key === "" ? await this.checks.appsOf(this.preview.owner, this.preview.repo, this.preview.number) : [];
    const live = this.preview.app_created === 1 || apps.some((app) => app.app_created === 1 && app.desired_action === "deploy");
    const expiry = view.status === "destroyed" || view.status === "blocked" || !live ? undefined : this.expiry();
    const body = apps.length
      ? renderAppsComment({
          ...view,
          // A gate before any app (invalid config, approval, a full limit) or the destroy speaks for all; otherwise the apps do.
          status: view.status === "building" || view.status === "ready" ? undefined : view.status,
          headRef: this.preview.head_ref,
          expiry,
          reminder: this.preview.notify_comment ? undefined : this.reminder(expiry),
          apps: apps.map((app) => appRow(app, view.sha, this.prices)),
          updatedAt: this.clock(),
        })
      : renderComment({
      ...view,
      expiry,
      // With `notify: comment` the reminder is a comment of its own, not an edit.
      reminder: this.preview.notify_comment ? undefined : this.reminder(expiry),
      appName: this.preview.app_name,
      headRef: this.preview.head_ref,
      // The check run of the commit the comment is about; another commit's would mislead.
      checkRunUrl: this.preview.check_run_sha === view.sha ? this.checkRunUrl : undefined,
      updatedAt: this.clock(),
    });
    const hash = bodyHash(body);
    if (this.preview.comment_id && this.preview.comment_body_hash === hash) return;
    const where = { ...this.repo, number: this.preview.number, appId: this.appId };
    const id = await upsertComment(this.octokit, where, this.preview.comment_id, body);
    await this.remember({ comment_id: id, comment_body_hash: hash });
  }
}

/**
 * An app's row in its pull request's comment, from the app's own preview row. `head` is
 * the commit the pull request deploys: an app at rest on an older commit was left alone
 * (its `paths` untouched), so it shows "unchanged".
 */
function appRow(app: Preview, head: string, prices?: PriceTable): AppRowView {
  const settled = app.desired_generation === app.observed_generation;
  let status: AppRowView["status"];
  if (app.status === "building" || app.status === "deploying") status = "building";
  // A new desire not taken up yet, or one the trigger rules held back.
  else if ((!settled && app.desired_action === "deploy") || app.status === "none" || app.status === "skipped") status = "queued";
  // Up, but its postdeploy hook failed: the one way a ready row keeps an error
  // (src/preview/deploy-steps.ts). It stays so, unchanged or not, until a deploy seeds it.
  else if (app.status === "ready" && app.last_error !== null) status = "unseeded";
  else if (app.status === "ready" && app.deployed_sha !== head) status = "unchanged";
  else status = app.status;
  return {
    name: app.app_key,
    appName: app.app_name,
    status: app.desired_action === "destroy" && settled ? "destroyed" : status,
    url: app.url ?? undefined,
    sha: app.deployed_sha ?? app.desired_sha ?? app.head_sha,
    servingSha: app.status === "failed" ? (app.deployed_sha ?? undefined) : undefined,
    reason: status === "failed" || status === "unseeded" ? (app.last_error ?? undefined) : undefined,
    checkRunUrl: app.check_run_url ?? undefined,
    buildMs: app.build_ms ?? undefined,
    cost: prices && recordedMachineCost(prices, app),
  };
}

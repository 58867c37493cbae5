import { bodyHash, renderComment, upsertComment, type CommentView } from "../github/comment.js";
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
import type { Octokit } from "../github/octokit.js";
import type { Preview, PreviewPatch, Store } from "../store/store.js";

/** The store's record of the commits whose check run may still be in progress. */
export type OpenCheckRuns = Pick<Store, "openCheckRun" | "openCheckRuns" | "checkRunEnded">;

/** How a check run left open ends: undefined keeps it open (this run carries it on). */
export type CheckEnd = { conclusion: CheckConclusion; output: CheckOutput } | undefined;

/**
 * The three GitHub surfaces of one preview (sticky comment, check run, deployment),
 * written on behalf of one run. It remembers ids in the store as soon as GitHub
 * returns them, so a run that dies and is retried reuses them instead of creating
 * duplicates, and it skips comment edits that would change nothing visible.
 *
 * Every check run it may leave in progress is recorded (`open_check_runs`) before
 * GitHub is asked to create it and forgotten only once it has ended, so a process
 * that dies at any point leaves a record the next run ends it by.
 */
export class Reporter {
  checkRunUrl?: string;

  constructor(
    private readonly octokit: Octokit,
    private preview: Preview,
    private readonly save: (patch: PreviewPatch) => Promise<void>,
    private readonly clock: () => number,
    private readonly appId: number,
    private readonly checks: OpenCheckRuns,
  ) {}

  private get repo() {
    return { owner: this.preview.owner, repo: this.preview.repo };
  }

  private async remember(patch: PreviewPatch): Promise<void> {
    this.preview = { ...this.preview, ...patch } as Preview;
    await this.save(patch);
  }

  /** The check run of `sha` in progress: reused when this commit already has one. */
  async startCheck(sha: string, output: CheckOutput): Promise<void> {
    const resumed = !(await this.checks.openCheckRun(this.preview.id, sha));
    const known = this.knownCheck(sha) ?? (resumed ? await this.createdBeforeCrash(sha) : undefined);
    if (known) {
      this.checkRunUrl = await startCheckRun(this.octokit, { ...this.repo, id: known }, output);
      if (known !== this.preview.check_run_id) await this.remember({ check_run_id: known, check_run_sha: sha });
      return;
    }
    const run = await createCheckRun(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id) }, output);
    this.checkRunUrl = run.url;
    await this.remember({ check_run_id: run.id, check_run_sha: sha });
  }

  async finishCheck(conclusion: CheckConclusion, output: CheckOutput): Promise<void> {
    if (!this.preview.check_run_id) return;
    await completeCheckRun(this.octokit, { ...this.repo, id: this.preview.check_run_id }, conclusion, output);
    await this.checks.checkRunEnded(this.preview.id, this.preview.check_run_sha!);
  }

  /** A check run that starts finished: an invalid config, a fork waiting for approval, a full limit. */
  async completedCheck(sha: string, conclusion: CheckConclusion, output: CheckOutput, actions?: CheckAction[]): Promise<void> {
    const open = (await this.checks.openCheckRuns(this.preview.id)).includes(sha);
    const known = this.knownCheck(sha) ?? (open ? await this.createdBeforeCrash(sha) : undefined);
    if (known) {
      await completeCheckRun(this.octokit, { ...this.repo, id: known }, conclusion, output, actions);
      if (known !== this.preview.check_run_id) await this.remember({ check_run_id: known, check_run_sha: sha });
    } else {
      const where = { ...this.repo, sha, externalId: String(this.preview.id) };
      const run = await createCheckRun(this.octokit, where, output, conclusion, actions);
      this.checkRunUrl = run.url;
      await this.remember({ check_run_id: run.id, check_run_sha: sha });
    }
    if (open) await this.checks.checkRunEnded(this.preview.id, sha);
  }

  /**
   * Ends the check runs earlier runs of this preview left in progress (they died, or
   * were stopped before their last write), each as `end(itsSha)` says, and forgets
   * them. They are looked up on GitHub, not by the id in the store: the process may
   * have died before saving it, and one already completed must keep its outcome.
   */
  async endOpenChecks(end: (sha: string) => CheckEnd): Promise<void> {
    for (const sha of await this.checks.openCheckRuns(this.preview.id)) {
      const how = end(sha);
      if (!how) continue;
      const open = await findOpenCheckRuns(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id), appId: this.appId });
      for (const run of open) await completeCheckRun(this.octokit, { ...this.repo, id: run.id }, how.conclusion, how.output);
      await this.checks.checkRunEnded(this.preview.id, sha);
    }
  }

  private knownCheck(sha: string): number | undefined {
    return this.preview.check_run_sha === sha && this.preview.check_run_id ? this.preview.check_run_id : undefined;
  }

  /** The check run of `sha` a run that died before saving its id had created, if GitHub has one in progress. */
  private async createdBeforeCrash(sha: string): Promise<number | undefined> {
    const [newest] = await findOpenCheckRuns(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id), appId: this.appId });
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
    const where = { ...this.repo, sha, number: this.preview.number };
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

  async deploymentState(state: DeploymentState, extra: { environmentUrl?: string; logUrl?: string; description?: string } = {}) {
    if (!this.preview.deployment_id) return;
    await setDeploymentState(this.octokit, { ...this.repo, id: this.preview.deployment_id }, state, {
      logUrl: this.checkRunUrl,
      ...extra,
    });
  }

  async comment(view: Omit<CommentView, "appName" | "headRef" | "updatedAt" | "checkRunUrl">): Promise<void> {
    const body = renderComment({
      ...view,
      appName: this.preview.app_name,
      headRef: this.preview.head_ref,
      checkRunUrl: this.checkRunUrl,
      updatedAt: this.clock(),
    });
    const hash = bodyHash(body);
    if (this.preview.comment_id && this.preview.comment_body_hash === hash) return;
    const where = { ...this.repo, number: this.preview.number, appId: this.appId };
    const id = await upsertComment(this.octokit, where, this.preview.comment_id, body);
    await this.remember({ comment_id: id, comment_body_hash: hash });
  }
}

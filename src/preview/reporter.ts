import { bodyHash, renderComment, upsertComment, type CommentView } from "../github/comment.js";
import {
  completeCheckRun,
  createCheckRun,
  startCheckRun,
  type CheckAction,
  type CheckConclusion,
  type CheckOutput,
} from "../github/check-run.js";
import { createDeployment, setDeploymentState, type DeploymentState } from "../github/deployment.js";
import type { Octokit } from "../github/octokit.js";
import type { Preview, PreviewPatch } from "../store/store.js";

/**
 * The three GitHub surfaces of one preview (sticky comment, check run, deployment),
 * written on behalf of one run. It remembers ids in the store as soon as GitHub
 * returns them, so a run that dies and is retried reuses them instead of creating
 * duplicates, and it skips comment edits that would change nothing visible.
 */
export class Reporter {
  checkRunUrl?: string;

  constructor(
    private readonly octokit: Octokit,
    private preview: Preview,
    private readonly save: (patch: PreviewPatch) => Promise<void>,
    private readonly clock: () => number,
    private readonly appId: number,
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
    if (this.preview.check_run_id && this.preview.check_run_sha === sha) {
      this.checkRunUrl = await startCheckRun(this.octokit, { ...this.repo, id: this.preview.check_run_id }, output);
      return;
    }
    const run = await createCheckRun(this.octokit, { ...this.repo, sha, externalId: String(this.preview.id) }, output);
    this.checkRunUrl = run.url;
    await this.remember({ check_run_id: run.id, check_run_sha: sha });
  }

  async finishCheck(conclusion: CheckConclusion, output: CheckOutput): Promise<void> {
    if (!this.preview.check_run_id) return;
    await completeCheckRun(this.octokit, { ...this.repo, id: this.preview.check_run_id }, conclusion, output);
  }

  /** A check run that starts finished: an invalid config, a fork waiting for approval, a full limit. */
  async completedCheck(sha: string, conclusion: CheckConclusion, output: CheckOutput, actions?: CheckAction[]): Promise<void> {
    if (this.preview.check_run_id && this.preview.check_run_sha === sha) {
      await completeCheckRun(this.octokit, { ...this.repo, id: this.preview.check_run_id }, conclusion, output, actions);
      return;
    }
    const where = { ...this.repo, sha, externalId: String(this.preview.id) };
    const run = await createCheckRun(this.octokit, where, output, conclusion, actions);
    this.checkRunUrl = run.url;
    await this.remember({ check_run_id: run.id, check_run_sha: sha });
  }

  async startDeployment(sha: string): Promise<void> {
    if (!(this.preview.deployment_id && this.preview.deployment_sha === sha)) {
      const id = await createDeployment(this.octokit, { ...this.repo, sha, number: this.preview.number });
      await this.remember({ deployment_id: id, deployment_sha: sha });
    }
    await this.deploymentState("in_progress", { logUrl: this.checkRunUrl });
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

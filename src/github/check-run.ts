import { codeBlock, formatDuration, inline, shortSha } from "./markdown.js";
import type { Octokit, RepoRef } from "./octokit.js";

export const CHECK_NAME = "Fly Preview";
// GitHub rejects more than 50 annotations in one request.
const MAX_ANNOTATIONS = 50;

export interface CheckOutput {
  title: string;
  summary: string;
  text?: string;
  annotations?: Array<{
    path: string;
    start_line: number;
    end_line: number;
    annotation_level: "failure" | "warning" | "notice";
    message: string;
  }>;
}

export interface CheckAction {
  label: string; // at most 20 characters
  description: string; // at most 40
  identifier: string; // at most 20
}

// The buttons of a Fly Preview check run; they come back as check_run.requested_action.
export const CHECK_ACTIONS: CheckAction[] = [
  { label: "Redeploy", description: "Deploy this pull request again", identifier: "redeploy" },
  { label: "Destroy", description: "Destroy this preview now", identifier: "destroy" },
];
export const APPROVE_ACTION: CheckAction = { label: "Approve", description: "Deploy this fork's commit", identifier: "approve" };

export type CheckConclusion = "success" | "failure" | "cancelled" | "neutral";

export function startedOutput(appName: string, sha: string): CheckOutput {
  return { title: `Deploying ${shortSha(sha)}`, summary: `Building and deploying \`${shortSha(sha)}\` to the Fly app \`${appName}\`.` };
}

export interface Timings {
  sourceMs?: number;
  deployMs?: number;
  healthMs?: number;
}

/** What a finished run shows beside its summary. */
export interface RunReport {
  appName: string;
  sha: string;
  timings: Timings;
  /** The generated fly.toml, when one was written. It never holds secrets. */
  flyToml?: string;
  tail: string[];
  /** The image deployed without a build, when one was reused. */
  reusedImage?: string;
  /** The config names secrets, and this fork's preview did not get them. */
  secretsWithheld?: boolean;
}

const TAIL_LINES = 50;

function timingTable(t: Timings): string[] {
  const rows: Array<[string, number | undefined]> = [
    ["Source download", t.sourceMs],
    ["Build and deploy", t.deployMs],
    ["Health check", t.healthMs],
  ];
  const present = rows.filter(([, ms]) => ms !== undefined);
  if (!present.length) return [];
  return ["| Phase | Time |", "|---|---|", ...present.map(([phase, ms]) => `| ${phase} | ${formatDuration(ms!)} |`)];
}

function reportText(r: RunReport): string | undefined {
  const parts: string[] = [];
  const timings = timingTable(r.timings);
  if (timings.length) parts.push("### Timings", "", ...timings, "");
  if (r.flyToml) parts.push("### Generated fly.toml", "", codeBlock(r.flyToml.trimEnd(), "toml"), "");
  const tail = r.tail.slice(-TAIL_LINES);
  if (tail.length) {
    parts.push(`<details><summary>flyctl output (last ${tail.length} lines)</summary>`, "", codeBlock(tail.join("\n")), "", "</details>");
  }
  return parts.length ? parts.join("\n") : undefined;
}

function facts(r: RunReport): string[] {
  return [
    `**App:** \`${r.appName}\``,
    `**Commit:** \`${shortSha(r.sha)}\``,
    ...(r.reusedImage ? [`Redeployed the existing image \`${r.reusedImage}\` without a build.`] : []),
    ...(r.secretsWithheld ? ["Secrets were withheld: pull requests from forks get them only under `forks: trusted`."] : []),
  ];
}

export function successOutput(v: RunReport & { url: string }): CheckOutput {
  return {
    title: "Preview ready",
    summary: [`**URL:** ${inline(v.url)}`, ...facts(v)].join("\n"),
    text: reportText(v),
  };
}

/** A failed run's summary starts with the one-line reason. */
export function failureOutput(v: RunReport & { reason: string }): CheckOutput {
  return {
    title: "Preview failed",
    summary: [inline(v.reason), "", ...facts(v)].join("\n"),
    text: reportText(v),
  };
}

/** Why a commit's run was cancelled: a newer commit, a `/preview destroy`, or the PR closing. */
export function supersededOutput(sha: string, newerSha: string | null, destroyedBy?: string | null): CheckOutput {
  const why = newerSha
    ? `\`${shortSha(newerSha)}\` superseded it`
    : destroyedBy
      ? `${inline("@" + destroyedBy)} destroyed the preview with \`/preview destroy\``
      : "the pull request was closed";
  return { title: "Superseded", summary: `\`${shortSha(sha)}\` was not deployed: ${why}.` };
}

export function awaitingApprovalOutput(sha: string): CheckOutput {
  return {
    title: "Waiting for approval",
    summary:
      `This pull request comes from a fork. Someone with write access can press **Approve** or comment \`/preview approve\` to deploy \`${shortSha(sha)}\`. ` +
      "Each new push needs a new approval.",
  };
}

export interface ConfigProblemLike {
  path: string;
  message: string;
  line: number;
}

export function invalidConfigOutput(file: string, problems: ConfigProblemLike[]): CheckOutput {
  return {
    title: `${file} is invalid`,
    summary: [
      `Nothing was deployed: \`${file}\` has ${problems.length === 1 ? "a problem" : `${problems.length} problems`}. Fix ${problems.length === 1 ? "it" : "them"} and push again.`,
      "",
      ...problems.map((p) => `- line ${p.line}: ${inline(p.message)}`),
    ].join("\n"),
    annotations: problems.slice(0, MAX_ANNOTATIONS).map((p) => ({
      path: file,
      start_line: p.line,
      end_line: p.line,
      annotation_level: "failure" as const,
      message: p.message,
    })),
  };
}

/** Creates the check run of a commit: in progress, or already finished when `conclusion` is given. */
export async function createCheckRun(
  octokit: Octokit,
  where: RepoRef & { sha: string; externalId: string },
  output: CheckOutput,
  conclusion?: CheckConclusion,
  actions: CheckAction[] = CHECK_ACTIONS,
): Promise<{ id: number; url: string }> {
  const now = new Date().toISOString();
  const { data } = await octokit.rest.checks.create({
    owner: where.owner,
    repo: where.repo,
    name: CHECK_NAME,
    head_sha: where.sha,
    external_id: where.externalId,
    ...(conclusion ? { status: "completed", conclusion, completed_at: now } : { status: "in_progress", started_at: now }),
    output,
    actions,
  });
  return { id: data.id, url: data.html_url ?? "" };
}

export async function startCheckRun(octokit: Octokit, where: RepoRef & { id: number }, output: CheckOutput): Promise<string> {
  const { data } = await octokit.rest.checks.update({
    owner: where.owner,
    repo: where.repo,
    check_run_id: where.id,
    status: "in_progress",
    output,
  });
  return data.html_url ?? "";
}

export async function completeCheckRun(
  octokit: Octokit,
  where: RepoRef & { id: number },
  conclusion: CheckConclusion,
  output: CheckOutput,
  actions: CheckAction[] = CHECK_ACTIONS,
): Promise<void> {
  await octokit.rest.checks.update({
    owner: where.owner,
    repo: where.repo,
    check_run_id: where.id,
    status: "completed",
    conclusion,
    completed_at: new Date().toISOString(),
    output,
    actions,
  });
}

/**
 * Our check runs of a commit that have not completed, newest first: a run that died
 * between creating one and saving its id finds it again by name and `external_id`.
 * `filter: "all"`, since GitHub's default ("latest") shows only the newest run of a name.
 */
export async function findOpenCheckRuns(
  octokit: Octokit,
  where: RepoRef & { sha: string; externalId: string },
): Promise<Array<{ id: number; url: string }>> {
  const runs = await octokit.paginate(octokit.rest.checks.listForRef, {
    owner: where.owner,
    repo: where.repo,
    ref: where.sha,
    check_name: CHECK_NAME,
    filter: "all",
    per_page: 100,
  });
  return runs
    .filter((run) => run.external_id === where.externalId && run.status !== "completed")
    .sort((a, b) => b.id - a.id)
    .map((run) => ({ id: run.id, url: run.html_url ?? "" }));
}

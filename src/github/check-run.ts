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

export type CheckConclusion = "success" | "failure" | "cancelled" | "neutral";

export function startedOutput(appName: string, sha: string): CheckOutput {
  return { title: `Deploying ${shortSha(sha)}`, summary: `Building and deploying \`${shortSha(sha)}\` to the Fly app \`${appName}\`.` };
}

export interface Timings {
  sourceMs?: number;
  deployMs?: number;
  healthMs?: number;
}

function timingLines(t: Timings): string[] {
  const lines: string[] = [];
  if (t.sourceMs !== undefined) lines.push(`- Source download: ${formatDuration(t.sourceMs)}`);
  if (t.deployMs !== undefined) lines.push(`- Build and deploy: ${formatDuration(t.deployMs)}`);
  if (t.healthMs !== undefined) lines.push(`- Health check: ${formatDuration(t.healthMs)}`);
  return lines;
}

export function successOutput(v: { url: string; appName: string; sha: string; timings: Timings }): CheckOutput {
  return {
    title: "Preview ready",
    summary: [
      `**URL:** ${inline(v.url)}`,
      `**App:** \`${v.appName}\``,
      `**Commit:** \`${shortSha(v.sha)}\``,
      "",
      ...timingLines(v.timings),
    ].join("\n"),
  };
}

export function failureOutput(v: { reason: string; appName: string; sha: string; tail: string[]; timings: Timings }): CheckOutput {
  const summary = [
    inline(v.reason),
    "",
    `**App:** \`${v.appName}\``,
    `**Commit:** \`${shortSha(v.sha)}\``,
    ...(timingLines(v.timings).length ? ["", ...timingLines(v.timings)] : []),
  ].join("\n");
  const tail = v.tail.slice(-50);
  return {
    title: "Preview failed",
    summary,
    text: tail.length ? `Last ${tail.length} lines of flyctl output:\n\n${codeBlock(tail.join("\n"))}` : undefined,
  };
}

export function supersededOutput(sha: string, newerSha: string | null): CheckOutput {
  return newerSha
    ? { title: "Superseded", summary: `\`${shortSha(sha)}\` was not deployed: \`${shortSha(newerSha)}\` superseded it.` }
    : { title: "Superseded", summary: `\`${shortSha(sha)}\` was not deployed: the pull request was closed.` };
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
): Promise<void> {
  await octokit.rest.checks.update({
    owner: where.owner,
    repo: where.repo,
    check_run_id: where.id,
    status: "completed",
    conclusion,
    completed_at: new Date().toISOString(),
    output,
  });
}

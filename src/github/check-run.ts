import type { SlashCommandName } from "../model/slash-commands.js";
import { codeBlock, codeSpan, fitLine, fitText, formatClock, formatDuration, githubLength, inline, shortSha } from "./markdown.js";
import type { Octokit, RepoRef } from "./octokit.js";
import type { DatabaseShown, HookShown } from "../model/pull-request.js";
import { CONFIG_PATH } from "../model/config-file.js";
import { isAppKey } from "../model/app-name.js";
import { databaseLine, hookLine } from "./messages.js";

export const CHECK_NAME = "Fly Preview";
const APP_SEPARATOR = " / ";

/**
 * The name of a check run: "Fly Preview" for a pull request's one app, "Fly Preview / web"
 * for one of several (`apps:` in .preview.yml). GitHub lists a commit's check runs by
 * name, so each app of a commit gets its own line on the pull request, and finding one
 * app's run never finds another's.
 */
export function checkRunName(app?: string): string {
  return app ? `${CHECK_NAME}${APP_SEPARATOR}${app}` : CHECK_NAME;
}

/** Whether a check run's name is one `checkRunName` gives. */
export function isCheckRunName(name: string): boolean {
  return name === CHECK_NAME || (name.startsWith(CHECK_NAME + APP_SEPARATOR) && isAppKey(name.slice(CHECK_NAME.length + APP_SEPARATOR.length)));
}
// GitHub's limits on a check run (docs.github.com/rest/checks/runs): past them it
// answers 422 and the check run is never shown.
const TITLE_MAX = 255;
const OUTPUT_MAX = 65_535; // summary and text, each
const ANNOTATIONS_PER_REQUEST = 50; // more go in further PATCHes, which GitHub appends
const ANNOTATION_MESSAGE_MAX = 65_535; // "64 KB"
// Each request spends a second of the installation's write lane (one write a second)
// and counts against GitHub's ~80 writes a minute: a file with thousands of problems
// gets its first 250 marked, in 5 requests, and the summary says so.
export const MAX_ANNOTATIONS = 250;
// A flyctl line longer than this is cut in the check run's output, so one huge line
// does not push the others out.
const FLYCTL_LINE_MAX = 2_000;

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
  /** At most 20 characters: the command the button runs, under the same permission rule as the comment. */
  identifier: SlashCommandName;
}

// The buttons of a Fly Preview check run; they come back as check_run.requested_action.
// One app's check run of several has the same ones: its `external_id` is that app's
// preview row, which says which app a button is about (an identifier, at most 20
// characters, has no room for an app's name).
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
  generateMs?: number;
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
  /** The preview's own database, when .preview.yml asks for one. */
  database?: DatabaseShown;
  /** The Dockerfile fly-preview generated, the repository having none. */
  generatedDockerfile?: GeneratedDockerfileShown;
  /** The Dockerfile generator's failure: the build context it ran in, and its last lines. */
  generatorFailure?: { context: string; output: string[] };
  /** The postdeploy hook, when it ran in this run, with the last lines it printed (redacted). */
  hook?: HookShown & { tail: string[] };
}

/** A Dockerfile generated for a build, as the check run shows it. */
export interface GeneratedDockerfileShown {
  /** The generator and its version: "@flydotio/dockerfile 0.7.10". */
  generator: string;
  /** Where flyctl found it, relative to the repository root. */
  path: string;
  /** The build context it was generated in (.preview.yml's `context`). */
  context: string;
  text: string;
  /** Other files the generator added to the build context. */
  created: string[];
  /** Where Fly sends the preview's requests: `port` of .preview.yml. */
  port: number;
}

const TAIL_LINES = 50;
// A generated Dockerfile is a few KB; one swollen by its instructions is shown in part,
// so the flyctl output after it keeps its room.
const DOCKERFILE_SHOWN_MAX = 30_000;

function timingTable(t: Timings): string[] {
  const rows: Array<[string, number | undefined]> = [
    ["Source download", t.sourceMs],
    ["Dockerfile generation", t.generateMs],
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
  if (r.generatedDockerfile) parts.push(...generatedDockerfileSection(r.generatedDockerfile), "");
  if (r.flyToml) parts.push("### Generated fly.toml", "", codeBlock(r.flyToml.trimEnd(), "toml"), "");
  if (r.generatorFailure) parts.push(...generatorFailureSection(r.generatorFailure), "");
  const tail = r.tail.slice(-TAIL_LINES).map((line) => fitLine(line, FLYCTL_LINE_MAX));
  if (tail.length) {
    parts.push(`<details><summary>flyctl output (last ${tail.length} lines)</summary>`, "", codeBlock(tail.join("\n")), "", "</details>");
  }
  const hookTail = (r.hook?.tail ?? []).slice(-TAIL_LINES).map((line) => fitLine(line, FLYCTL_LINE_MAX));
  if (r.hook && hookTail.length) {
    parts.push("", `<details><summary>${r.hook.name} output (last ${hookTail.length} lines)</summary>`, "", codeBlock(hookTail.join("\n")), "", "</details>");
  }
  if (!parts.length) return undefined;
  return fitText(parts.join("\n"), OUTPUT_MAX, { rest: "the server logs every flyctl line at LOG_LEVEL=debug" });
}

/** The generated Dockerfile, folded, and how to make it the repository's own. */
function generatedDockerfileSection(g: GeneratedDockerfileShown): string[] {
  const lines = g.text.trimEnd().split("\n");
  let shown = 0;
  for (let bytes = 0; shown < lines.length && bytes + githubLength(lines[shown]!) + 1 <= DOCKERFILE_SHOWN_MAX; shown++) {
    bytes += githubLength(lines[shown]!) + 1;
  }
  const also = g.created.length ? ` It also wrote ${g.created.map(codeSpan).join(", ")} into the build context for this build.` : "";
  return [
    "### Generated Dockerfile",
    "",
    `The repository has no ${codeSpan(g.path)}, so fly-preview generated one from ${codeSpan("package.json")} with ${g.generator}, Fly's Dockerfile generator.${also} ` +
      `To build the same way every time, and to change it, commit it: save the Dockerfile below as ${codeSpan(g.path)}, or ${generatorCommand(g.context)}. ` +
      "A Dockerfile in the repository is always built as it is.",
    ...portHint(g),
    "",
    `<details><summary>Dockerfile (${lines.length} lines)</summary>`,
    "",
    codeBlock(lines.slice(0, shown).join("\n"), "dockerfile"),
    ...(shown < lines.length ? ["", `The first ${shown} of ${lines.length} lines; ${codeSpan("npx @flydotio/dockerfile")} writes all of them.`] : []),
    "",
    "</details>",
  ];
}

/**
 * The generator picks the app's port (3000 for most Node.js apps) and sets no PORT for
 * the app to read; Fly sends requests to .preview.yml's `port`. When they differ, the
 * preview most likely fails its health check: say which to change.
 */
function portHint(g: GeneratedDockerfileShown): string[] {
  const exposed = Number(/^EXPOSE (\d+)\s*$/m.exec(g.text)?.[1] ?? g.port);
  if (exposed === g.port) return [];
  return [
    "",
    `The generated Dockerfile expects the app to listen on port ${exposed} (${codeSpan(`EXPOSE ${exposed}`)}), and Fly sends requests to ${codeSpan("port")} in ${codeSpan(CONFIG_PATH)}, ${g.port}: ` +
      `set ${codeSpan(`port: ${exposed}`)} there, or have the app listen on ${g.port}.`,
  ];
}

/** What to do when the generator failed, and what it said. */
function generatorFailureSection(f: { context: string; output: string[] }): string[] {
  const output = f.output.map((line) => fitLine(line, FLYCTL_LINE_MAX));
  return [
    "### No Dockerfile",
    "",
    `Add a Dockerfile to the repository: write one, or ${generatorCommand(f.context)}, where you can see what it needs.`,
    ...(output.length
      ? ["", `<details><summary>Dockerfile generator output (last ${output.length} lines)</summary>`, "", codeBlock(output.join("\n")), "", "</details>"]
      : []),
  ];
}

/** How to run Fly's generator for the build context `context` and use what it writes. */
function generatorCommand(context: string): string {
  const run = codeSpan("npx @flydotio/dockerfile");
  return context === "."
    ? `run ${run} at the repository's root and commit the ${codeSpan("Dockerfile")} it writes`
    : `run ${run} in ${codeSpan(context)}, commit the ${codeSpan("Dockerfile")} it writes there and name it with ${codeSpan(`dockerfile: ${context}/Dockerfile`)} in ${codeSpan(CONFIG_PATH)}`;
}

function facts(r: RunReport): string[] {
  return [
    `**App:** \`${r.appName}\``,
    `**Commit:** \`${shortSha(r.sha)}\``,
    ...(r.reusedImage ? [`Redeployed the existing image \`${r.reusedImage}\` without a build.`] : []),
    ...(r.secretsWithheld ? ["Secrets were withheld: pull requests from forks get them only under `forks: trusted`."] : []),
    ...(r.database ? [`**Database:** ${databaseLine(r.database)}`] : []),
    ...(r.generatedDockerfile ? [`**Dockerfile:** generated with ${r.generatedDockerfile.generator}; the repository has none (see below).`] : []),
    ...(r.hook ? [hookLine(r.hook, codeSpan, inline)] : []),
  ];
}

export function successOutput(v: RunReport & { url: string }): CheckOutput {
  return {
    title: "Preview ready",
    summary: [`**URL:** ${inline(v.url)}`, ...facts(v)].join("\n"),
    text: reportText(v),
  };
}

/**
 * The deploy is up, but its postdeploy hook failed: the check run fails (the preview is
 * not seeded), while the deployment stays a success (the app serves).
 */
export function postdeployFailedOutput(v: RunReport & { url: string; hook: HookShown & { tail: string[] } }): CheckOutput {
  return {
    title: "Preview up, but postdeploy failed",
    summary: [
      `The preview is up at ${inline(v.url)}, but not seeded: its postdeploy hook failed. It runs again after the next deploy; \`/preview redeploy --fresh\` runs it now.`,
      "",
      `**URL:** ${inline(v.url)}`,
      ...facts(v),
    ].join("\n"),
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

/** A run that Fly.io failed for a passing reason: it stays in progress until its next attempt at `at`. */
export function retryingOutput(v: RunReport & { reason: string; at: number }): CheckOutput {
  return {
    title: `Fly.io is failing; trying again at ${formatClock(v.at)}`,
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

/** A commit the run deployed nothing for, and why (no config, the trigger rules, forks: off). */
export function notDeployedOutput(reason: string): CheckOutput {
  return { title: "Not deployed", summary: inline(reason) };
}

/** A commit waiting for a preview slot: which limit is full. */
export function waitingForSlotOutput(reason: string): CheckOutput {
  return { title: "Waiting for a free slot", summary: inline(reason) };
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
  const count = problems.length === 1 ? "a problem" : `${problems.length.toLocaleString("en-US")} problems`;
  const marked = problems.length > MAX_ANNOTATIONS ? ` The first ${MAX_ANNOTATIONS} are marked on the file.` : "";
  return {
    title: `${file} is invalid`,
    summary: fitText(
      [
        `Nothing was deployed: \`${file}\` has ${count}. Fix ${problems.length === 1 ? "it" : "them"} and push again.${marked}`,
        "",
        ...problems.map((p) => `- line ${p.line}: ${inline(p.message)}`),
      ].join("\n"),
      OUTPUT_MAX,
      { unit: ["problem", "problems"] },
    ),
    annotations: problems.slice(0, MAX_ANNOTATIONS).map((p) => ({
      path: file,
      start_line: p.line,
      end_line: p.line,
      annotation_level: "failure" as const,
      message: p.message,
    })),
  };
}

/** The output cut to GitHub's limits, and its annotations in requests of at most 50. */
function fitOutput(output: CheckOutput): { first: CheckOutput; more: CheckOutput[] } {
  const fitted = {
    title: fitLine(output.title, TITLE_MAX),
    summary: fitText(output.summary, OUTPUT_MAX),
    ...(output.text === undefined ? {} : { text: fitText(output.text, OUTPUT_MAX) }),
  };
  const annotations = (output.annotations ?? []).map((a) => ({ ...a, message: fitLine(a.message, ANNOTATION_MESSAGE_MAX) }));
  const batches: CheckOutput[] = [];
  for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) {
    batches.push({ ...fitted, annotations: annotations.slice(i, i + ANNOTATIONS_PER_REQUEST) });
  }
  const [first = fitted, ...more] = batches;
  return { first, more };
}

/** Annotations past the first 50: each further PATCH carries the same output and 50 more. */
async function sendMoreAnnotations(octokit: Octokit, where: RepoRef & { id: number }, more: CheckOutput[]): Promise<void> {
  for (const output of more) {
    await octokit.rest.checks.update({ owner: where.owner, repo: where.repo, check_run_id: where.id, output });
  }
}

/**
 * Creates the check run of a commit: in progress, or already finished when `conclusion`
 * is given. `app` is the app's name when the pull request has several (`checkRunName`).
 */
export async function createCheckRun(
  octokit: Octokit,
  where: RepoRef & { sha: string; externalId: string; app?: string },
  output: CheckOutput,
  conclusion?: CheckConclusion,
  actions: CheckAction[] = CHECK_ACTIONS,
): Promise<{ id: number; url: string }> {
  const now = new Date().toISOString();
  const { first, more } = fitOutput(output);
  const { data } = await octokit.rest.checks.create({
    owner: where.owner,
    repo: where.repo,
    name: checkRunName(where.app),
    head_sha: where.sha,
    external_id: where.externalId,
    ...(conclusion ? { status: "completed", conclusion, completed_at: now } : { status: "in_progress", started_at: now }),
    output: first,
    actions,
  });
  await sendMoreAnnotations(octokit, { ...where, id: data.id }, more);
  return { id: data.id, url: data.html_url ?? "" };
}

export async function startCheckRun(octokit: Octokit, where: RepoRef & { id: number }, output: CheckOutput): Promise<string> {
  const { first, more } = fitOutput(output);
  const { data } = await octokit.rest.checks.update({
    owner: where.owner,
    repo: where.repo,
    check_run_id: where.id,
    status: "in_progress",
    output: first,
  });
  await sendMoreAnnotations(octokit, where, more);
  return data.html_url ?? "";
}

export async function completeCheckRun(
  octokit: Octokit,
  where: RepoRef & { id: number },
  conclusion: CheckConclusion,
  output: CheckOutput,
  actions: CheckAction[] = CHECK_ACTIONS,
): Promise<void> {
  const { first, more } = fitOutput(output);
  await octokit.rest.checks.update({
    owner: where.owner,
    repo: where.repo,
    check_run_id: where.id,
    status: "completed",
    conclusion,
    completed_at: new Date().toISOString(),
    output: first,
    actions,
  });
  await sendMoreAnnotations(octokit, where, more);
}

/**
 * Our check runs of a commit that have not completed (with `completed`, all of them),
 * newest first: a process that died between creating one and saving its id finds it
 * again by name and `external_id`. `filter: "all"`, since GitHub's default ("latest")
 * shows only the newest run of a name. With `app`, that app's runs (`checkRunName`);
 * its preview row, and so `external_id`, is its own too.
 */
export async function findOpenCheckRuns(
  octokit: Octokit,
  where: RepoRef & { sha: string; externalId: string; appId: number; app?: string },
  completed = false,
): Promise<Array<{ id: number; url: string }>> {
  const runs = await octokit.paginate(octokit.rest.checks.listForRef, {
    owner: where.owner,
    repo: where.repo,
    ref: where.sha,
    check_name: checkRunName(where.app),
    // Another App's run of the same name (a second installation of fly-preview, say)
    // is not ours to end, and GitHub would refuse the update anyway.
    app_id: where.appId,
    filter: "all",
    per_page: 100,
  });
  return runs
    .filter((run) => run.external_id === where.externalId && (completed || run.status !== "completed"))
    .sort((a, b) => b.id - a.id)
    .map((run) => ({ id: run.id, url: run.html_url ?? "" }));
}

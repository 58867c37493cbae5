// A small stateful fake of the GitHub REST API: the endpoints fly-preview calls,
// answering with the shapes GitHub uses. Reached through GHE_HOST/GHE_PROTOCOL (base
// URL http://127.0.0.1:PORT/api/v3), so it serves in-process tests and child
// processes alike.
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as tar from "tar";

export interface RecordedRequest {
  method: string;
  path: string;
  body: any;
  at: number;
}

/** The GitHub App a comment was written through, as GitHub reports it. */
export interface AppRef {
  id: number;
  slug: string;
}

export interface Comment {
  id: number;
  issue: string; // "owner/repo#number"
  body: string;
  user: { login: string; type: string };
  performed_via_github_app: AppRef | null;
}

export interface CheckRun {
  id: number;
  repo: string;
  name: string;
  head_sha: string;
  external_id?: string;
  status: string;
  conclusion?: string | null;
  output?: { title?: string; summary?: string; text?: string; annotations?: any[] };
  /** The App that created it (only that App may update it); absent in a test's own rows: the fake's App. */
  app?: AppRef;
  /** Every state it was in; `seq` orders writes across all check runs. */
  history: Array<{ status: string; conclusion?: string | null; seq: number }>;
}

export interface Deployment {
  id: number;
  repo: string;
  ref: string;
  environment: string;
  transient_environment?: boolean;
  production_environment?: boolean;
  /** The App that created it, as GitHub reports on deployments an App creates. */
  performed_via_github_app?: AppRef;
  statuses: Array<{ state: string; environment_url?: string; description?: string }>;
}

export interface PullRequestState {
  headSha: string;
  headRef?: string;
  baseRef?: string;
  state?: "open" | "closed";
  draft?: boolean;
  labels?: string[];
  /** The head branch's repository, when it is a fork. */
  headRepo?: string;
}

export interface Reaction {
  commentId: number;
  content: string;
}

export interface FakeGitHub {
  url: string; // http://127.0.0.1:PORT
  host: string; // 127.0.0.1:PORT, for GHE_HOST
  requests: RecordedRequest[];
  comments: Comment[];
  checkRuns: CheckRun[];
  deployments: Deployment[];
  reactions: Reaction[];
  /** What `pulls.get` answers for `owner/repo#number`. */
  setPull(repo: string, number: number, pr: PullRequestState): void;
  /** The repository's default branch (`repos.get`, and `base.repo` of pull requests); default "master", as in the fixtures. */
  setDefaultBranch(repo: string, branch: string): void;
  /** A user's permission on a repository: admin, write, read or none (default read). */
  setPermission(repo: string, user: string, permission: "admin" | "maintain" | "write" | "triage" | "read" | "none"): void;
  /**
   * The files of `owner/repo` at commit `sha`, and optionally its parents: `[]` for a
   * root commit; left out, its history is unknown (see the compare endpoint).
   */
  setCommit(repo: string, sha: string, files: Record<string, string>, parents?: string[]): void;
  /** A comment already on `owner/repo#number`, written through another App (or by a person, with `by: null`). */
  seedComment(issue: string, body: string, by: AppRef | null): Comment;
  /**
   * Makes the next `count` requests matching method+path prefix fail with `status`,
   * and optionally GitHub's `message` and headers (`retry-after` of a rate limit).
   */
  failNext(method: string, pathPrefix: string, status: number, count?: number, answer?: { message?: string; headers?: Record<string, string> }): void;
  /** Makes the next `count` requests matching method+path prefix answer `ms` late. */
  delayNext(method: string, pathPrefix: string, ms: number, count?: number): void;
  /**
   * Deletes an installation: GitHub then answers 404 to its token requests (POST
   * /app/installations/{id}/access_tokens, "Create an installation access token for an
   * app", documents 404 for an installation that does not exist).
   */
  removeInstallation(id: number): void;
  /**
   * Once, when a request matching method, path prefix and `match` (on its JSON body)
   * arrives: runs `hook` (a test kills its client there) before answering, then drops
   * the answer. With `carryOut` (the default) the request takes effect first, as when
   * a client dies between GitHub acting and the answer arriving; without, it never does.
   */
  /**
   * The public half of the App's private key. Once set, `GET /app` and `GET
   * /app/hook/config` check the App JWT as GitHub does, and answer 401 to one signed
   * with another key or issued for another App; unset, any JWT passes.
   */
  setAppPublicKey(pem: string): void;
  /** The App's webhook URL, as `GET /app/hook/config` reports it. */
  setHookUrl(url: string): void;
  onRequest(
    method: string,
    pathPrefix: string,
    hook: () => void | Promise<void>,
    options?: { carryOut?: boolean; match?: (body: any) => boolean },
  ): void;
  close(): Promise<void>;
}

// GitHub's limits on what an App writes; past them it answers 422 (docs.github.com/rest,
// and the errors real clients have met: see checkRunProblems and commentProblem).
const CHECK_TITLE_MAX = 255;
const CHECK_OUTPUT_MAX = 65_535; // summary and text: counted in UTF-8 bytes (github/docs#35252)
const ANNOTATIONS_PER_REQUEST = 50;
const ACTIONS_MAX = 3;
const ACTION_FIELD_MAX = { label: 20, description: 40, identifier: 20 } as const;
const COMMENT_MAX = 65_536; // characters (code points)

const checkRunDocs = "https://docs.github.com/rest/checks/runs#create-a-check-run";

/** GitHub's 422 for a check run past its limits, or undefined when it is within them. */
function checkRunProblem(body: any): { message: string; errors?: unknown[]; documentation_url: string } | undefined {
  const output = body?.output;
  // Array lengths are checked by GitHub's request schema: "Invalid request." with the
  // schema's words (as reported in qiniu/reviewbot#258 and stoplightio/spectral-action#334).
  if (Array.isArray(output?.annotations) && output.annotations.length > ANNOTATIONS_PER_REQUEST) {
    return {
      message: `Invalid request.\n\nNo more than ${ANNOTATIONS_PER_REQUEST} items are allowed; ${output.annotations.length} were supplied.`,
      documentation_url: checkRunDocs,
    };
  }
  if (Array.isArray(body?.actions) && body.actions.length > ACTIONS_MAX) {
    return { message: `Invalid request.\n\nNo more than ${ACTIONS_MAX} items are allowed; ${body.actions.length} were supplied.`, documentation_url: checkRunDocs };
  }
  for (const action of body?.actions ?? []) {
    for (const [field, max] of Object.entries(ACTION_FIELD_MAX)) {
      const value = String(action[field] ?? "");
      // Wording not confirmed against GitHub; the 422 and the limits are documented.
      if ([...value].length > max) {
        return { message: `Invalid request.\n\nFor 'properties/${field}', "${value}" is too long (maximum is ${max} characters).`, documentation_url: checkRunDocs };
      }
    }
  }
  // Field lengths are model validations: "Validation Failed" with one error per field,
  // as in github/docs#35252 ("summary exceeds a maximum bytesize of 65535").
  const errors: unknown[] = [];
  if (output?.title !== undefined && [...String(output.title)].length > CHECK_TITLE_MAX) {
    errors.push({ resource: "CheckRun", code: "custom", field: "title", message: `title is too long (maximum is ${CHECK_TITLE_MAX} characters)` });
  }
  for (const field of ["summary", "text"] as const) {
    if (output?.[field] !== undefined && Buffer.byteLength(String(output[field]), "utf8") > CHECK_OUTPUT_MAX) {
      errors.push({ resource: "CheckRun", code: "custom", field, message: `${field} exceeds a maximum bytesize of ${CHECK_OUTPUT_MAX}` });
    }
  }
  return errors.length ? { message: "Validation Failed", errors, documentation_url: checkRunDocs } : undefined;
}

/** GitHub's 422 for a comment body past its limit (as danger/danger#424 and others met it). */
function commentProblem(body: any): { message: string; errors: unknown[]; documentation_url: string } | undefined {
  if ([...String(body?.body ?? "")].length <= COMMENT_MAX) return undefined;
  return {
    message: "Validation Failed",
    errors: [{ resource: "IssueComment", code: "custom", field: "body", message: `body is too long (maximum is ${COMMENT_MAX} characters)` }],
    documentation_url: "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
  };
}

/**
 * `app` is the GitHub App the fake answers as (the harness's Probot has appId 1): the
 * comments it writes carry it in `performed_via_github_app`, as GitHub's do.
 */
export async function startFakeGitHub(app: AppRef = { id: 1, slug: "fly-preview" }): Promise<FakeGitHub> {
  const commits = new Map<string, Record<string, string>>();
  const parentsOf = new Map<string, string[]>();
  const failures: Array<{ method: string; prefix: string; status: number; count: number; message?: string; headers?: Record<string, string> }> = [];
  const delays: Array<{ method: string; prefix: string; ms: number; count: number }> = [];
  const removedInstallations = new Set<string>();
  type Hook = { method: string; prefix: string; hook: () => void | Promise<void>; carryOut: boolean; match?: (body: any) => boolean };
  const hooks: Hook[] = [];
  let nextId = 1000;
  let seq = 0;
  const state = {
    requests: [] as RecordedRequest[],
    comments: [] as Comment[],
    checkRuns: [] as CheckRun[],
    deployments: [] as Deployment[],
    reactions: [] as Reaction[],
  };
  const pulls = new Map<string, PullRequestState>();
  const permissions = new Map<string, string>();
  const defaultBranches = new Map<string, string>();
  const defaultBranch = (repo: string) => defaultBranches.get(repo) ?? "master";
  let base = "";
  let appKey: KeyObject | undefined;
  let hookUrl = "https://fly-preview.example.com/api/github/webhooks";

  // GitHub verifies an App JWT (RS256, `iss` the App id) and answers 401 with this
  // message when it fails (seen from api.github.com for a JWT signed with a key the App
  // does not have).
  function appJwtRejected(req: IncomingMessage): boolean {
    if (!appKey) return false;
    const [header, payload, signature] = (req.headers.authorization ?? "").replace(/^bearer /i, "").split(".");
    if (!header || !payload || !signature) return true;
    const signed = verify("sha256", Buffer.from(`${header}.${payload}`), appKey, Buffer.from(signature, "base64url"));
    const claims = signed ? JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) : undefined;
    return !claims || Number(claims.iss) !== app.id;
  }

  function pullJson(repo: string, number: number, pr: PullRequestState) {
    return {
      number,
      state: pr.state ?? "open",
      draft: pr.draft ?? false,
      head: { sha: pr.headSha, ref: pr.headRef ?? "changes", repo: { full_name: pr.headRepo ?? repo } },
      base: { ref: pr.baseRef ?? "master", repo: { full_name: repo, default_branch: defaultBranch(repo) } },
      labels: (pr.labels ?? []).map((name, i) => ({ id: i + 1, name })),
    };
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  }
  const botUser = (by: AppRef) => ({ login: `${by.slug}[bot]`, type: "Bot" });
  const notFound = (res: ServerResponse) => json(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });

  async function tarball(repo: string, sha: string): Promise<Buffer> {
    const files = commits.get(`${repo}@${sha}`)!;
    const dir = await mkdtemp(join(tmpdir(), "fake-github-"));
    const top = `${repo.replace("/", "-")}-${sha.slice(0, 7)}`;
    try {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(dir, top, path)), { recursive: true });
        await writeFile(join(dir, top, path), content);
      }
      const chunks: Buffer[] = [];
      const stream = tar.c({ gzip: true, cwd: dir, portable: true }, [top]);
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
      return Buffer.concat(chunks);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  // "Compare two commits" (docs.github.com/rest/commits/commits#compare-two-commits):
  // BASE...HEAD between commits set with setCommit, as GitHub answers it: the files
  // changed from the merge base of the two to HEAD, the commits HEAD has that BASE has
  // not, and where HEAD stands ("ahead", "behind", "diverged", "identical").
  // The fake's limits, on purpose:
  // - the history is what setCommit's `parents` say. Two commits whose relation it
  //   cannot find while a walk met a commit whose parents were never set are answered
  //   as if BASE were HEAD's parent ("ahead" by 1, files diffed from BASE), which is what
  //   a test that sets no parents means; with every parent known and no common
  //   ancestor, GitHub's 404 "No common ancestor between …";
  // - the merge base is the first common ancestor of a breadth-first walk from HEAD
  //   (git's for the histories tests draw), renames are found only for identical
  //   content (git also pairs similar files), and additions/deletions count lines
  //   roughly; BASE and HEAD are full SHAs (GitHub also takes refs and short SHAs).
  const COMPARE_DOCS = "https://docs.github.com/rest/commits/commits#compare-two-commits";
  // GitHub lists at most 300 changed files and leaves the rest out silently; without a
  // page parameter, the newest 250 commits.
  const COMPARE_FILES_MAX = 300;
  const COMPARE_COMMITS_MAX = 250;

  /** `sha` and its ancestors through known parents, nearest first; `unknown` when a parent list was never set. */
  function ancestry(repo: string, sha: string): { order: string[]; unknown: boolean } {
    const order: string[] = [];
    const seen = new Set<string>();
    const queue = [sha];
    let unknown = false;
    while (queue.length > 0) {
      const commit = queue.shift()!;
      if (seen.has(commit)) continue;
      seen.add(commit);
      order.push(commit);
      const parents = parentsOf.get(`${repo}@${commit}`);
      if (parents) queue.push(...parents);
      else unknown = true;
    }
    return { order, unknown };
  }

  const blobSha = (content: string) => createHash("sha1").update(`blob ${Buffer.byteLength(content)}\0`).update(content).digest("hex");
  const lineCount = (content: string) => (content === "" ? 0 : content.replace(/\n$/, "").split("\n").length);

  function diffEntries(repo: string, from: Record<string, string>, to: Record<string, string>, head: string) {
    const entry = (filename: string, status: string, content: string, extra: Record<string, unknown> = {}) => ({
      sha: blobSha(content),
      filename,
      status,
      blob_url: `${base}/${repo}/blob/${head}/${filename}`,
      raw_url: `${base}/${repo}/raw/${head}/${filename}`,
      contents_url: `${base}/api/v3/repos/${repo}/contents/${filename}?ref=${head}`,
      ...extra,
    });
    const lines = (added: number, deleted: number) => ({ additions: added, deletions: deleted, changes: added + deleted });
    const removed = Object.keys(from).filter((name) => !(name in to));
    const entries = [];
    for (const name of Object.keys(to)) {
      if (!(name in from)) {
        const renamedFrom = removed.findIndex((old) => from[old] === to[name]);
        if (renamedFrom >= 0) {
          const [old] = removed.splice(renamedFrom, 1);
          entries.push(entry(name, "renamed", to[name], { previous_filename: old, ...lines(0, 0) }));
        } else entries.push(entry(name, "added", to[name], lines(lineCount(to[name]), 0)));
      } else if (from[name] !== to[name]) {
        entries.push(entry(name, "modified", to[name], lines(lineCount(to[name]), lineCount(from[name]))));
      }
    }
    for (const name of removed) entries.push(entry(name, "removed", from[name], lines(0, lineCount(from[name]))));
    return entries.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  }

  function compare(res: ServerResponse, url: URL, repo: string, basehead: string) {
    const [baseSha, headSha, extra] = basehead.split("...");
    if (!baseSha || !headSha || extra !== undefined || !commits.has(`${repo}@${baseSha}`) || !commits.has(`${repo}@${headSha}`)) {
      return json(res, 404, { message: "Not Found", documentation_url: COMPARE_DOCS, status: "404" });
    }
    const ahead = ancestry(repo, headSha);
    const behind = ancestry(repo, baseSha);
    const inBase = new Set(behind.order);
    const inHead = new Set(ahead.order);
    let status: "identical" | "ahead" | "behind" | "diverged";
    let mergeBase: string;
    let aheadCommits = ahead.order.filter((c) => !inBase.has(c));
    let behindCommits = behind.order.filter((c) => !inHead.has(c));
    const common = ahead.order.find((c) => inBase.has(c));
    if (baseSha === headSha) [status, mergeBase] = ["identical", baseSha];
    else if (inHead.has(baseSha)) [status, mergeBase] = ["ahead", baseSha];
    else if (inBase.has(headSha)) [status, mergeBase] = ["behind", headSha];
    else if (common !== undefined) [status, mergeBase] = ["diverged", common];
    else if (ahead.unknown || behind.unknown) {
      [status, mergeBase] = ["ahead", baseSha];
      [aheadCommits, behindCommits] = [[headSha], []];
    } else {
      return json(res, 404, { message: `No common ancestor between ${baseSha} and ${headSha}.`, documentation_url: COMPARE_DOCS, status: "404" });
    }
    const commitJson = (sha: string) => ({
      sha,
      url: `${base}/api/v3/repos/${repo}/commits/${sha}`,
      html_url: `${base}/${repo}/commit/${sha}`,
      commit: { message: `commit ${sha}` },
      parents: (parentsOf.get(`${repo}@${sha}`) ?? []).map((p) => ({ sha: p, url: `${base}/api/v3/repos/${repo}/commits/${p}` })),
    });
    // Oldest first, as GitHub lists them.
    const listed = [...aheadCommits].reverse();
    const paged = url.searchParams.has("per_page") || url.searchParams.has("page");
    const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30));
    const page = Number(url.searchParams.get("page") ?? 1);
    const headers: Record<string, string> = {};
    if (paged && page * perPage < listed.length) {
      const next = new URL(url);
      next.searchParams.set("page", String(page + 1));
      headers.link = `<${next}>; rel="next"`;
    }
    const shown = paged ? listed.slice((page - 1) * perPage, page * perPage) : listed.slice(-COMPARE_COMMITS_MAX);
    const files = diffEntries(repo, commits.get(`${repo}@${mergeBase}`)!, commits.get(`${repo}@${headSha}`)!, headSha).slice(0, COMPARE_FILES_MAX);
    return json(
      res,
      200,
      {
        url: `${base}/api/v3/repos/${repo}/compare/${basehead}`,
        html_url: `${base}/${repo}/compare/${basehead}`,
        permalink_url: `${base}/${repo}/compare/${basehead}`,
        diff_url: `${base}/${repo}/compare/${basehead}.diff`,
        patch_url: `${base}/${repo}/compare/${basehead}.patch`,
        base_commit: commitJson(baseSha),
        merge_base_commit: commitJson(mergeBase),
        status,
        ahead_by: aheadCommits.length,
        behind_by: behindCommits.length,
        total_commits: aheadCommits.length,
        commits: shown.map(commitJson),
        // The files come on the first page only.
        ...(page === 1 ? { files } : {}),
      },
      headers,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: any) {
    const url = new URL(req.url ?? "/", base);
    const path = url.pathname;
    const method = req.method ?? "GET";
    let m: RegExpMatchArray | null;

    const failure = failures.find((f) => f.method === method && path.startsWith(f.prefix) && f.count > 0);
    if (failure) {
      failure.count--;
      return json(res, failure.status, { message: failure.message ?? `fake failure ${failure.status}` }, failure.headers);
    }
    const delay = delays.find((d) => d.method === method && path.startsWith(d.prefix) && d.count > 0);
    if (delay) {
      delay.count--;
      await new Promise((r) => setTimeout(r, delay.ms));
    }

    // "Get the authenticated app" and "Get a webhook configuration for an app"
    // (docs.github.com/rest/apps/apps, /rest/apps/webhooks): both need the App JWT; the
    // secret is never shown, only masked.
    if (method === "GET" && (path === "/api/v3/app" || path === "/api/v3/app/hook/config")) {
      if (appJwtRejected(req)) {
        return json(res, 401, { message: "A JSON web token could not be decoded", documentation_url: "https://docs.github.com/rest" });
      }
      if (path === "/api/v3/app/hook/config") return json(res, 200, { content_type: "json", insecure_ssl: "0", secret: "********", url: hookUrl });
      return json(res, 200, {
        id: app.id,
        slug: app.slug,
        name: app.slug,
        owner: { login: "acme", type: "Organization" },
        html_url: `https://github.com/apps/${app.slug}`,
        events: ["check_run", "issue_comment", "pull_request"],
      });
    }
    if (method === "POST" && (m = path.match(/^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/))) {
      if (removedInstallations.has(m[1])) return notFound(res);
      return json(res, 201, {
        token: `ghs_fake_installation_token_${m[1]}`,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: {},
        repository_selection: "all",
      });
    }
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/))) {
      const files = commits.get(`${m[1]}/${m[2]}@${url.searchParams.get("ref")}`);
      const file = files?.[decodeURIComponent(m[3])];
      if (file === undefined) return notFound(res);
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      return res.end(file);
    }
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/tarball\/(.+)$/))) {
      if (!commits.has(`${m[1]}/${m[2]}@${m[3]}`)) return notFound(res);
      res.writeHead(302, { location: `${base}/codeload/${m[1]}/${m[2]}/legacy.tar.gz/${m[3]}` });
      return res.end();
    }
    if (method === "GET" && (m = path.match(/^\/codeload\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/(.+)$/))) {
      const data = await tarball(`${m[1]}/${m[2]}`, m[3]);
      res.writeHead(200, { "content-type": "application/x-gzip", "content-length": data.length });
      return res.end(data);
    }
    if ((m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/))) {
      const issue = `${m[1]}/${m[2]}#${m[3]}`;
      if (method === "GET") return json(res, 200, state.comments.filter((c) => c.issue === issue));
      if (method === "POST") {
        const problem = commentProblem(body);
        if (problem) return json(res, 422, problem);
        const comment = { id: nextId++, issue, body: body.body, user: botUser(app), performed_via_github_app: app };
        state.comments.push(comment);
        return json(res, 201, { ...comment, html_url: `${base}/${m[1]}/${m[2]}/pull/${m[3]}#issuecomment-${comment.id}` });
      }
    }
    if (method === "PATCH" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/))) {
      const comment = state.comments.find((c) => c.id === Number(m![3]));
      if (!comment) return notFound(res);
      // An App may edit only the comments it wrote; GitHub answers others with this 403.
      if (comment.performed_via_github_app?.id !== app.id) {
        return json(res, 403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest/issues/comments#update-an-issue-comment" });
      }
      const problem = commentProblem(body);
      if (problem) return json(res, 422, problem);
      comment.body = body.body;
      return json(res, 200, comment);
    }
    if ((m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/check-runs(?:\/(\d+))?$/))) {
      const repo = `${m[1]}/${m[2]}`;
      const problem = checkRunProblem(body);
      if (problem) return json(res, 422, problem);
      if (method === "POST" && !m[3]) {
        const run: CheckRun = { id: nextId++, repo, ...body, app, history: [{ status: body.status, conclusion: body.conclusion, seq: seq++ }] };
        state.checkRuns.push(run);
        return json(res, 201, { ...run, html_url: `${base}/${repo}/runs/${run.id}` });
      }
      if (method === "PATCH" && m[3]) {
        const run = state.checkRuns.find((r) => r.id === Number(m![3]));
        if (!run) return notFound(res);
        if ((run.app ?? app).id !== app.id) return json(res, 403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest/checks/runs#update-a-check-run" });
        // Each update's annotations are added to the run's, not put in their place.
        const annotations = [...(run.output?.annotations ?? []), ...(body.output?.annotations ?? [])];
        Object.assign(run, body);
        if (run.output) run.output = { ...run.output, annotations };
        run.history.push({ status: run.status, conclusion: body.conclusion, seq: seq++ });
        return json(res, 200, { ...run, html_url: `${base}/${repo}/runs/${run.id}` });
      }
    }
    // checks.listForRef, for a commit SHA (GitHub also takes a branch or tag name).
    // `check_name` and `status` narrow the list; `filter` is "latest" by default, which
    // keeps only the newest run of each name, "all" keeps every run. Paginated with
    // GitHub's Link header, `{ total_count, check_runs }` on each page.
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)\/check-runs$/))) {
      const repo = `${m[1]}/${m[2]}`;
      const filter = url.searchParams.get("filter") ?? "latest";
      if (!["latest", "all"].includes(filter)) return json(res, 422, { message: "Validation Failed", errors: [{ field: "filter", code: "invalid" }] });
      const name = url.searchParams.get("check_name");
      const status = url.searchParams.get("status");
      const appId = url.searchParams.get("app_id");
      let runs = state.checkRuns.filter(
        (r) =>
          r.repo === repo &&
          r.head_sha === m![3] &&
          (!name || r.name === name) &&
          (!status || r.status === status) &&
          (!appId || (r.app ?? app).id === Number(appId)),
      );
      if (filter === "latest") runs = runs.filter((r) => !runs.some((o) => o.name === r.name && o.id > r.id));
      const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30));
      const page = Number(url.searchParams.get("page") ?? 1);
      const headers: Record<string, string> = {};
      if (page * perPage < runs.length) {
        const next = new URL(url);
        next.searchParams.set("page", String(page + 1));
        headers.link = `<${next}>; rel="next"`;
      }
      const shown = runs.slice((page - 1) * perPage, page * perPage).map((r) => ({ ...r, html_url: `${base}/${repo}/runs/${r.id}` }));
      return json(res, 200, { total_count: runs.length, check_runs: shown }, headers);
    }
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/compare\/(.+)$/))) {
      return compare(res, url, `${m[1]}/${m[2]}`, decodeURIComponent(m[3]));
    }
    if (method === "POST" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/deployments$/))) {
      const deployment: Deployment = { id: nextId++, repo: `${m[1]}/${m[2]}`, ...body, performed_via_github_app: app, statuses: [] };
      state.deployments.push(deployment);
      return json(res, 201, deployment);
    }
    // "List deployments" (docs.github.com/rest/deployments/deployments): filtered by the
    // `sha` and `environment` query parameters, newest first. `ref` is a SHA here (ours
    // always are), so it stands for the commit GitHub resolves it to.
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/deployments$/))) {
      const query = url.searchParams;
      const repo = `${m[1]}/${m[2]}`;
      const found = state.deployments
        .filter((d) => d.repo === repo && (!query.has("sha") || d.ref === query.get("sha")) && (!query.has("environment") || d.environment === query.get("environment")))
        .map(({ statuses: _statuses, ...d }) => ({ ...d, sha: d.ref }))
        .reverse();
      return json(res, 200, found);
    }
    if (method === "POST" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/deployments\/(\d+)\/statuses$/))) {
      const deployment = state.deployments.find((d) => d.id === Number(m![3]));
      if (!deployment) return notFound(res);
      deployment.statuses.push(body);
      return json(res, 201, { id: nextId++, ...body });
    }
    if (method === "POST" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)\/reactions$/))) {
      const reaction = { commentId: Number(m[3]), content: body.content };
      state.reactions.push(reaction);
      return json(res, 201, { id: nextId++, content: body.content, user: { login: "fly-preview[bot]", type: "Bot" } });
    }
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/))) {
      const pr = pulls.get(`${m[1]}/${m[2]}#${m[3]}`);
      if (!pr) return notFound(res);
      return json(res, 200, pullJson(`${m[1]}/${m[2]}`, Number(m[3]), pr));
    }
    // pulls.list: the open pull requests set with setPull, by number, a page at a time
    // with GitHub's Link header.
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls$/))) {
      const repo = `${m[1]}/${m[2]}`;
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      const open = [...pulls.entries()]
        .filter(([key, pr]) => key.startsWith(`${repo}#`) && (pr.state ?? "open") === "open")
        .map(([key, pr]) => pullJson(repo, Number(key.split("#")[1]), pr))
        .sort((a, b) => a.number - b.number);
      const headers: Record<string, string> = {};
      if (page * perPage < open.length) {
        headers.link = `<${base}/api/v3/repos/${repo}/pulls?state=open&per_page=${perPage}&page=${page + 1}>; rel="next"`;
      }
      return json(res, 200, open.slice((page - 1) * perPage, page * perPage), headers);
    }
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)$/))) {
      const repo = `${m[1]}/${m[2]}`;
      return json(res, 200, { name: m[2], full_name: repo, owner: { login: m[1] }, default_branch: defaultBranch(repo), private: false });
    }
    if (method === "GET" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/))) {
      const role = permissions.get(`${m[1]}/${m[2]}:${m[3]}`) ?? "read";
      // GitHub reports maintain as "write" and triage as "read", with the role in role_name.
      const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
      return json(res, 200, { permission, role_name: role, user: { login: m[3] } });
    }
    return notFound(res);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = text ? JSON.parse(text) : undefined;
      const method = req.method ?? "GET";
      state.requests.push({ method, path: req.url ?? "", body, at: Date.now() });
      const pathname = new URL(req.url ?? "/", base).pathname;
      const at = hooks.findIndex((h) => h.method === method && pathname.startsWith(h.prefix) && (!h.match || h.match(body)));
      if (at >= 0) {
        const [hooked] = hooks.splice(at, 1);
        // Carried out (or not), then the answer is held until the hook is done, and dropped.
        res.end = (() => res) as typeof res.end;
        const carried = hooked.carryOut ? handle(req, res, body) : Promise.resolve();
        carried
          .then(() => hooked.hook())
          .finally(() => res.destroy())
          .catch(() => undefined);
        return;
      }
      handle(req, res, body).catch((error) => json(res, 500, { message: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    host: `127.0.0.1:${port}`,
    ...state,
    setPull(repo, number, pr) {
      pulls.set(`${repo}#${number}`, pr);
    },
    setDefaultBranch(repo, branch) {
      defaultBranches.set(repo, branch);
    },
    setPermission(repo, user, permission) {
      permissions.set(`${repo}:${user}`, permission);
    },
    seedComment(issue, text, by) {
      const comment = { id: nextId++, issue, body: text, user: by ? botUser(by) : { login: "octocat", type: "User" }, performed_via_github_app: by };
      state.comments.push(comment);
      return comment;
    },
    setCommit(repo, sha, files, parents) {
      const unknownParent = parents?.find((p) => !commits.has(`${repo}@${p}`));
      if (unknownParent) throw new Error(`fake GitHub: set the parent ${unknownParent} of ${sha} first`);
      commits.set(`${repo}@${sha}`, files);
      if (parents) parentsOf.set(`${repo}@${sha}`, parents);
      else parentsOf.delete(`${repo}@${sha}`);
    },
    failNext(method, prefix, status, count = 1, answer = {}) {
      failures.push({ method, prefix, status, count, ...answer });
    },
    delayNext(method, prefix, ms, count = 1) {
      delays.push({ method, prefix, ms, count });
    },
    removeInstallation(id) {
      removedInstallations.add(String(id));
    },
    setAppPublicKey(pem) {
      appKey = createPublicKey(pem);
    },
    setHookUrl(url) {
      hookUrl = url;
    },
    onRequest(method, prefix, hook, options = {}) {
      hooks.push({ method, prefix, hook, carryOut: options.carryOut ?? true, match: options.match });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

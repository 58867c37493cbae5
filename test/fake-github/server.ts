// A small stateful fake of the GitHub REST API: the endpoints fly-preview calls,
// answering with the shapes GitHub uses. Reached through GHE_HOST/GHE_PROTOCOL (base
// URL http://127.0.0.1:PORT/api/v3), so it serves in-process tests and child
// processes alike.
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

export interface Comment {
  id: number;
  issue: string; // "owner/repo#number"
  body: string;
  user: { login: string; type: string };
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
  /** A user's permission on a repository: admin, write, read or none (default read). */
  setPermission(repo: string, user: string, permission: "admin" | "maintain" | "write" | "triage" | "read" | "none"): void;
  /** The files of `owner/repo` at commit `sha`. */
  setCommit(repo: string, sha: string, files: Record<string, string>): void;
  /** Makes the next `count` requests matching method+path prefix fail with `status`. */
  failNext(method: string, pathPrefix: string, status: number, count?: number): void;
  /**
   * Once, when a request matching method, path prefix and `match` (on its JSON body)
   * arrives: runs `hook` (a test kills its client there) before answering, then drops
   * the answer. With `carryOut` (the default) the request takes effect first, as when
   * a client dies between GitHub acting and the answer arriving; without, it never does.
   */
  onRequest(
    method: string,
    pathPrefix: string,
    hook: () => void | Promise<void>,
    options?: { carryOut?: boolean; match?: (body: any) => boolean },
  ): void;
  close(): Promise<void>;
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const commits = new Map<string, Record<string, string>>();
  const failures: Array<{ method: string; prefix: string; status: number; count: number }> = [];
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
  let base = "";

  function pullJson(repo: string, number: number, pr: PullRequestState) {
    return {
      number,
      state: pr.state ?? "open",
      draft: pr.draft ?? false,
      head: { sha: pr.headSha, ref: pr.headRef ?? "changes", repo: { full_name: pr.headRepo ?? repo } },
      base: { ref: pr.baseRef ?? "master", repo: { full_name: repo } },
      labels: (pr.labels ?? []).map((name, i) => ({ id: i + 1, name })),
    };
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  }
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

  async function handle(req: IncomingMessage, res: ServerResponse, body: any) {
    const url = new URL(req.url ?? "/", base);
    const path = url.pathname;
    const method = req.method ?? "GET";
    let m: RegExpMatchArray | null;

    const failure = failures.find((f) => f.method === method && path.startsWith(f.prefix) && f.count > 0);
    if (failure) {
      failure.count--;
      return json(res, failure.status, { message: `fake failure ${failure.status}` });
    }

    if (method === "POST" && (m = path.match(/^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/))) {
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
        const comment = { id: nextId++, issue, body: body.body, user: { login: "fly-preview[bot]", type: "Bot" } };
        state.comments.push(comment);
        return json(res, 201, { ...comment, html_url: `${base}/${m[1]}/${m[2]}/pull/${m[3]}#issuecomment-${comment.id}` });
      }
    }
    if (method === "PATCH" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/))) {
      const comment = state.comments.find((c) => c.id === Number(m![3]));
      if (!comment) return notFound(res);
      comment.body = body.body;
      return json(res, 200, comment);
    }
    if ((m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/check-runs(?:\/(\d+))?$/))) {
      const repo = `${m[1]}/${m[2]}`;
      if (method === "POST" && !m[3]) {
        const run: CheckRun = { id: nextId++, repo, ...body, history: [{ status: body.status, conclusion: body.conclusion, seq: seq++ }] };
        state.checkRuns.push(run);
        return json(res, 201, { ...run, html_url: `${base}/${repo}/runs/${run.id}` });
      }
      if (method === "PATCH" && m[3]) {
        const run = state.checkRuns.find((r) => r.id === Number(m![3]));
        if (!run) return notFound(res);
        Object.assign(run, body);
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
      let runs = state.checkRuns.filter((r) => r.repo === repo && r.head_sha === m![3] && (!name || r.name === name) && (!status || r.status === status));
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
    if (method === "POST" && (m = path.match(/^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/deployments$/))) {
      const deployment: Deployment = { id: nextId++, repo: `${m[1]}/${m[2]}`, ...body, statuses: [] };
      state.deployments.push(deployment);
      return json(res, 201, deployment);
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
    setPermission(repo, user, permission) {
      permissions.set(`${repo}:${user}`, permission);
    },
    setCommit(repo, sha, files) {
      commits.set(`${repo}@${sha}`, files);
    },
    failNext(method, prefix, status, count = 1) {
      failures.push({ method, prefix, status, count });
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

import { describe, expect, it } from "vitest";
import { failureOutput, invalidConfigOutput, successOutput, supersededOutput } from "../src/github/check-run.js";
import { bodyHash, COMMENT_MARKER, COMMENT_STATUSES, renderComment, renderNotice } from "../src/github/comment.js";
import { aboutDuration, codeBlock, codeSpan, githubLength, inline } from "../src/github/markdown.js";

const base = {
  appName: "pr-7-acme-web",
  sha: "0123456789abcdef0123456789abcdef01234567",
  headRef: "feature/login",
  updatedAt: Date.UTC(2026, 10, 25, 12, 30),
  checkRunUrl: "https://github.com/acme/web/runs/5",
};

describe("the sticky comment", () => {
  it("shows a ready preview with its URL, commit, app, time and check run", () => {
    expect(renderComment({ ...base, status: "ready", url: "https://pr-7-acme-web.fly.dev" })).toMatchInlineSnapshot(`
      "<!-- fly-preview -->
      ### ✅ Preview ready

      | | |
      |---|---|
      | **URL** | [https://pr-7-acme-web.fly.dev](https://pr-7-acme-web.fly.dev) |
      | **Commit** | \`0123456\` on feature/login |
      | **App** | \`pr-7-acme-web\` |
      | **Updated** | 2026-11-25 12:30 UTC |

      [Details in the check run](https://github.com/acme/web/runs/5)"
    `);
  });

  it("shows a failure with its reason, and what still serves", () => {
    const body = renderComment({
      ...base,
      status: "failed",
      url: "https://pr-7-acme-web.fly.dev",
      servingSha: "fedcba9876543210fedcba9876543210fedcba98",
      reason: "The Docker build failed",
    });
    expect(body).toContain("### ❌ Preview failed");
    expect(body).toContain("**Reason:** The Docker build failed");
    expect(body).toContain("The previous deploy (`fedcba9`) is still serving.");
  });

  it("has a headline of its own for every state it can show", () => {
    // The states come from the comment's own table, which its type makes cover every
    // status the comment shows: a new status gets a line here or fails.
    const headlines = Object.fromEntries(COMMENT_STATUSES.map((status) => [status, renderComment({ ...base, status }).split("\n")[1]]));
    expect(headlines).toEqual({
      queued: "### ⏳ Preview queued",
      building: "### 🔨 Building preview",
      ready: "### ✅ Preview ready",
      failed: "### ❌ Preview failed",
      superseded: "### ⏭️ Preview superseded",
      awaiting_approval: "### ⏸️ Preview waiting for approval",
      blocked: "### 🚫 No preview for pull requests from forks",
      limited: "### ⏳ Preview waiting for a free slot",
      destroyed: "### 🗑️ Preview destroyed",
    });
    expect(new Set(Object.values(headlines)).size).toBe(COMMENT_STATUSES.length);
  });

  it("escapes a hostile branch name and error text", () => {
    const body = renderComment({
      ...base,
      status: "failed",
      headRef: "x|y](http://evil)<img src=x>@team",
      reason: "boom\n### injected heading [link](http://evil)",
    });
    expect(body).not.toContain("<img");
    expect(body).not.toContain("](http://evil)");
    expect(body).not.toContain("\n### injected");
    expect(body).not.toContain("@team");
    expect(body).toContain("x\\|y\\]\\(http://evil\\)&lt;img src=x&gt;@\u200bteam");
  });

  it("ignores the timestamp when deciding whether an edit changes anything", () => {
    const a = renderComment({ ...base, status: "ready", url: "https://x.fly.dev" });
    const b = renderComment({ ...base, status: "ready", url: "https://x.fly.dev", updatedAt: base.updatedAt + 60_000 });
    const c = renderComment({ ...base, status: "building" });
    expect(bodyHash(a)).toBe(bodyHash(b));
    expect(bodyHash(a)).not.toBe(bodyHash(c));
  });
});

describe("the check run", () => {
  it("summarises a success with URL, app and commit, and shows timings, fly.toml and the flyctl tail in its text", () => {
    expect(
      successOutput({
        url: "https://pr-7-acme-web.fly.dev",
        appName: "pr-7-acme-web",
        sha: base.sha,
        timings: { sourceMs: 1200, deployMs: 95_000, healthMs: 3000 },
        flyToml: 'app = "pr-7-acme-web"\n',
        tail: ["==> Building image", "Visit your newly deployed app at https://pr-7-acme-web.fly.dev/"],
      }),
    ).toMatchInlineSnapshot(`
      {
        "summary": "**URL:** https://pr-7-acme-web.fly.dev
      **App:** \`pr-7-acme-web\`
      **Commit:** \`0123456\`",
        "text": "### Timings

      | Phase | Time |
      |---|---|
      | Source download | 1s |
      | Build and deploy | 1m 35s |
      | Health check | 3s |

      ### Generated fly.toml

      \`\`\`toml
      app = "pr-7-acme-web"
      \`\`\`

      <details><summary>flyctl output (last 2 lines)</summary>

      \`\`\`
      ==> Building image
      Visit your newly deployed app at https://pr-7-acme-web.fly.dev/
      \`\`\`

      </details>",
        "title": "Preview ready",
      }
    `);
  });

  it("starts a failure's summary with the reason and keeps the last 50 lines of output", () => {
    const tail = Array.from({ length: 80 }, (_, i) => `line ${i}`);
    const out = failureOutput({ reason: "The Docker build failed", appName: "a", sha: base.sha, tail, timings: {} });
    expect(out.text).toContain("<details><summary>flyctl output (last 50 lines)</summary>");
    expect(out.summary.split("\n")[0]).toBe("The Docker build failed");
    expect(out.text).toContain("line 79");
    expect(out.text).toContain("line 30");
    expect(out.text).not.toContain("line 29\n");
  });

  it("fences output so backticks inside cannot close the block", () => {
    expect(codeBlock("a ``` b")).toBe("````\na ``` b\n````");
  });

  it("says what cancelled a run: a newer commit, a destroy command, or the PR closing", () => {
    expect(supersededOutput(base.sha, "fedcba9876543210").summary).toBe("`0123456` was not deployed: `fedcba9` superseded it.");
    expect(supersededOutput(base.sha, null, "octocat").summary).toBe(
      "`0123456` was not deployed: @\u200boctocat destroyed the preview with `/preview destroy`.",
    );
    expect(supersededOutput(base.sha, null).summary).toBe("`0123456` was not deployed: the pull request was closed.");
  });

  it("annotates each config problem at its line", () => {
    const out = invalidConfigOutput(".preview.yml", [{ path: "port", message: "port: must be a whole number", line: 3 }]);
    expect(out.annotations).toEqual([
      { path: ".preview.yml", start_line: 3, end_line: 3, annotation_level: "failure", message: "port: must be a whole number" },
    ]);
    expect(out.summary).toContain("- line 3: port: must be a whole number");
  });

  it("escapes inline text", () => {
    expect(inline("a*b _c FLY_API_TOKEN")).toBe("a\\*b \\_c FLY_API_TOKEN");
  });
});

describe("a preview's own database on its surfaces", () => {
  const view = {
    status: "ready" as const,
    appName: "pr-7-acme-web",
    sha: "a".repeat(40),
    headRef: "feature",
    url: "https://pr-7-acme-web.fly.dev",
    updatedAt: Date.UTC(2026, 11, 2, 12),
  };

  it("the comment names a Neon branch, its parent, and how to reset it", () => {
    const body = renderComment({ ...view, database: { provider: "neon", name: "preview/pr-7", parent: "main" } });
    expect(body).toContain("| **Database** | Neon branch `preview/pr-7` of `main`; `/preview reset-db` starts it afresh |");
  });

  it("a fork's branch says it holds no data, and a Fly Postgres database names its cluster", () => {
    expect(renderComment({ ...view, database: { provider: "neon", name: "preview/pr-7", parent: "main", schemaOnly: true } })).toContain(
      "(schema only: a fork gets none of its data)",
    );
    const out = successOutput({ appName: view.appName, sha: view.sha, timings: {}, tail: [], url: view.url, database: { provider: "fly_postgres", name: "pr_7_acme_web", parent: "acme-preview-db" } });
    expect(out.summary).toContain("**Database:** database `pr_7_acme_web` on the Fly Postgres cluster `acme-preview-db`");
  });

  it("a destroyed preview's comment no longer shows the database", () => {
    const body = renderComment({ ...view, status: "destroyed", database: { provider: "neon", name: "preview/pr-7", parent: "main" } });
    expect(body).not.toContain("Database");
  });
});

describe("a generated Dockerfile on its surfaces", () => {
  const generated = { generator: "@flydotio/dockerfile 0.7.10", path: "Dockerfile", context: ".", text: "FROM node:22-slim\nEXPOSE 8080\nCMD [ \"npm\", \"run\", \"start\" ]\n", created: [], port: 8080 };
  const run = { appName: "pr-7-acme-web", sha: base.sha, timings: {}, tail: ["Visit your newly deployed app"], url: "https://pr-7-acme-web.fly.dev" };

  it("the check run folds it, and fences it so the Dockerfile's own backticks cannot close the block", () => {
    const text = successOutput({ ...run, generatedDockerfile: { ...generated, text: "FROM node\nRUN echo ```\n" } }).text!;
    expect(text).toContain("<details><summary>Dockerfile (2 lines)</summary>\n\n````dockerfile\nFROM node\nRUN echo ```\n````\n\n</details>");
  });

  it("a huge one is shown in part, and the rest of the check run keeps its room under GitHub's limit", () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `RUN echo step ${i}`);
    const out = successOutput({ ...run, generatedDockerfile: { ...generated, text: lines.join("\n") } });
    expect(githubLength(out.text!)).toBeLessThanOrEqual(65_535);
    expect(out.text).toMatch(/The first \d+ of 20000 lines; `npx @flydotio\/dockerfile` writes all of them\.\n\n<\/details>/);
    expect(out.text).toContain("Visit your newly deployed app");
  });

  it("a failed generation says how to add a Dockerfile, with the generator's output", () => {
    const out = failureOutput({ ...run, tail: [], reason: "no Dockerfile", generatorFailure: { context: "apps/web", output: ["TypeError: boom"] } });
    expect(out.text).toContain(
      "Add a Dockerfile to the repository: write one, or run `npx @flydotio/dockerfile` in `apps/web`, commit the `Dockerfile` it writes there and name it with `dockerfile: apps/web/Dockerfile` in `.preview.yml`",
    );
    expect(out.text).toContain("<details><summary>Dockerfile generator output (last 1 lines)</summary>\n\n```\nTypeError: boom\n```");
  });

  it("the comment says the build used one, until the preview is destroyed", () => {
    const view = { ...base, status: "ready" as const, url: run.url };
    expect(renderComment({ ...view, generatedDockerfile: true })).toContain("Built with a generated Dockerfile: the repository has none.");
    expect(renderComment(view)).not.toContain("generated Dockerfile");
    expect(renderComment({ ...view, status: "destroyed", generatedDockerfile: true })).not.toContain("generated Dockerfile");
  });

  it("inline code survives backticks in a user's path", () => {
    expect(codeSpan("web")).toBe("`web`");
    expect(codeSpan("a`b")).toBe("``a`b``");
    expect(codeSpan("`x")).toBe("`` `x ``");
  });
});

describe("the comment's expiry line", () => {
  const DAY = 86_400_000;
  const at = Date.UTC(2026, 11, 9, 14, 0);
  const ready = { ...base, status: "ready" as const, url: "https://pr-7-acme-web.fly.dev" };

  it("says when a preview expires by its ttl, below the table", () => {
    const body = renderComment({ ...ready, expiry: { kind: "ttl", at, ttlMs: 7 * DAY } });
    expect(body).toContain("| **Updated** | 2026-11-25 12:30 UTC |\n\nExpires Dec 9 at 14:00 UTC, 7 days after the last push or redeploy (`ttl` in .preview.yml).");
    expect(renderComment({ ...ready, expiry: { kind: "ttl", at, ttlMs: DAY } })).toContain("1 day after the last push");
    expect(renderComment({ ...ready, expiry: { kind: "ttl", at, ttlMs: 90 * 60_000 } })).toContain("90 minutes after the last push");
  });

  it("says who extended it, with the command they used, and who pinned it, as text that mentions nobody", () => {
    expect(renderComment({ ...ready, expiry: { kind: "extended", at: Date.UTC(2026, 11, 12, 14), by: "bob", ms: 3 * DAY } })).toContain(
      "Expires Dec 12 at 14:00 UTC, extended by @\u200bbob with `/preview extend 3d`.",
    );
    expect(renderComment({ ...ready, expiry: { kind: "pinned", by: "alice" } })).toContain(
      "📌 Pinned by @\u200balice: does not expire while the pull request is open (`/preview unpin` lets it expire again).",
    );
    expect(renderComment({ ...ready, expiry: { kind: "unpinned", at, by: "alice", ttlMs: 7 * DAY } })).toContain(
      "Expires Dec 9 at 14:00 UTC, 7 days after @\u200balice unpinned it (`ttl` in .preview.yml).",
    );
    // A login is GitHub's to choose, but markdown in one must not reach the comment.
    expect(renderComment({ ...ready, expiry: { kind: "pinned", by: "a_b*[x](y)" } })).toContain("@\u200ba_b\\*\\[x\\]\\(y\\)");
  });

  it("carries the reminder above the table, and changes the body's hash when it appears", () => {
    const plain = renderComment({ ...ready, expiry: { kind: "ttl", at, ttlMs: 7 * DAY } });
    const reminded = renderComment({ ...ready, expiry: { kind: "ttl", at, ttlMs: 7 * DAY }, reminder: { leftMs: DAY - 60_000, extendBy: "1d" } });
    expect(reminded).toContain(
      "### ✅ Preview ready\n\n⏰ This preview expires in about 24 hours: push, or comment `/preview extend 1d` or `/preview pin`, to keep it.\n\n| | |",
    );
    expect(bodyHash(reminded)).not.toBe(bodyHash(plain));
  });

  it("rounds what is left as people would say it", () => {
    expect(aboutDuration(23.6 * 3_600_000)).toBe("about 24 hours");
    expect(aboutDuration(50 * 60_000)).toBe("about an hour");
    expect(aboutDuration(6 * 60_000)).toBe("about 6 minutes");
    expect(aboutDuration(10_000)).toBe("about a minute");
  });

  it("as a comment of its own, carries a marker of its expiry, the link and the same advice", () => {
    const notice = renderNotice({ at, leftMs: 3 * 3_600_000, extendBy: "1d", url: "https://pr-7-acme-web.fly.dev" });
    expect(notice).toBe(
      `<!-- fly-preview notice:${at} -->\n` +
        "⏰ The preview of this pull request ([https://pr-7-acme-web.fly.dev](https://pr-7-acme-web.fly.dev)) expires Dec 9 at 14:00 UTC, in about 3 hours: " +
        "push, or comment `/preview extend 1d` or `/preview pin`, to keep it.",
    );
    // Not the sticky comment's marker: the sticky comment is never looked up as this one.
    expect(notice).not.toContain(COMMENT_MARKER);
  });
});

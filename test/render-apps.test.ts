import { describe, expect, it } from "vitest";
import { APP_STATES_SHOWN, bodyHash, COMMENT_MARKER, renderAppsComment, renderAppsCommandReply, type AppRowView, type AppsCommentView } from "../src/github/comment.js";
import { githubLength } from "../src/github/markdown.js";

// The sticky comment of a pull request with several apps (`apps:` in .preview.yml, issue 15).

const HEAD = "0123456789abcdef0123456789abcdef01234567";
const OLD = "fedcba9876543210fedcba9876543210fedcba98";

const app = (name: string, over: Partial<AppRowView> = {}): AppRowView => ({
  name,
  appName: `pr-7-${name}-acme-shop`,
  status: "ready",
  url: `https://pr-7-${name}-acme-shop.fly.dev`,
  sha: HEAD,
  buildMs: 62_000,
  checkRunUrl: `https://github.com/acme/shop/runs/${name.length}`,
  ...over,
});

const view = (apps: AppRowView[], over: Partial<AppsCommentView> = {}): AppsCommentView => ({
  sha: HEAD,
  headRef: "feature/login",
  updatedAt: Date.UTC(2026, 10, 25, 12, 30),
  apps,
  ...over,
});

const headline = (body: string) => body.split("\n")[1];

describe("the sticky comment of several apps", () => {
  it("shows every app ready in one table: state, URL, commit, build time and Fly app", () => {
    expect(renderAppsComment(view([app("api"), app("web", { buildMs: 95_000 }), app("worker", { url: undefined, buildMs: 3_000 })]))).toMatchInlineSnapshot(`
      "<!-- fly-preview -->
      ### ✅ Preview ready (3 apps)

      | App | State | URL | Commit | Build time | Fly app |
      | --- | --- | --- | --- | --- | --- |
      | **api** | [✅ Ready](https://github.com/acme/shop/runs/3) | [https://pr-7-api-acme-shop.fly.dev](https://pr-7-api-acme-shop.fly.dev) | \`0123456\` | 1m 02s | \`pr-7-api-acme-shop\` |
      | **web** | [✅ Ready](https://github.com/acme/shop/runs/3) | [https://pr-7-web-acme-shop.fly.dev](https://pr-7-web-acme-shop.fly.dev) | \`0123456\` | 1m 35s | \`pr-7-web-acme-shop\` |
      | **worker** | [✅ Ready](https://github.com/acme/shop/runs/6) | — | \`0123456\` | 3s | \`pr-7-worker-acme-shop\` |

      | | |
      |---|---|
      | **Commit** | \`0123456\` on feature/login |
      | **Updated** | 2026-11-25 12:30 UTC |"
    `);
  });

  it("counts the apps still building in its headline", () => {
    const body = renderAppsComment(view([app("api"), app("web", { status: "building", buildMs: undefined }), app("worker")]));
    expect(headline(body)).toBe("### 🔨 Building preview (1 of 3 apps)");
    expect(body).toContain("| **web** | [🔨 Building](https://github.com/acme/shop/runs/3) | [https://pr-7-web-acme-shop.fly.dev](https://pr-7-web-acme-shop.fly.dev) | `0123456` | — |");
  });

  it("says which app failed and why, below the table, and what still serves; a failure outranks a build in progress", () => {
    const body = renderAppsComment(
      view([
        app("api", { status: "building" }),
        app("web", { status: "failed", servingSha: OLD, buildMs: undefined, reason: "The Docker build failed: npm ci exited with 1" }),
        app("worker"),
      ]),
    );
    expect(headline(body)).toBe("### ❌ 1 of 3 apps failed");
    expect(body).toContain("| **web** | [❌ Failed](https://github.com/acme/shop/runs/3) |");
    expect(body).toContain("- ❌ **web** failed: The Docker build failed: npm ci exited with 1\n  - The previous deploy (`fedcba9`) is still serving.\n");
    // Only the failed app gets a line.
    expect(body.match(/^- /gm)).toHaveLength(1);
  });

  it("counts each failed app, and says so for an app that failed without a reason", () => {
    const body = renderAppsComment(view([app("api", { status: "failed" }), app("web", { status: "failed", reason: "Health check failed" })]));
    expect(headline(body)).toBe("### ❌ 2 of 2 apps failed");
    expect(body).toContain("- ❌ **api** failed: no reason was given\n- ❌ **web** failed: Health check failed\n");
  });

  it("shows an app the push did not touch as unchanged, at the commit it serves, and counts it as ready", () => {
    const body = renderAppsComment(view([app("api"), app("web", { status: "unchanged", sha: OLD, buildMs: undefined })]));
    expect(headline(body)).toBe("### ✅ Preview ready (2 apps)");
    expect(body).toContain("| **web** | [✅ Unchanged](https://github.com/acme/shop/runs/3) | [https://pr-7-web-acme-shop.fly.dev](https://pr-7-web-acme-shop.fly.dev) | `fedcba9` | — |");
    expect(body).toContain("- **web** is unchanged: not rebuilt, as the push touched none of its `paths` in `.preview.yml`.");
  });

  it("shows an app up but not seeded (its postdeploy failed) in its row, with the reason below the table, its URL and cost kept", () => {
    const cost = { preset: "shared-cpu-1x", memoryMb: 256, perHour: 0.0027, perMonth: 1.94, currency: "USD", region: "iad", source: "https://fly.io/docs/about/pricing/", date: "2026-11-01" };
    const body = renderAppsComment(view([app("api", { status: "unseeded", reason: "postdeploy (npm run seed) exited with code 2", cost }), app("web", { cost })]));
    expect(headline(body)).toBe("### ⚠️ Preview up, but postdeploy failed (1 of 2 apps)");
    // The state links the app's check run, which has the hook's output.
    expect(body).toContain(
      "| **api** | [⚠️ Up, seeding failed](https://github.com/acme/shop/runs/3) | [https://pr-7-api-acme-shop.fly.dev](https://pr-7-api-acme-shop.fly.dev) | `0123456` | 1m 02s | `shared-cpu-1x`, 256 MB",
    );
    expect(body).toContain(
      "- ⚠️ **api** is up at its URL, but not seeded: postdeploy \\(npm run seed\\) exited with code 2. It runs again after the app's next deploy; `/preview redeploy api --fresh` runs it now.\n",
    );
    expect(body.match(/^- /gm)).toHaveLength(1);
    // A failure elsewhere still leads the headline.
    expect(headline(renderAppsComment(view([app("api", { status: "unseeded" }), app("web", { status: "failed" })])))).toBe("### ❌ 1 of 2 apps failed");
  });

  it("counts apps waiting for their turn, and leaves an app being destroyed (removed from apps:) out of the count", () => {
    const body = renderAppsComment(view([app("api"), app("web", { status: "queued" }), app("old", { status: "destroyed" })]));
    expect(headline(body)).toBe("### ⏳ Preview queued (1 of 2 apps)");
    expect(body).toContain("| **old** | [🗑️ Destroyed](https://github.com/acme/shop/runs/3) | — |");
    expect(headline(renderAppsComment(view([app("api"), app("old", { status: "destroyed" })])))).toBe("### ✅ Preview ready (1 app)");
  });

  it("has a word of its own for every state an app can be in", () => {
    const stateOf = (body: string) => body.split("\n").find((line) => line.startsWith("| **api** |"))!.split(" | ")[1];
    const states = APP_STATES_SHOWN.map((status) => stateOf(renderAppsComment(view([app("api", { status, checkRunUrl: undefined })]))));
    expect(states).toEqual([
      "⏳ Queued",
      "🔨 Building",
      "✅ Ready",
      "✅ Unchanged",
      "⚠️ Up, seeding failed",
      "❌ Failed",
      "⏭️ Superseded",
      "⏸️ Waiting for approval",
      "🚫 Not deployed",
      "⏳ Waiting for a free slot",
      "🗑️ Destroyed",
    ]);
  });

  it("shows the pull request's destroy with the destroyed notes, and no URL, database or expiry line of a preview that is gone", () => {
    const gone = (over: Partial<AppRowView> = {}) => [app("api", { status: "destroyed", ...over }), app("web", { status: "destroyed", ...over })];
    const database = { provider: "neon" as const, name: "preview/pr-7", parent: "main" };
    const byCommand = renderAppsComment(view(gone(), { status: "destroyed", destroyReason: "command", destroyedBy: "alice", database }));
    expect(headline(byCommand)).toBe("### 🗑️ Preview destroyed");
    expect(byCommand).toContain("Destroyed by @\u200balice with `/preview destroy`. Pushes do not bring it back: comment `/preview redeploy` to deploy it again.");
    expect(byCommand).not.toContain("fly.dev");
    expect(byCommand).not.toContain("Database");
    // Every app destroyed, with no word from the pull request: the same, for the reason given.
    const closed = renderAppsComment(view(gone({ status: "destroyed" })));
    expect(headline(closed)).toBe("### 🗑️ Preview destroyed");
    expect(closed).toContain("The Fly app was destroyed because the pull request was closed.");
    const expired = renderAppsComment(view(gone(), { destroyReason: "expired", ttl: "7d" }));
    expect(expired).toContain("It expired after 7d without a push or a command.");
  });

  it("shows a state of the whole pull request (a gate before any app deploys) with its own headline and explanation", () => {
    const body = renderAppsComment(view([], { status: "awaiting_approval" }));
    expect(headline(body)).toBe("### ⏸️ Preview waiting for approval");
    expect(body).toContain("comment `/preview approve` (or press **Approve** on the check run) to deploy `0123456`");
    expect(body).not.toContain("| App |");
    const invalid = renderAppsComment(view([app("api")], { status: "failed", reason: "`.preview.yml` is invalid: apps.web.env.API_URL names no app `apy`" }));
    expect(headline(invalid)).toBe("### ❌ Preview failed");
    expect(invalid).toContain("**Reason:** \\`.preview.yml\\` is invalid: apps.web.env.API_URL names no app \\`apy\\`");
    // No app yet and no word from the pull request: nothing has started.
    expect(headline(renderAppsComment(view([])))).toBe("### ⏳ Preview queued");
  });

  it("carries the pull request's database, expiry and reminder once, not per app", () => {
    const at = Date.UTC(2026, 11, 9, 14);
    const body = renderAppsComment(
      view([app("api"), app("web")], {
        database: { provider: "neon", name: "preview/pr-7", parent: "main" },
        expiry: { kind: "ttl", at, ttlMs: 7 * 86_400_000 },
        reminder: { leftMs: 3 * 3_600_000, extendBy: "1d" },
      }),
    );
    expect(body).toContain("### ✅ Preview ready (2 apps)\n\n⏰ This preview expires in about 3 hours: push, or comment `/preview extend 1d` or `/preview pin`, to keep it.\n\n| App |");
    expect(body.match(/Neon branch `preview\/pr-7` of `main`/g)).toHaveLength(1);
    expect(body.endsWith("\n\nExpires Dec 9 at 14:00 UTC, 7 days after the last push or redeploy (`ttl` in .preview.yml).")).toBe(true);
  });

  it("shows what each running app costs, with the prices' source once", () => {
    const cost = { preset: "shared-cpu-1x", memoryMb: 256, perHour: 0.0027, perMonth: 1.94, currency: "USD", region: "iad", source: "https://fly.io/docs/about/pricing/", date: "2026-11-01" };
    const body = renderAppsComment(view([app("api", { cost }), app("web", { status: "failed", cost })]));
    expect(body).toContain("| Build time | Cost | Fly app |");
    expect(body).toContain("| 1m 02s | `shared-cpu-1x`, 256 MB: about $0.0027 an hour, $1.94 a month if always on | `pr-7-api-acme-shop` |");
    // A failed app is not running: its cost is not what the preview costs.
    expect(body).toContain("| 1m 02s | — | `pr-7-web-acme-shop` |");
    expect(body.match(/Fly's iad prices/g)).toHaveLength(1);
    expect(renderAppsComment(view([app("api")]))).not.toContain("Cost");
  });

  it("says which apps were built with a generated Dockerfile", () => {
    const body = renderAppsComment(view([app("api", { generatedDockerfile: true }), app("web")]));
    expect(body).toContain("- **api** was built with a generated Dockerfile: the repository has none for it. Its check run shows it and how to commit it.");
    expect(body).not.toContain("**web** was built");
  });

  it("escapes hostile app names and reasons, in the table and below it", () => {
    const hostile = "x|y](http://evil)<img src=x>@team";
    const body = renderAppsComment(
      view([
        app(hostile, { status: "failed", appName: "a|b`c", url: "https://pr-7-x-acme-shop.fly.dev", reason: "boom\n### injected heading [link](http://evil) @org/team" }),
        app("web", { checkRunUrl: "https://github.com/acme/shop/runs/9" }),
      ]),
    );
    expect(body).not.toContain("<img");
    expect(body).not.toContain("](http://evil)");
    expect(body).not.toContain("\n### injected");
    expect(body).not.toContain("@team");
    expect(body).not.toContain("@org");
    expect(body).toContain("| **x\\|y\\]\\(http://evil\\)&lt;img src=x&gt;@\u200bteam** | [❌ Failed]");
    expect(body).toContain("failed: boom \\#\\#\\# injected heading \\[link\\]\\(http://evil\\) @\u200borg/team\n");
    // A pipe in the Fly app's cell does not split the row: every row has the header's cells.
    expect(body).toContain("| ``a\\|b`c`` |");
    const rows = body.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| **Commit") && !line.startsWith("| **Updated") && line !== "| | |");
    for (const row of rows) expect(row.replace(/\\\|/g, "").split("|")).toHaveLength(8);
  });

  it("stays within GitHub's limit however many apps and however long their reasons, its headline and marker kept", () => {
    const many = Array.from({ length: 100 }, (_, i) => app(`app-${i}`, { status: "failed", reason: `${"flyctl said no ".repeat(500)}#${i}` }));
    const body = renderAppsComment(view(many));
    expect([...body].length).toBeLessThanOrEqual(65_536);
    expect(githubLength(body)).toBeLessThanOrEqual(65_536);
    expect(body.startsWith(`${COMMENT_MARKER}\n### ❌ 100 of 100 apps failed\n`)).toBe(true);
    expect(body).toMatch(/more lines cut \(GitHub shows at most 65,536 characters here\)\.$/);
    // One reason is cut to a line's worth, so it cannot push the other apps out alone.
    const line = body.split("\n").find((l) => l.startsWith("- ❌ **app-0** failed:"))!;
    expect(githubLength(line)).toBeLessThan(1_200);
    expect(line.endsWith("…")).toBe(true);
  });

  it("ignores the timestamp when deciding whether an edit changes anything", () => {
    const a = renderAppsComment(view([app("api"), app("web")]));
    const b = renderAppsComment(view([app("api"), app("web")], { updatedAt: Date.UTC(2026, 10, 25, 13) }));
    const c = renderAppsComment(view([app("api"), app("web", { status: "building" })]));
    expect(a).not.toBe(b);
    expect(bodyHash(a)).toBe(bodyHash(b));
    expect(bodyHash(a)).not.toBe(bodyHash(c));
  });
});

describe("the reply to a command on every app", () => {
  it("names each app that did not end as asked, and why, escaped and cut", () => {
    const body = renderAppsCommandReply({
      commentId: 42,
      command: "redeploy",
      apps: [
        { name: "api", action: "deploy", status: "failed", reason: "The Docker build failed: npm ci exited with 1 @org/team [x](http://evil)" },
        { name: "web", action: "deploy", status: "ready" },
        { name: "worker", action: "deploy", status: "limited", reason: "flyctl said no ".repeat(500) },
      ],
    });
    const lines = body.split("\n");
    expect(lines[0]).toBe("<!-- fly-preview command:42 -->");
    expect(lines[1]).toBe("`/preview redeploy`: 2 of 3 apps are not up.");
    expect(lines[3]).toBe("- **api** failed: The Docker build failed: npm ci exited with 1 @\u200borg/team \\[x\\]\\(http://evil\\)");
    expect(lines[4].startsWith("- **worker** waits for a free slot: flyctl said no")).toBe(true);
    expect(lines[4].endsWith("…")).toBe(true);
    expect(body).not.toContain("**web**");
  });

  it("says which apps a destroy left, and that the reaper tries again", () => {
    const body = renderAppsCommandReply({
      commentId: 7,
      command: "destroy",
      apps: [
        { name: "api", action: "destroy", status: "destroyed" },
        { name: "web", action: "destroy", status: "failed", reason: "Fly.io answered 500" },
      ],
    });
    expect(body).toContain("`/preview destroy`: 1 of 2 apps was not destroyed.");
    expect(body).toContain("- **web** could not be destroyed; the reaper tries again: Fly.io answered 500");
  });
});

import { formatMoney } from "../github/markdown.js";
import type { CostShown } from "../model/pull-request.js";
import type { Preview } from "../store/store.js";
import { parseRepository } from "./args.js";
import type { CliCommand } from "./command.js";
import {
  appJson,
  byPullRequest,
  costCell,
  expiryCell,
  expiryOfApp,
  expiryOfPreview,
  isoTime,
  oneLine,
  ownApp,
  perMonthJson,
  previewJson,
  previewName,
  pullRequestStatus,
  roundMoney,
  runningCost,
  statusLabel,
  table,
  type PullRequestRows,
} from "./format.js";

export const list: CliCommand = {
  name: "list",
  args: [],
  flags: [
    { name: "repo", value: "owner/repo", help: "only this repository's previews" },
    { name: "json", help: "a JSON array instead of a table" },
  ],
  summary: "every preview, newest first",
  details:
    "A destroy that failed shows as \"destroy failed\": its Fly app may still run; `fly-preview gc` asks for it again. " +
    "A pull request with several apps (`apps:` in .preview.yml) has a line of its own, with no Fly app, then a line per app (OWNER/REPO#N NAME). " +
    "COST/MONTH is what a Fly app's machine costs a month if always on, from the price table (PREVIEW_PRICES); the last line totals the Fly apps that exist.",
  async run(args, ctx) {
    const repo = args.values.get("repo");
    if (repo !== undefined) parseRepository(repo);
    const store = await ctx.store();
    const previews = await store.list({ repo });
    const prices = ctx.settings().prices;
    const costs = new Map(previews.map((p) => [p.id, runningCost(p, prices)]));
    const cost = (p: Preview) => costs.get(p.id);
    // Where each preview's own database lives (a `database:` block), never its URL.
    const databases = new Map<number, string>();
    for (const p of previews) {
      const d = await store.databaseOf(p.id);
      if (d) databases.set(p.id, d.provider === "neon" ? `neon:${d.name}` : `fly_postgres:${d.home}/${d.name}`);
    }
    const pullRequests = byPullRequest(previews);
    if (args.switches.has("json")) {
      ctx.print(JSON.stringify(pullRequests.map((pr) => pullRequestJson(pr, databases, cost)), null, 2));
      return;
    }
    if (previews.length === 0) {
      ctx.print(repo ? `no previews for ${repo}` : "no previews");
      return;
    }
    const money = (amount: number) => formatMoney(amount, prices.currency);
    const row = (p: Preview, cells: { preview: string; app: string; status: string; expiry: string; database: string }) => [
      cells.preview,
      cells.app,
      cells.status,
      p.deployed_sha?.slice(0, 7) ?? "-",
      p.url ?? "-",
      cells.database,
      cells.expiry,
      costCell(cost(p)),
      isoTime(p.updated_at),
      oneLine(p.last_error),
    ];
    // A pull request's apps on lines of their own, under its line: they share its database and its expiry.
    const rows = pullRequests.flatMap((pr) => [
      row(pr.own, {
        preview: previewName(pr.own),
        app: ownApp(pr) ?? `${pr.apps.length} apps`,
        status: pullRequestStatus(pr),
        expiry: expiryCell(expiryOfPreview(pr.own, pr.apps)),
        database: databases.get(pr.own.id) ?? "-",
      }),
      ...pr.apps.map((app) =>
        row(app, { preview: `${previewName(app)} ${app.app_key}`, app: app.app_name, status: statusLabel(app), expiry: expiryCell(expiryOfApp(app, pr)), database: "-" }),
      ),
    ]);
    for (const line of table(["PREVIEW", "APP", "STATUS", "COMMIT", "URL", "DATABASE", "EXPIRES", "COST/MONTH", "UPDATED", "LAST ERROR"], rows)) ctx.print(line);
    // The total, and each installation's when the server serves several: a GitHub App's
    // installations are usually separate teams, each with its own bill to watch. Each
    // counts Fly apps: a pull request with several apps has none of its own, and its apps count one each.
    const totalLine = (label: string, rows: Preview[]) => {
      const running = rows.map(cost).filter((c): c is CostShown => c !== undefined);
      if (running.length === 0) return;
      const total = running.reduce((sum, c) => sum + c.perMonth, 0);
      ctx.print(
        `${label}${running.length} running: about ${money(total / prices.hoursPerMonth)} an hour, ${money(total)} a month if always on ` +
          `(Fly's ${prices.region} prices of ${prices.date}); idle machines stop and cost nothing for compute`,
      );
    };
    totalLine("", previews);
    const installations = [...new Set(previews.filter(cost).map((p) => p.installation_id))];
    if (installations.length > 1) {
      for (const id of installations.sort((a, b) => a - b)) totalLine(`installation ${id}: `, previews.filter((p) => p.installation_id === id));
    }
  },
};

/**
 * A pull request in JSON, as before for one app. With apps: `app` null (no Fly app of its
 * own), `apps` one object per app, and `costPerMonth` what they cost together, so a sum
 * over the array counts each Fly app once.
 */
function pullRequestJson(pr: PullRequestRows, databases: Map<number, string>, cost: (p: Preview) => CostShown | undefined) {
  const own = { ...previewJson(pr.own, expiryOfPreview(pr.own, pr.apps)), database: databases.get(pr.own.id) ?? null, costPerMonth: perMonthJson(cost(pr.own)) };
  if (!pr.apps.length) return own;
  const apps = pr.apps.map((app) => ({ ...appJson(app), costPerMonth: perMonthJson(cost(app)) }));
  const costs = [own, ...apps].map((p) => p.costPerMonth).filter((c): c is number => c !== null);
  return { ...own, app: ownApp(pr), costPerMonth: costs.length ? roundMoney(costs.reduce((a, b) => a + b, 0)) : null, apps };
}


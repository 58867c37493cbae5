import { recordedMachineCost, type PriceTable } from "../fly/index.js";
import { formatMoney } from "../github/markdown.js";
import type { CostShown } from "../model/pull-request.js";
import type { Preview } from "../store/store.js";
import { parseRepository } from "./args.js";
import type { CliCommand } from "./command.js";
import { expiryCell, isoTime, previewJson, previewName, statusLabel, table } from "./format.js";

const ERROR_WIDTH = 80;

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
    "COST/MONTH is what a preview's machine costs a month if always on, from the price table (PREVIEW_PRICES); the last line totals the previews whose Fly app exists.",
  async run(args, ctx) {
    const repo = args.values.get("repo");
    if (repo !== undefined) parseRepository(repo);
    const store = await ctx.store();
    const previews = await store.list({ repo });
    const prices = ctx.settings().prices;
    const costs = new Map(previews.map((p) => [p.id, runningCost(p, prices)]));
    // Where each preview's own database lives (a `database:` block), never its URL.
    const databases = new Map<number, string>();
    for (const p of previews) {
      const d = await store.databaseOf(p.id);
      if (d) databases.set(p.id, d.provider === "neon" ? `neon:${d.name}` : `fly_postgres:${d.home}/${d.name}`);
    }
    if (args.switches.has("json")) {
      const json = previews.map((p) => {
        const cost = costs.get(p.id);
        return { ...previewJson(p), database: databases.get(p.id) ?? null, costPerMonth: cost ? round(cost.perMonth) : null };
      });
      ctx.print(JSON.stringify(json, null, 2));
      return;
    }
    if (previews.length === 0) {
      ctx.print(repo ? `no previews for ${repo}` : "no previews");
      return;
    }
    const rows = previews.map((p) => [
      previewName(p),
      p.app_name,
      statusLabel(p),
      p.deployed_sha?.slice(0, 7) ?? "-",
      p.url ?? "-",
      databases.get(p.id) ?? "-",
      expiryCell(p),
      costs.get(p.id) ? formatMoney(costs.get(p.id)!.perMonth, prices.currency) : "-",
      isoTime(p.updated_at),
      oneLine(p.last_error),
    ]);
    for (const line of table(["PREVIEW", "APP", "STATUS", "COMMIT", "URL", "DATABASE", "EXPIRES", "COST/MONTH", "UPDATED", "LAST ERROR"], rows)) ctx.print(line);
    // The total, and each installation's when the server serves several: a GitHub App's
    // installations are usually separate teams, each with its own bill to watch.
    const money = (amount: number) => formatMoney(amount, prices.currency);
    const totalLine = (label: string, rows: Preview[]) => {
      const running = rows.map((p) => costs.get(p.id)).filter((c): c is CostShown => c !== undefined);
      if (running.length === 0) return;
      const total = running.reduce((sum, c) => sum + c.perMonth, 0);
      ctx.print(
        `${label}${running.length} running: about ${money(total / prices.hoursPerMonth)} an hour, ${money(total)} a month if always on ` +
          `(Fly's ${prices.region} prices of ${prices.date}); idle machines stop and cost nothing for compute`,
      );
    };
    totalLine("", previews);
    const installations = [...new Set(previews.filter((p) => costs.get(p.id)).map((p) => p.installation_id))];
    if (installations.length > 1) {
      for (const id of installations.sort((a, b) => a - b)) totalLine(`installation ${id}: `, previews.filter((p) => p.installation_id === id));
    }
  },
};

// The table keeps one row per preview; `fly-preview status` shows the whole error.
function oneLine(error: string | null): string {
  if (!error) return "";
  const line = error.replace(/\s+/g, " ").trim();
  return line.length > ERROR_WIDTH ? `${line.slice(0, ERROR_WIDTH - 1)}…` : line;
}

/** What the preview's machine costs always on, while its Fly app exists (a failed destroy leaves it running) and a deploy recorded its size. */
function runningCost(p: Preview, prices: PriceTable): CostShown | undefined {
  return p.app_created === 1 ? recordedMachineCost(prices, p) : undefined;
}

function round(amount: number): number {
  return Math.round(amount * 100) / 100;
}

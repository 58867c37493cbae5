import { parseRepository } from "./args.js";
import type { Command } from "./command.js";
import { expiryCell, isoTime, previewJson, previewName, statusLabel, table } from "./format.js";

const ERROR_WIDTH = 80;

export const list: Command = {
  name: "list",
  args: [],
  flags: [
    { name: "repo", value: "owner/repo", help: "only this repository's previews" },
    { name: "json", help: "a JSON array instead of a table" },
  ],
  summary: "every preview, newest first",
  details: "A destroy that failed shows as \"destroy failed\": its Fly app may still run; `fly-preview gc` asks for it again.",
  async run(args, ctx) {
    const repo = args.values.get("repo");
    if (repo !== undefined) parseRepository(repo);
    const store = await ctx.store();
    const previews = await store.list({ repo });
    // Where each preview's own database lives (a `database:` block), never its URL.
    const databases = new Map<number, string>();
    for (const p of previews) {
      const d = await store.databaseOf(p.id);
      if (d) databases.set(p.id, d.provider === "neon" ? `neon:${d.name}` : `fly_postgres:${d.home}/${d.name}`);
    }
    if (args.switches.has("json")) {
      ctx.print(JSON.stringify(previews.map((p) => ({ ...previewJson(p), database: databases.get(p.id) ?? null })), null, 2));
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
      isoTime(p.updated_at),
      oneLine(p.last_error),
    ]);
    for (const line of table(["PREVIEW", "APP", "STATUS", "COMMIT", "URL", "DATABASE", "EXPIRES", "UPDATED", "LAST ERROR"], rows)) ctx.print(line);
  },
};

// The table keeps one row per preview; `fly-preview status` shows the whole error.
function oneLine(error: string | null): string {
  if (!error) return "";
  const line = error.replace(/\s+/g, " ").trim();
  return line.length > ERROR_WIDTH ? `${line.slice(0, ERROR_WIDTH - 1)}…` : line;
}

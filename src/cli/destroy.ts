import type { Preview } from "../store/store.js";
import { parsePullRequest } from "./args.js";
import { CliError, type CliCommand } from "./command.js";
import { flyAppsText, previewName, statusLabel } from "./format.js";

export const destroy: CliCommand = {
  name: "destroy",
  args: ["owner/repo#N"],
  flags: [],
  summary: "ask the running server to destroy a preview",
  details:
    "Records the desire only; the running fly-preview server destroys the Fly app, or every app of a pull request with several (`apps:` in .preview.yml). " +
    "Like `/preview destroy`, later pushes do not bring the preview back until `/preview redeploy`.",
  async run(args, ctx) {
    const { owner, repo, number } = parsePullRequest(args.positionals[0]);
    const store = await ctx.store();
    const preview = await store.get(owner, repo, number);
    if (!preview) throw new CliError(`no preview for ${owner}/${repo}#${number}`);
    const apps = await store.appsOf(owner, repo, number);
    const name = `${previewName(preview)} (${what(preview, apps)})`;
    const { changed } = await store.desireDestroy(owner, repo, number, { reason: "operator", by: "operator" });
    // An app whose destroy failed still runs: its pull request is not destroyed yet, whatever its own row says.
    const failed = [preview, ...apps].filter((p) => statusLabel(p) === "destroy failed");
    if (changed) {
      ctx.print(`destroy of ${name} recorded; the running fly-preview server carries it out`);
    } else if (failed.length) {
      // desireDestroy leaves an existing destroy desire alone; asking again is gc's job.
      for (const p of failed) {
        const which = p.app_key === "" ? name : `${previewName(p)} ${p.app_key} (app ${p.app_name})`;
        ctx.print(`the destroy of ${which} failed earlier: ${p.last_error ?? "no error recorded"}`);
      }
      ctx.print("run `fly-preview gc` to ask for it again");
    } else if (preview.status === "destroyed" && apps.every((p) => p.status === "destroyed")) {
      ctx.print(`${name} is already destroyed`);
    } else {
      ctx.print(`${name} is already being destroyed; the running fly-preview server carries it out`);
    }
  },
};

/** The Fly app a destroy takes, or for a pull request with several apps the ones they hold (its own row has none). */
function what(preview: Preview, apps: Preview[]): string {
  if (!apps.length) return `app ${preview.app_name}`;
  return flyAppsText([preview, ...apps].filter((p) => p.app_created === 1).map((p) => p.app_name));
}

import { parsePullRequest } from "./args.js";
import { CliError, type CliCommand } from "./command.js";
import { previewName } from "./format.js";

export const destroy: CliCommand = {
  name: "destroy",
  args: ["owner/repo#N"],
  flags: [],
  summary: "ask the running server to destroy a preview",
  details:
    "Records the desire only; the running fly-preview server destroys the Fly app. Like `/preview destroy`, later pushes do not bring the preview back until `/preview redeploy`.",
  async run(args, ctx) {
    const { owner, repo, number } = parsePullRequest(args.positionals[0]);
    const store = await ctx.store();
    const preview = await store.get(owner, repo, number);
    if (!preview) throw new CliError(`no preview for ${owner}/${repo}#${number}`);
    const name = previewName(preview);
    const { changed } = await store.desireDestroy(owner, repo, number, { reason: "operator", by: "operator" });
    if (changed) {
      ctx.print(`destroy of ${name} (app ${preview.app_name}) recorded; the running fly-preview server carries it out`);
    } else if (preview.status === "destroyed") {
      ctx.print(`${name} (app ${preview.app_name}) is already destroyed`);
    } else if (preview.status === "failed" && preview.observed_generation >= preview.desired_generation) {
      // desireDestroy leaves an existing destroy desire alone; asking again is gc's job.
      ctx.print(`the destroy of ${name} (app ${preview.app_name}) failed earlier: ${preview.last_error ?? "no error recorded"}`);
      ctx.print("run `fly-preview gc` to ask for it again");
    } else {
      ctx.print(`${name} (app ${preview.app_name}) is already being destroyed; the running fly-preview server carries it out`);
    }
  },
};

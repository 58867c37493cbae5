import type { Context, Probot } from "probot";
import { APPROVE_ACTION, CHECK_ACTIONS, isCheckRunName } from "../github/check-run.js";
import type { SlashCommandName } from "../model/slash-commands.js";
import type { CommandSource } from "../store/schema.js";
import { handle } from "./outcomes.js";
import type { HandlerDeps } from "./pull-request.js";

type CheckRunContext = Context<"check_run.requested_action" | "check_run.rerequested">;

// A button's identifier is the name of the command it runs.
const BUTTONS = [...CHECK_ACTIONS, APPROVE_ACTION];

/**
 * The `Redeploy`, `Destroy` and (for forks) `Approve` buttons of our check run, and its
 * "Re-run", become the same commands as `/preview redeploy`, `destroy` and `approve`,
 * under the same permission rule. A check run finds its PR through `external_id` (the preview's id),
 * because `pull_requests` is empty for forks.
 */
export function registerCheckRunHandlers(app: Probot, deps: HandlerDeps): void {
  const record = async (context: CheckRunContext, name: SlashCommandName, source: CommandSource) => {
    const { check_run: run, repository, sender } = context.payload;
    if (!isCheckRunName(run.name) || sender.type === "Bot") return "ignored";
    const installation = (context.payload as { installation?: { id: number } }).installation;
    const preview = run.external_id ? await deps.store.getById(Number(run.external_id)) : undefined;
    if (!installation || !preview || preview.owner !== repository.owner.login || preview.repo !== repository.name) {
      context.log.info({ repo: repository.full_name, external_id: run.external_id }, "check run of no preview we know: ignored");
      return "ignored";
    }
    const command = {
      installation_id: installation.id,
      owner: preview.owner,
      repo: preview.repo,
      number: preview.number,
      name,
      text: source === "rerun" ? "Re-run" : `${name} button`,
      source,
      comment_id: null,
      sender: sender.login,
      // The button approves the commit of the check run it was pressed on.
      head_sha: name === "approve" ? run.head_sha : null,
      // An app's check run (`Fly Preview / NAME`): its buttons act on that app alone.
      app_key: preview.app_key || null,
    };
    if (!(await deps.store.addCommand(command, context.id))) return "duplicate";
    context.log.info({ repo: repository.full_name, pr: preview.number, command: name, sender: sender.login, source }, "command recorded");
    deps.wake({ commands: true });
    return "recorded";
  };

  handle(app, deps.metrics, ["check_run.requested_action"], async (context) => {
    const pressed = context.payload.requested_action?.identifier;
    const name = BUTTONS.find((button) => button.identifier === pressed)?.identifier;
    return name ? record(context, name, "button") : "ignored";
  });
  handle(app, deps.metrics, ["check_run.rerequested"], async (context) => record(context, "redeploy", "rerun"));
}

import type { Probot } from "probot";
import { parseCommand } from "../commands/parse.js";
import { handle } from "./outcomes.js";
import type { HandlerDeps } from "./pull-request.js";

/**
 * `/preview …` in a new PR comment becomes a recorded command; a worker checks the
 * sender's permission and carries it out. Edited comments, comments on plain issues
 * and comments by bots (ours included) are not commands.
 */
export function registerIssueCommentHandlers(app: Probot, deps: HandlerDeps): void {
  handle(app, deps.metrics, ["issue_comment.created"], async (context) => {
    const { issue, comment, repository, sender } = context.payload;
    if (!issue.pull_request || sender.type === "Bot" || comment.user?.type === "Bot") return "ignored";
    const parsed = parseCommand(comment.body);
    if (!parsed) return "ignored";
    const installation = (context.payload as { installation?: { id: number } }).installation;
    if (!installation) return "ignored";
    const owner = repository.owner.login;
    // An approval approves the head the approver saw, not whatever the head is when a
    // worker gets to it: the newest head fly-preview knows now (the check run shows it).
    const head_sha = parsed.name === "approve" ? ((await deps.store.get(owner, repository.name, issue.number))?.head_sha ?? null) : null;
    const command = {
      installation_id: installation.id,
      owner,
      repo: repository.name,
      number: issue.number,
      name: parsed.name,
      text: parsed.text,
      source: "comment" as const,
      comment_id: comment.id,
      sender: sender.login,
      head_sha,
    };
    if (!(await deps.store.addCommand(command, context.id))) return "duplicate";
    context.log.info({ repo: repository.full_name, pr: issue.number, command: parsed.name, sender: sender.login }, "command recorded");
    deps.wake({ commands: true });
    return "recorded";
  });
}

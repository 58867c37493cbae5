import type { Probot } from "probot";
import { handle } from "./outcomes.js";
import type { HandlerDeps } from "./pull-request.js";

/**
 * An uninstalled App, or a repository taken out of an installation, leaves previews
 * nobody can see any more: destroy them, quietly, since GitHub no longer lets us speak
 * in those repositories. Destroys already on their way turn quiet too.
 */
export function registerInstallationHandlers(app: Probot, deps: HandlerDeps): void {
  handle(app, deps.metrics, ["installation.deleted"], async (context) => {
    const installationId = context.payload.installation.id;
    const changed = await deps.store.appRemoved({ installationId });
    context.log.info({ installationId, previews: changed }, "installation deleted: destroying its previews");
    if (changed) deps.wake();
    return "recorded";
  });

  handle(app, deps.metrics, ["installation_repositories.removed"], async (context) => {
    let changed = 0;
    for (const repository of context.payload.repositories_removed) {
      const [owner, repo] = repository.full_name.split("/");
      changed += await deps.store.appRemoved({ owner, repo });
    }
    context.log.info({ installationId: context.payload.installation.id, previews: changed }, "repositories removed: destroying their previews");
    if (changed) deps.wake();
    return "recorded";
  });
}

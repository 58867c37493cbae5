import type { IncomingMessage, ServerResponse } from "node:http";
import type { Probot } from "probot";

/** Where Probot serves webhooks when WEBHOOK_PATH is unset (`defaultWebhookPath` in probot/lib/server/server.js). */
export const PROBOT_WEBHOOK_PATH = "/api/github/webhooks";

/**
 * The paths where the server takes signed webhook deliveries. Probot serves only
 * WEBHOOK_PATH, and smee forwards there; but Probot's setup page registers the App's
 * webhook URL as the server's root (`${baseUrl}/`, probot/lib/manifest-creation.js),
 * and the root is what an operator naturally types after deploying. Both are served,
 * so the App works whichever its settings name.
 */
export function webhookPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set(["/", env.WEBHOOK_PATH || PROBOT_WEBHOOK_PATH])];
}

/**
 * Signed webhook deliveries POSTed to `/`, handled exactly as at WEBHOOK_PATH (Probot's
 * own middleware: the same signature check and answers). Other requests to `/` pass on.
 */
export async function rootWebhooks(app: Probot) {
  const middleware = await app.getNodeMiddleware({ path: "/" });
  return (req: IncomingMessage, res: ServerResponse): Promise<boolean> | false =>
    req.method === "POST" ? middleware(req, res) : false;
}

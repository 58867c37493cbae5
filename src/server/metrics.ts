import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Metrics } from "../metrics/metrics.js";
import type { Store } from "../store/store.js";
import { healthz } from "./healthz.js";

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * `GET /metrics`: every metric in Prometheus's text format. With `token`
 * (METRICS_TOKEN), only for requests that send `Authorization: Bearer <token>`.
 */
export function metricsRoute(metrics: Metrics, token: string | undefined): Route {
  return async (req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") return false;
    if (token !== undefined && !authorized(req.headers.authorization, token)) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="metrics"' });
      res.end("401: /metrics needs Authorization: Bearer <METRICS_TOKEN>\n");
      return true;
    }
    const text = await metrics.text();
    res.writeHead(200, { "content-type": metrics.contentType });
    res.end(text);
    return true;
  };
}

function authorized(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1] ?? "";
  // Compared as digests: equal lengths, which timingSafeEqual needs, and a comparison
  // whose time says nothing about how much of the token a guess got right, nor its length.
  return timingSafeEqual(sha256(given), sha256(token));
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * The HTTP server of `fly-preview worker` (METRICS_PORT), which has no webhook server
 * to share: /metrics, and /healthz for a platform's health checks. `host`: where to
 * listen (HOST, as for the server); every interface when unset, as a container needs.
 */
export async function serveMetrics(options: { port: number; host?: string; metrics: Metrics; store: Store; token?: string }): Promise<Server> {
  const routes: Route[] = [metricsRoute(options.metrics, options.token), healthz(options.store)];
  const server = createServer((req, res) => {
    const answer = async () => {
      for (const route of routes) if (await route(req, res)) return;
      res.writeHead(404, { "content-type": "text/plain" }).end("404: only /metrics and /healthz here\n");
    };
    answer().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host || undefined, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

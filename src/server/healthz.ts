import type { IncomingMessage, ServerResponse } from "node:http";
import type { Store } from "../store/store.js";

/** `GET /healthz`: 200 when the store answers, 503 when it does not. */
export function healthz(store: Store) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/healthz") return false;
    let ok = true;
    try {
      await store.ping();
    } catch {
      ok = false;
    }
    res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
    res.end(JSON.stringify({ ok, store: ok ? "reachable" : "unreachable" }));
    return true;
  };
}

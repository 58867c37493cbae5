import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { healthz } from "../src/server/healthz.js";
import { openStore } from "../src/store/store.js";
import { listen } from "./server-process.js";

async function serve(handler: ReturnType<typeof healthz>) {
  const server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

describe("GET /healthz", () => {
  it("answers 200 while the store is reachable, 503 once it is not", async () => {
    const store = await openStore("file::memory:");
    const server = await serve(healthz(store));
    try {
      const up = await fetch(`${server.url}/healthz`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ ok: true, store: "reachable" });
      expect((await fetch(`${server.url}/other`)).status).toBe(404);

      await store.close();
      const down = await fetch(`${server.url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ ok: false, store: "unreachable" });
    } finally {
      await server.close();
    }
  });
});

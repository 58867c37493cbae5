// Local development: GitHub delivers to a smee.io channel, and the server, started with
// WEBHOOK_PROXY_URL, forwards from it to itself. A small SSE server stands in for the
// channel, speaking what smee-client reads (an EventSource whose messages carry the
// delivery's headers and its JSON body, as smee.io sends them).
import { createHmac } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../src/store/store.js";
import { pullRequest, sha, TEST_PRIVATE_KEY, until } from "./harness.js";
import { freePort, listen, startServerProcess, type ServerProcess } from "./server-process.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

describe("WEBHOOK_PROXY_URL", () => {
  it("forwards deliveries from the smee channel to the server, signature and all", async () => {
    let channel: ServerResponse | undefined;
    const smee = createServer((req, res) => {
      if (req.url !== "/AbC123") return res.writeHead(404).end();
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      res.write(": ready\n\n");
      channel = res;
    });
    const smeePort = await listen(smee);
    cleanups.push(() => {
      smee.closeAllConnections();
      smee.close();
    });

    const cwd = mkdtempSync(join(tmpdir(), "fly-preview-smee-"));
    const db = join(cwd, "smee.db");
    const port = await freePort();
    const server: ServerProcess = startServerProcess(
      {
        APP_ID: "1",
        PRIVATE_KEY: TEST_PRIVATE_KEY,
        WEBHOOK_SECRET: "the-secret",
        WEBHOOK_PROXY_URL: `http://127.0.0.1:${smeePort}/AbC123`,
        PORT: String(port),
        HOST: "127.0.0.1",
        NODE_ENV: "development",
        GHE_HOST: "127.0.0.1:9",
        GHE_PROTOCOL: "http",
        DATABASE_URL: `file:${db}`,
      },
      { cwd },
    );
    cleanups.push(() => server.child.kill("SIGKILL"));
    await until("the server to connect to the channel", () => channel, 30_000);
    await until("/healthz", () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false), 30_000);

    const payload = pullRequest("opened", { sha: sha(1) });
    const body = JSON.stringify(payload);
    const message = {
      "x-github-event": "pull_request",
      "x-github-delivery": "smee-delivery-1",
      "x-hub-signature-256": `sha256=${createHmac("sha256", "the-secret").update(body).digest("hex")}`,
      "content-type": "application/json",
      body: payload,
      timestamp: Date.now(),
    };
    channel!.write(`data: ${JSON.stringify(message)}\n\n`);

    const store = await openStore(`file:${db}`);
    cleanups.push(() => store.close());
    const row = await until("the delivery to be recorded", async () => (await store.list())[0], 20_000);
    expect(row.number).toBe(2);
    expect(row.head_sha).toBe(sha(1));
    expect(server.output()).toContain(`Forwarding http://127.0.0.1:${smeePort}/AbC123`);
  });
});

// The load generator: signed pull_request deliveries sent over keep-alive
// connections with a fixed number in flight.
import { createHmac } from "node:crypto";
import { Agent, request } from "node:http";
import { pullRequest, sha } from "../test/harness.js";

export interface Delivery {
  id: string;
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * Builds every delivery before any timing starts, so JSON serialization and HMAC
 * signing (work GitHub does, not the server) never land inside a measured request.
 * Delivery `i` is a push of a new commit to one of `prs` pull requests, so every
 * delivery changes a desire instead of being a no-op repeat.
 */
export function buildDeliveries(count: number, prs: number, secret: string, idPrefix: string): Delivery[] {
  const deliveries: Delivery[] = [];
  for (let i = 0; i < count; i++) {
    const body = Buffer.from(JSON.stringify(pullRequest("synchronize", { sha: sha(i + 1), number: (i % prs) + 1 })));
    const id = `${idPrefix}-${i}`;
    deliveries.push({
      id,
      body,
      headers: {
        "content-type": "application/json",
        "content-length": String(body.length),
        "x-github-event": "pull_request",
        "x-github-delivery": id,
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
    });
  }
  return deliveries;
}

export interface LoadResult {
  /** Latency of every delivery answered with a 2xx, in order of completion. */
  samplesNs: bigint[];
  /** How many deliveries got each status ("error: …" when the request itself failed). */
  statuses: Record<string, number>;
  wallNs: bigint;
}

export interface Target {
  port: number;
  path: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Sends one delivery and resolves with its status and latency; never rejects. */
function send(agent: Agent, target: Target, delivery: Delivery): Promise<{ status: string; ns: bigint }> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = request(
      { agent, host: "127.0.0.1", port: target.port, path: target.path, method: "POST", headers: delivery.headers },
      (res) => {
        // The latency ends when the whole response has arrived: that is when GitHub
        // counts a delivery as acknowledged, and reading it frees the socket for reuse.
        res.on("data", () => {});
        res.on("end", () => resolve({ status: String(res.statusCode), ns: process.hrtime.bigint() - started }));
        res.on("error", (error) => resolve({ status: `error: ${error.message}`, ns: process.hrtime.bigint() - started }));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no response in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", (error) => resolve({ status: `error: ${error.message}`, ns: process.hrtime.bigint() - started }));
    req.end(delivery.body);
  });
}

/**
 * Closed-loop load: `concurrency` senders each take the next delivery as soon as
 * their previous one is answered, so exactly that many are in flight until the
 * list runs out. Sockets are kept alive and capped at `concurrency`, so after the
 * first round no connection set-up is measured.
 */
export async function drive(agent: Agent, target: Target, deliveries: readonly Delivery[], concurrency: number): Promise<LoadResult> {
  const samplesNs: bigint[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const started = process.hrtime.bigint();
  const sender = async () => {
    while (next < deliveries.length) {
      const delivery = deliveries[next++];
      const { status, ns } = await send(agent, target, delivery);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status.startsWith("2")) samplesNs.push(ns);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, deliveries.length) }, sender));
  return { samplesNs, statuses, wallNs: process.hrtime.bigint() - started };
}

export function keepAliveAgent(concurrency: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

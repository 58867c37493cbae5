import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { waitForHealthy } from "../src/preview/health.js";
import { listen } from "./server-process.js";

const PREVIEW = "https://pr-2-acme-web.fly.dev";

/** A fetch answering each URL from `routes` (status, and Location for a redirect); it records what was asked. */
function fakeFetch(routes: Record<string, [number, string?]>) {
  const asked: string[] = [];
  const doFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    asked.push(url);
    // Node's fetch follows redirects unless told otherwise: this one only plays "manual".
    expect(init?.redirect).toBe("manual");
    const [status, location] = routes[url] ?? [404];
    return new Response(null, { status, headers: location ? { location } : {} });
  }) as typeof fetch;
  return { doFetch, asked };
}

const poll = (path: string, doFetch: typeof fetch) => waitForHealthy(PREVIEW + path, { timeoutMs: 60, intervalMs: 20, fetch: doFetch });

describe("the health check", () => {
  it("follows a redirect within the preview, such as /healthz to /healthz2", async () => {
    const { doFetch, asked } = fakeFetch({
      [`${PREVIEW}/healthz`]: [302, "/healthz2"],
      [`${PREVIEW}/healthz2`]: [200],
    });
    expect(await poll("/healthz", doFetch)).toMatchObject({ ok: true });
    expect(asked).toEqual([`${PREVIEW}/healthz`, `${PREVIEW}/healthz2`]);
  });

  it("does not follow a redirect to another host, and says so without the target's path", async () => {
    const { doFetch, asked } = fakeFetch({ [`${PREVIEW}/healthz`]: [307, "http://169.254.169.254/latest/meta-data/?token=x"] });
    const result = await poll("/healthz", doFetch);
    expect(result).toMatchObject({ ok: false, lastProblem: "redirect to another host (169.254.169.254) is not followed" });
    expect(asked.every((url) => url === `${PREVIEW}/healthz`)).toBe(true);
  });

  it("does not follow a redirect from https down to http on the same host", async () => {
    const { doFetch, asked } = fakeFetch({ [`${PREVIEW}/healthz`]: [301, "http://pr-2-acme-web.fly.dev/healthz"] });
    expect(await poll("/healthz", doFetch)).toMatchObject({ ok: false, lastProblem: "redirect to http:// is not followed" });
    expect(asked.every((url) => url.startsWith("https:"))).toBe(true);
  });

  it("gives up on a redirect loop after five hops", async () => {
    const { doFetch, asked } = fakeFetch({ [`${PREVIEW}/a`]: [302, "/b"], [`${PREVIEW}/b`]: [302, "/a"] });
    const result = await waitForHealthy(`${PREVIEW}/a`, { timeoutMs: 1, intervalMs: 20, fetch: doFetch });
    expect(result).toMatchObject({ ok: false, lastProblem: "more than 5 redirects" });
    expect(asked).toHaveLength(6);
  });
});

describe("the health check with Node's own fetch", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
  });

  it("never reaches the address a preview redirects to", async () => {
    let reached = 0;
    const elsewhere = createServer((_req, res) => {
      reached++;
      res.end("internal");
    });
    servers.push(elsewhere);
    const elsewherePort = await listen(elsewhere);
    const preview = createServer((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${elsewherePort}/` }).end();
    });
    servers.push(preview);
    const previewPort = await listen(preview);

    const result = await waitForHealthy(`http://127.0.0.1:${previewPort}/healthz`, { timeoutMs: 60, intervalMs: 20 });
    expect(result).toMatchObject({ ok: false, lastProblem: `redirect to another host (127.0.0.1:${elsewherePort}) is not followed` });
    expect(reached).toBe(0);
  });
});

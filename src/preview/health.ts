export interface HealthResult {
  ok: boolean;
  durationMs: number;
  lastProblem?: string; // e.g. "HTTP 502" or "connection refused"
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Polls `url` until it answers 2xx or `timeoutMs` passes. A fresh Fly machine takes
 * a few seconds to start, so early failures are expected and only the last one is
 * reported.
 */
export async function waitForHealthy(
  url: string,
  opts: { timeoutMs: number; intervalMs?: number; fetch?: typeof fetch; signal?: AbortSignal },
): Promise<HealthResult> {
  const doFetch = opts.fetch ?? fetch;
  const intervalMs = opts.intervalMs ?? 2000;
  const started = Date.now();
  let lastProblem: string | undefined;
  for (;;) {
    opts.signal?.throwIfAborted();
    const remaining = opts.timeoutMs - (Date.now() - started);
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(Math.max(1000, Math.min(10_000, remaining))), ...(opts.signal ? [opts.signal] : [])]);
      lastProblem = await check(url, doFetch, signal);
      if (lastProblem === undefined) return { ok: true, durationMs: Date.now() - started };
    } catch (error) {
      opts.signal?.throwIfAborted();
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      lastProblem = cause?.code ?? cause?.message ?? (error as Error).message;
    }
    if (Date.now() - started + intervalMs > opts.timeoutMs) {
      return { ok: false, durationMs: Date.now() - started, lastProblem };
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * One request, following redirects only within the preview's own host: the preview's
 * code decides where it redirects, and following it elsewhere would make fly-preview
 * fetch any address it names (an internal one, say) and report the status on GitHub.
 * Undefined when it answered 2xx, otherwise what went wrong.
 */
async function check(url: string, doFetch: typeof fetch, signal: AbortSignal): Promise<string | undefined> {
  const origin = new URL(url);
  let target = origin;
  for (let hop = 0; ; hop++) {
    const response = await doFetch(target, { redirect: "manual", signal });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return undefined;
    const location = response.headers.get("location");
    if (!REDIRECTS.has(response.status) || location === null) return `HTTP ${response.status}`;
    if (hop === MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`;
    let next: URL;
    try {
      next = new URL(location, target);
    } catch {
      return `HTTP ${response.status} with a Location that is not a URL`;
    }
    // Only the host, never the path or query: the preview chose them.
    if (next.host !== origin.host) return `redirect to another host (${next.host || next.protocol}) is not followed`;
    // http→https (force_https) is fine; a step down from https is not.
    if (next.protocol !== origin.protocol && next.protocol !== "https:") return `redirect to ${next.protocol}// is not followed`;
    target = next;
  }
}

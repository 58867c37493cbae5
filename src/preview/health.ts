export interface HealthResult {
  ok: boolean;
  durationMs: number;
  lastProblem?: string; // e.g. "HTTP 502" or "connection refused"
}

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
      const response = await doFetch(url, {
        redirect: "follow",
        signal: AbortSignal.any([AbortSignal.timeout(Math.max(1000, Math.min(10_000, remaining))), ...(opts.signal ? [opts.signal] : [])]),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return { ok: true, durationMs: Date.now() - started };
      lastProblem = `HTTP ${response.status}`;
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

// Summary figures for one run's latencies. Samples are nanoseconds from
// process.hrtime.bigint(); figures are milliseconds, which is what the targets use.

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  min: number;
}

/**
 * Nearest-rank percentile: the smallest sample with at least p% of samples at or
 * below it. It is always a latency that was really observed, which keeps p99 of
 * 2,000 samples honest (the 1,980th) instead of interpolating between two of them.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samplesNs: readonly bigint[]): Summary {
  // Milliseconds as floats: 2^53 ns is 104 days, so no precision is lost here.
  const ms = samplesNs.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  const total = ms.reduce((sum, v) => sum + v, 0);
  return {
    count: ms.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    mean: ms.length ? total / ms.length : Number.NaN,
    max: ms.length ? ms[ms.length - 1] : Number.NaN,
    min: ms.length ? ms[0] : Number.NaN,
  };
}

/** Two decimals: sub-millisecond differences matter at these latencies. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

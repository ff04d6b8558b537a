// Summary statistics for trials (failover times, latencies).
//
// Percentiles use the NEAREST-RANK method: the p-th percentile of n sorted values is the value of
// rank ⌈p/100 · n⌉ (1-based, clamped to 1…n). It is always a value that was observed, is exact
// for small trial counts, and p100 = max. (With n = 20 trials, p95 is the 19th value and p99 the
// 20th, i.e. the max.) `percentileLinear` gives the interpolated alternative (the "R-7" / NumPy
// default method) when a smooth estimate is wanted; reports say which one they show.
export interface Summary {
  n: number;
  min: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be in [0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Linear-interpolation percentile: value at position (n − 1)·p/100 of an ascending array. */
export function percentileLinear(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be in [0, 100], got ${p}`);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** n, min, nearest-rank median/p95/p99, max and mean of values (NaN fields when empty). */
export function summarize(values: readonly number[]): Summary {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? NaN,
    median: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.at(-1) ?? NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
  };
}

/** Population standard deviation / mean (NaN when empty or the mean is 0). */
export function coefficientOfVariation(values: readonly number[]): number {
  if (!values.length) return NaN;
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  if (m === 0) return NaN;
  const v = values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length;
  return Math.sqrt(v) / m;
}

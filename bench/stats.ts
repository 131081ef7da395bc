/** Percentiles and summaries of latency samples (milliseconds). */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(values: number[]): Summary {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    n: sorted.length,
    mean: round(sorted.length ? sum / sorted.length : NaN),
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable to Date.now() and event timestamps. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The probabilities (in %) a result keeps its latency distributions at: enough to draw a CDF. */
export const CDF_PERCENTS: readonly number[] = [...Array.from({ length: 100 }, (_, i) => i), 99.5, 99.9, 100];

/** Latency (ms) at each of CDF_PERCENTS: a CDF small enough to keep in every result file. */
export function cdf(values: number[]): number[] {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  return CDF_PERCENTS.map((p) => Math.round((p === 0 ? sorted[0]! : percentile(sorted, p)) * 100) / 100);
}

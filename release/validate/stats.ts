// Pure statistics of a validation run: percentiles, rates and availability over time windows. No I/O and
// no clock of its own, so every number in a report can be recomputed from the samples in a unit test.

/** Nearest-rank percentile (the value at rank ceil(p/100 × n)) of unsorted samples; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile must be 0..100, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0)
    return { count: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1]! };
}

/** part / whole, or null when there is nothing to divide (a rate of nothing is not 0 %). */
export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** Events per second over an elapsed time in ms; 0 for an empty interval. */
export function perSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : 0;
}

export interface ProbeSample {
  /** Milliseconds since the run began. */
  readonly at: number;
  readonly ok: boolean;
}

export interface Availability {
  /** Share of probes that succeeded, null without probes. */
  readonly ratio: number | null;
  readonly probes: number;
  readonly failed: number;
  /** Per window: [start ms, probes, failed]; the worst window shows a short outage a run-wide ratio hides. */
  readonly windows: readonly { readonly start: number; readonly probes: number; readonly failed: number }[];
  /** Lowest availability of any window that had probes (null without probes). */
  readonly worstWindow: number | null;
}

/** Availability of a health probe overall and per fixed window of `windowMs`. */
export function availability(samples: readonly ProbeSample[], windowMs: number): Availability {
  if (windowMs <= 0) throw new RangeError('windowMs must be positive');
  const byWindow = new Map<number, { start: number; probes: number; failed: number }>();
  let failed = 0;
  for (const s of samples) {
    const start = Math.floor(s.at / windowMs) * windowMs;
    let w = byWindow.get(start);
    if (!w) {
      w = { start, probes: 0, failed: 0 };
      byWindow.set(start, w);
    }
    w.probes++;
    if (!s.ok) {
      w.failed++;
      failed++;
    }
  }
  const windows = [...byWindow.values()].sort((a, b) => a.start - b.start);
  let worst: number | null = null;
  for (const w of windows) {
    const a = (w.probes - w.failed) / w.probes;
    if (worst === null || a < worst) worst = a;
  }
  return {
    ratio: ratio(samples.length - failed, samples.length),
    probes: samples.length,
    failed,
    windows,
    worstWindow: worst,
  };
}

/**
 * The sustained rate: the median of per-second completions over the full seconds of the run, so a
 * fast start or a slow tail (warm-up, the last second cut short) does not stand in for the whole run.
 */
export function sustainedRate(completionTimesMs: readonly number[], durationMs: number): number {
  const seconds = Math.floor(durationMs / 1000);
  if (seconds < 1) return perSecond(completionTimesMs.length, durationMs);
  const buckets = new Array<number>(seconds).fill(0);
  for (const t of completionTimesMs) {
    const i = Math.floor(t / 1000);
    if (i >= 0 && i < seconds) buckets[i]!++;
  }
  return percentile(buckets, 50);
}

/**
 * The `q` quantile (0..1) of a Prometheus histogram given as cumulative bucket counts (le → count), by
 * linear interpolation inside the bucket as histogram_quantile() does. Null when the histogram is empty;
 * a quantile in the +Inf bucket answers the highest finite bound.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  if (bounds.length === 0) return null;
  const total = buckets.get(bounds[bounds.length - 1]!) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound)!;
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return prevBound;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? bound : prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

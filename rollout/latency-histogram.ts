// Fixed latency bucket bounds shared by every replica, so histograms from several replicas (and several
// seconds) add up bucket by bucket. Dense where the default thresholds sit (tens of ms), sparse beyond 1 s.

/** Upper bounds (inclusive, ms) of every bucket but the last; the last bucket holds everything above. */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  0.5, 1, 2, 3, 4, 5, 7.5, 10, 12.5, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 70, 80, 90, 100, 125, 150, 200,
  250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000,
]);

/** Number of histogram buckets, including the overflow bucket above the last bound. */
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

// A typed copy for the hot path: indexing a Float64Array never deopts on holes.
const BOUNDS = Float64Array.from(LATENCY_BOUNDS_MS);

/** The bucket of a latency: the first whose upper bound is >= ms (binary search, no allocation). */
export function bucketIndex(ms: number): number {
  let lo = 0;
  let hi = BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= BOUNDS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The q-quantile (0..1) of a histogram, linearly interpolated inside the bucket that holds the rank, the
 * way Prometheus' histogram_quantile does. The overflow bucket has no upper bound, so a rank that lands
 * there reports the last finite bound: a lower bound on the truth, still far above any sane threshold.
 */
export function quantile(hist: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  if (total === 0) return 0;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < hist.length; i++) {
    const count = hist[i]!;
    if (count > 0 && cumulative + count >= rank) {
      if (i >= BOUNDS.length) return BOUNDS[BOUNDS.length - 1]!;
      const lower = i === 0 ? 0 : BOUNDS[i - 1]!;
      const upper = BOUNDS[i]!;
      return lower + ((upper - lower) * (rank - cumulative)) / count;
    }
    cumulative += count;
  }
  return BOUNDS[BOUNDS.length - 1]!;
}

import { LATENCY_BUCKETS, quantile } from './latency-histogram.js';

/** Raw, additive counts of one window: what replicas and seconds are summed as. */
export interface WindowCounts {
  requests: number;
  /** 5xx answers and transport failures. */
  errors: number;
  /** LATENCY_BUCKETS counts, bounds in latency-histogram.ts. */
  hist: number[];
}

/** What the analysis and the operators read: derived from WindowCounts, never summed. */
export interface WindowSummary {
  /** Length of the window in seconds. */
  readonly seconds: number;
  readonly requests: number;
  readonly errors: number;
  /** errors / requests, 0 without requests. */
  readonly errorRate: number;
  /** requests / seconds. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

export function emptyCounts(): WindowCounts {
  return { requests: 0, errors: 0, hist: new Array<number>(LATENCY_BUCKETS).fill(0) };
}

/** Adds `from` into `into` (windows of several replicas or seconds merge by plain addition). */
export function addCounts(into: WindowCounts, from: WindowCounts): WindowCounts {
  into.requests += from.requests;
  into.errors += from.errors;
  for (let i = 0; i < LATENCY_BUCKETS; i++) into.hist[i]! += from.hist[i] ?? 0;
  return into;
}

export function mergeCounts(...windows: WindowCounts[]): WindowCounts {
  return windows.reduce(addCounts, emptyCounts());
}

export function summarise(counts: WindowCounts, seconds: number): WindowSummary {
  const { requests, errors, hist } = counts;
  return {
    seconds,
    requests,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    rps: seconds > 0 ? requests / seconds : 0,
    p50Ms: quantile(hist, 0.5),
    p95Ms: quantile(hist, 0.95),
    p99Ms: quantile(hist, 0.99),
  };
}

import type { WindowSummary } from './window-counts.js';

/** Flagger's request-success-rate and request-duration checks, plus a comparison with the stable colour. */
export interface Thresholds {
  /** Highest passing error rate (5xx + transport errors) of the candidate, 0..1. Equal passes. */
  readonly maxErrorRate: number;
  /** Highest passing candidate p99 in ms. Equal passes. */
  readonly maxP99Ms: number;
  /** When set, the candidate's p99 may be at most this multiple of the stable colour's p99. */
  readonly maxP99Ratio?: number | undefined;
  /** Fewer candidate requests than this make the analysis inconclusive. */
  readonly minRequests: number;
}

export type AnalysisOutcome = 'pass' | 'fail' | 'inconclusive';

export interface Analysis {
  readonly outcome: AnalysisOutcome;
  /** One sentence per failed (or unjudgeable) check, with the numbers; empty on pass. */
  readonly reasons: readonly string[];
  readonly candidate: WindowSummary;
  readonly stable: WindowSummary;
  /** The candidate p99 limit that applied: min(maxP99Ms, ratio × stable p99 when judgeable). */
  readonly p99LimitMs: number;
}

const pct = (rate: number): string => `${(rate * 100).toFixed(2)}%`;
const ms = (value: number): string => `${value.toFixed(1)} ms`;

/**
 * Judges one interval. Too little candidate traffic is inconclusive rather than a failure: a quiet hour
 * says nothing about the release. The ratio check needs stable traffic too (minRequests of it); without
 * it, e.g. at the 100 % step, only the absolute limits apply.
 */
export function analyse(candidate: WindowSummary, stable: WindowSummary, thresholds: Thresholds): Analysis {
  const { maxErrorRate, maxP99Ms, maxP99Ratio, minRequests } = thresholds;
  const ratioApplies = maxP99Ratio !== undefined && stable.requests >= Math.max(1, minRequests);
  const ratioLimit = ratioApplies ? maxP99Ratio * stable.p99Ms : Number.POSITIVE_INFINITY;
  const p99LimitMs = Math.min(maxP99Ms, ratioLimit);
  const base = { candidate, stable, p99LimitMs };

  if (candidate.requests === 0 || candidate.requests < minRequests) {
    return {
      ...base,
      outcome: 'inconclusive',
      reasons: [
        `${candidate.requests} candidate requests in ${candidate.seconds}s, fewer than minRequests ${minRequests}`,
      ],
    };
  }
  const reasons: string[] = [];
  if (candidate.errorRate > maxErrorRate) {
    reasons.push(
      `error rate ${pct(candidate.errorRate)} (${candidate.errors}/${candidate.requests}) above maxErrorRate ${pct(maxErrorRate)}`,
    );
  }
  if (candidate.p99Ms > maxP99Ms) {
    reasons.push(`p99 ${ms(candidate.p99Ms)} above maxP99Ms ${ms(maxP99Ms)}`);
  }
  if (ratioApplies && candidate.p99Ms > ratioLimit) {
    reasons.push(
      `p99 ${ms(candidate.p99Ms)} above ${maxP99Ratio} × stable p99 ${ms(stable.p99Ms)} = ${ms(ratioLimit)}`,
    );
  }
  return { ...base, outcome: reasons.length === 0 ? 'pass' : 'fail', reasons };
}

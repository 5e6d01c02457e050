// The gateway's own policy decision latency: the acgs_policy_evaluation_seconds histogram of every
// replica, as the difference between two snapshots (what happened during the run, not since start).
import type { Snapshot } from './admin.js';
import { bucketDelta, bucketsOf } from './metrics-text.js';
import { histogramQuantile } from './stats.js';

export const DECISION_HISTOGRAM = 'acgs_policy_evaluation_seconds';

export interface DecisionLatency {
  /** Decisions counted between the snapshots over all replicas. */
  readonly decisions: number;
  readonly p99Ms: number | null;
  readonly unreachable: readonly string[];
}

export function decisionLatency(before: Snapshot, after: Snapshot): DecisionLatency {
  const merged = new Map<number, number>();
  const unreachable: string[] = [];
  for (const [admin, samples] of after.byAdmin) {
    const earlier = before.byAdmin.get(admin);
    if (samples instanceof Error || earlier === undefined || earlier instanceof Error) {
      unreachable.push(admin);
      continue;
    }
    const delta = bucketDelta(bucketsOf(earlier, DECISION_HISTOGRAM), bucketsOf(samples, DECISION_HISTOGRAM));
    for (const [le, count] of delta) merged.set(le, (merged.get(le) ?? 0) + count);
  }
  const decisions = merged.get(Number.POSITIVE_INFINITY) ?? 0;
  const q = histogramQuantile(0.99, merged);
  return { decisions, p99Ms: q === null ? null : q * 1000, unreachable };
}

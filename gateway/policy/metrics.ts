// The policy metrics, created once per registry so the manager (bundle loads) and the stage
// (decisions) share them whichever is constructed first.
import { Counter, Gauge, type Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../metrics/hot-metrics.js';

export interface PolicyMetrics {
  readonly decisions: HotCounter;
  readonly evaluationSeconds: HotHistogram;
  readonly bundleInfo: Gauge<'revision'>;
  readonly loadFailures: Counter<'reason'>;
  /** Filled at scrape time from the active engine's cache (no per-request metric call). */
  readonly decisionCache: Counter<'result'>;
  readonly decisionCacheEntries: Gauge<string>;
}

const byRegistry = new WeakMap<Registry, PolicyMetrics>();

export function policyMetrics(registry: Registry): PolicyMetrics {
  let m = byRegistry.get(registry);
  if (m) return m;
  m = {
    // Both touched per request: hot metrics (metrics/hot-metrics.ts).
    decisions: new HotCounter(
      'acgs_policy_decisions_total',
      'Policy decisions by result (allow, deny, bad_request, error)',
      ['result'],
      registry,
    ),
    // In-process wasm decisions take microseconds; buckets from 10 µs to 50 ms.
    evaluationSeconds: new HotHistogram(
      'acgs_policy_evaluation_seconds',
      'Time to build the input and evaluate the policy',
      [],
      [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registry,
    ),
    bundleInfo: new Gauge({
      name: 'acgs_policy_bundle_info',
      help: 'The active policy bundle (value 1, revision as label)',
      labelNames: ['revision'],
      registers: [registry],
    }),
    loadFailures: new Counter({
      name: 'acgs_policy_bundle_load_failures_total',
      help: 'Policy bundles refused or not fetched, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    decisionCache: new Counter({
      name: 'acgs_policy_decision_cache_lookups_total',
      help: 'Decision cache lookups by result (hit, miss); none when the cache is off or unsound for the bundle',
      labelNames: ['result'],
      registers: [registry],
    }),
    decisionCacheEntries: new Gauge({
      name: 'acgs_policy_decision_cache_entries',
      help: "Decisions held by the active bundle's cache (emptied by every bundle swap)",
      registers: [registry],
    }),
  };
  byRegistry.set(registry, m);
  return m;
}

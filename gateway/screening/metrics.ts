// Screening metrics, created once per registry. Label sets stay small: categories and rule ids come
// from the ruleset (tens), skip reasons are a fixed list.
import { Counter, Gauge, type Registry } from 'prom-client';
import { HotHistogram } from '../metrics/hot-metrics.js';

export interface ScreeningMetrics {
  readonly matches: Counter<'category' | 'rule'>;
  readonly skipped: Counter<'reason'>;
  readonly seconds: HotHistogram;
  readonly rulesetInfo: Gauge<'revision'>;
  readonly reloads: Counter<'result'>;
  /** Values answered from the clean-value cache (hit) or inspected (miss); filled at scrape time. */
  readonly cleanValues: Counter<'result'>;
}

export const SKIP_REASONS = [
  'too_large',
  'content_type',
  'encoding',
  'unknown_length',
  'timeout',
  'truncated',
] as const;

const byRegistry = new WeakMap<Registry, ScreeningMetrics>();

export function screeningMetrics(registry: Registry): ScreeningMetrics {
  let m = byRegistry.get(registry);
  if (m) return m;
  m = {
    matches: new Counter({
      name: 'acgs_screening_matches_total',
      help: 'Screening rule matches by category and rule (the policy decides what a match means)',
      labelNames: ['category', 'rule'],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'acgs_screening_skipped_total',
      help: 'Inspections skipped or incomplete, by reason (body too_large, content_type, encoding, unknown_length; timeout; truncated)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    // A request without a body takes tens of microseconds; buckets from 5 µs to 50 ms.
    seconds: new HotHistogram(
      'acgs_screening_seconds',
      'Time to screen a request (collecting values and the engine run; not reading the body)',
      [],
      [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registry,
    ),
    rulesetInfo: new Gauge({
      name: 'acgs_screening_ruleset_info',
      help: 'The active screening ruleset (value 1, revision as label)',
      labelNames: ['revision'],
      registers: [registry],
    }),
    reloads: new Counter({
      name: 'acgs_screening_ruleset_loads_total',
      help: 'Screening ruleset loads by result (ok, refused)',
      labelNames: ['result'],
      registers: [registry],
    }),
    cleanValues: new Counter({
      name: 'acgs_screening_clean_value_lookups_total',
      help: 'Request values known clean from an earlier inspection under the same ruleset (hit) or inspected (miss)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
  for (const reason of SKIP_REASONS) m.skipped.labels({ reason }).inc(0);
  byRegistry.set(registry, m);
  return m;
}

/**
 * The clean-value cache counts in plain integers on the hot path; each scrape adds what changed since
 * the last one (a rules swap brings a new cache, counted from zero).
 */
export function exportCleanValueCounts(
  metrics: ScreeningMetrics,
  current: () => { readonly hits: number; readonly misses: number },
): void {
  let seen: object | null = null;
  let hits = 0;
  let misses = 0;
  const hit = metrics.cleanValues.labels({ result: 'hit' });
  const miss = metrics.cleanValues.labels({ result: 'miss' });
  hit.inc(0);
  miss.inc(0);
  (metrics.cleanValues as unknown as { collect?: () => void }).collect = () => {
    const cache = current();
    if (cache !== seen) {
      seen = cache;
      hits = 0;
      misses = 0;
    }
    hit.inc(cache.hits - hits);
    miss.inc(cache.misses - misses);
    hits = cache.hits;
    misses = cache.misses;
  };
}

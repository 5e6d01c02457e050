// Screening metrics, created once per registry. Label sets stay small: categories and rule ids come
// from the ruleset (tens), skip reasons are a fixed list.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ScreeningMetrics {
  readonly matches: Counter<'category' | 'rule'>;
  readonly skipped: Counter<'reason'>;
  readonly seconds: Histogram<string>;
  readonly rulesetInfo: Gauge<'revision'>;
  readonly reloads: Counter<'result'>;
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
    seconds: new Histogram({
      name: 'acgs_screening_seconds',
      help: 'Time to screen a request (collecting values and the engine run; not reading the body)',
      buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registers: [registry],
    }),
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
  };
  for (const reason of SKIP_REASONS) m.skipped.labels({ reason }).inc(0);
  byRegistry.set(registry, m);
  return m;
}

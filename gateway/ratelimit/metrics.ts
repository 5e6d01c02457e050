// Prometheus series of the rate-limit stage. Label sets stay small: the limit name (from configuration,
// bounded) and a fixed result or reason; never the client key.
import { Counter, Gauge, type Registry } from 'prom-client';
import { type HotCounter, hotCounter } from '../metrics/hot-metrics.js';
import type { UnavailableReason } from './store.js';

export type DecisionResult = 'allowed' | 'limited' | 'fallback_allowed' | 'fallback_limited' | 'unavailable';

export interface RateLimitMetrics {
  /** One per decision; fallback_* were made by the memory store while Redis was unreachable. */
  readonly decisions: HotCounter;
  /** Decisions that could not use Redis, by reason (each one fell back or, with failMode closed, answered 503). */
  readonly redisFailures: Counter<'reason'>;
  /** 1 while the last Redis decision succeeded, 0 after a failure. */
  readonly redisUp: Gauge;
  /** Batched limits: sync calls to Redis by result (ok, error, timeout). Per decision: divide by decisions. */
  readonly syncs: Counter<'result'>;
}

/** Reuses series already in the registry, so stages can be rebuilt (configuration reload, tests) on one registry. */
export function createRateLimitMetrics(registry: Registry): RateLimitMetrics {
  // One per decision: a hot counter (metrics/hot-metrics.ts).
  const decisions = hotCounter(
    registry,
    'acgs_ratelimit_decisions_total',
    'Rate-limit decisions by limit and result',
    ['limit', 'result'],
  );
  const redisFailures =
    (registry.getSingleMetric('acgs_ratelimit_redis_failures_total') as Counter<'reason'> | undefined) ??
    new Counter({
      name: 'acgs_ratelimit_redis_failures_total',
      help: 'Rate-limit decisions that could not use Redis, by reason (timeout, disconnected, backoff, error)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
  const redisUp =
    (registry.getSingleMetric('acgs_ratelimit_redis_up') as Gauge | undefined) ??
    new Gauge({
      name: 'acgs_ratelimit_redis_up',
      help: '1 while rate-limit decisions reach Redis, 0 while they fall back',
      registers: [registry],
    });
  const syncs =
    (registry.getSingleMetric('acgs_ratelimit_redis_syncs_total') as Counter<'result'> | undefined) ??
    new Counter({
      name: 'acgs_ratelimit_redis_syncs_total',
      help: 'Batched rate-limit syncs sent to Redis, by result (ok, error, timeout)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
  return { decisions, redisFailures, redisUp, syncs };
}

export const UNAVAILABLE_REASONS: readonly UnavailableReason[] = [
  'timeout',
  'disconnected',
  'backoff',
  'error',
];

// Prometheus counters of the JWT stage. Label children are bound once so the hot path only increments.
import { Counter, type Registry } from 'prom-client';
import { hotCounter } from '../metrics/hot-metrics.js';
import { REJECTION_REASONS, type RejectionReason } from './rejection.js';

export type VerificationResult = 'valid' | RejectionReason;

export interface AuthMetrics {
  readonly cacheHits: { inc(): void };
  readonly cacheMisses: { inc(): void };
  /** One per signature verification (cache misses only), by result. */
  readonly verifications: Readonly<Record<VerificationResult, { inc(): void }>>;
}

export function createAuthMetrics(registry: Registry): AuthMetrics {
  // Touched on every request with a token: hot counters (metrics/hot-metrics.ts).
  const cacheHits = hotCounter(
    registry,
    'acgs_jwt_cache_hits_total',
    'Bearer tokens answered from the verified-token cache',
  );
  const cacheMisses = hotCounter(
    registry,
    'acgs_jwt_cache_misses_total',
    'Bearer tokens not found (or expired) in the verified-token cache',
  );
  const verifications = counter(
    registry,
    'acgs_jwt_verifications_total',
    'Bearer token verifications (cache misses), by result: valid or the rejection reason',
    ['result'],
  );
  const byResult = {} as Record<VerificationResult, { inc(): void }>;
  for (const result of ['valid', ...REJECTION_REASONS] as const)
    byResult[result] = verifications.labels(result);
  return { cacheHits, cacheMisses, verifications: byResult };
}

/** Reuses a counter already in the registry (a second stage on the same registry, e.g. on reload). */
function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

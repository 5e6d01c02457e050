// Whether Redis answers rate-limit decisions. Logs a state change once (outage, recovery), never per
// request: during an outage every request would otherwise log.

import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { type RateLimitMetrics, UNAVAILABLE_REASONS } from './metrics.js';
import type { UnavailableReason } from './store.js';

export class RedisHealth {
  up = true;
  private readonly failures: Record<UnavailableReason, Counter.Internal>;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: RateLimitMetrics,
  ) {
    // Children resolved once: labels() hashes its arguments on every call.
    const failures = {} as Record<UnavailableReason, Counter.Internal>;
    for (const reason of UNAVAILABLE_REASONS) failures[reason] = metrics.redisFailures.labels(reason);
    this.failures = failures;
    metrics.redisUp.set(1);
  }

  /** A decision could not use Redis: counted, and logged when it is the first since Redis last answered. */
  failure(reason: UnavailableReason, cause: unknown): void {
    this.failures[reason].inc();
    this.down(reason, cause);
  }

  /** Redis failed outside a decision (a batched sync): logged once, no decision counted. */
  down(reason: UnavailableReason, cause: unknown): void {
    if (!this.up) return;
    this.up = false;
    this.metrics.redisUp.set(0);
    this.logger.warn(
      { reason, err: cause },
      'rate limit: Redis unavailable; limits use their failMode (open: per-replica memory, closed: 503)',
    );
  }

  success(): void {
    if (this.up) return;
    this.up = true;
    this.metrics.redisUp.set(1);
    this.logger.info('rate limit: Redis answers again; decisions are shared again');
  }
}

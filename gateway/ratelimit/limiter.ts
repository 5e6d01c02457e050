// One configured limit: asks its store, and when Redis cannot answer applies the limit's failMode.
import { Errors, GatewayError } from '../../core/errors.js';
import type { CounterSeries } from '../metrics/hot-metrics.js';
import { MutableDecision } from './batched-counter.js';
import type { BatchedStore } from './batched-store.js';
import type { LimitConfig } from './config.js';
import type { MemoryStore } from './memory-store.js';
import type { DecisionResult, RateLimitMetrics } from './metrics.js';
import type { RedisHealth } from './redis-health.js';
import { type LimitDecision, type RateLimitStore, StoreUnavailableError } from './store.js';

export interface LimiterOptions {
  readonly config: LimitConfig;
  /** The Redis store, or the memory store when no Redis is configured. */
  readonly store: RateLimitStore;
  /** Memory store used by failMode open while Redis is unreachable; null without Redis. */
  readonly fallback: MemoryStore | null;
  readonly health: RedisHealth | null;
  readonly metrics: RateLimitMetrics;
  /** Replicas sharing the limit; the fallback enforces this replica's share of it. */
  readonly replicas: number;
  /** Set for `sync: batched` limits on Redis: decided locally, synchronised in batches (then `store` is unused). */
  readonly batched?: BatchedStore | null;
  /** Local admissions of a key that trigger its sync (batched only). */
  readonly maxLocalHits?: number;
}

export class Limiter {
  readonly config: LimitConfig;
  private readonly store: RateLimitStore;
  private readonly fallback: MemoryStore | null;
  private readonly health: RedisHealth | null;
  /** ceil so that a small limit spread over many replicas still admits someone. */
  private readonly fallbackLimit: number;
  private readonly counters: Record<DecisionResult, CounterSeries>;
  private readonly batched: BatchedStore | null;
  private readonly maxLocalHits: number;
  /**
   * The batched store writes its answers here: no object per decision. The stage reads a decision before
   * this limiter decides again, except with several tiers of which one waits for Redis (it copies then).
   */
  private readonly scratch = new MutableDecision();

  constructor(opts: LimiterOptions) {
    this.config = opts.config;
    this.store = opts.store;
    this.fallback = opts.fallback;
    this.health = opts.health;
    this.fallbackLimit = Math.ceil(opts.config.limit / opts.replicas);
    this.batched = opts.batched ?? null;
    this.maxLocalHits = opts.maxLocalHits ?? 1;
    const d = opts.metrics.decisions;
    const name = opts.config.name;
    this.counters = {
      allowed: d.labels(name, 'allowed'),
      limited: d.labels(name, 'limited'),
      fallback_allowed: d.labels(name, 'fallback_allowed'),
      fallback_limited: d.labels(name, 'fallback_limited'),
      unavailable: d.labels(name, 'unavailable'),
    };
  }

  /**
   * Counts one request of `key`. Synchronous with the memory store and batched limits (the answer may be
   * the limiter's reused scratch object); per-request on Redis, a promise that settles within the Redis
   * timeout. Rejects with a 503 GatewayError when Redis fails and failMode is closed.
   */
  decide(key: string, nowMs: number): LimitDecision | Promise<LimitDecision> {
    const c = this.config;
    const b = this.batched;
    if (b !== null) {
      // Never waits: local counts plus the fleet's last known total, or the failMode when Redis is distrusted.
      const local = b.hit(key, c.limit, c.windowMs, this.maxLocalHits, nowMs, this.scratch);
      return local !== null ? this.counted(local) : this.onUnavailable(b.unavailable, key, nowMs);
    }
    const d = this.store.hit(key, c.limit, c.windowMs, c.algorithm, nowMs);
    if (!(d instanceof Promise)) return this.counted(d);
    return d.then(this.onShared, (err: unknown) => this.onUnavailable(err, key, nowMs));
  }

  private counted(d: LimitDecision): LimitDecision {
    (d.allowed ? this.counters.allowed : this.counters.limited).inc();
    return d;
  }

  // An arrow property, not a method: passed to then() on every decision without binding a closure each time.
  private readonly onShared = (d: LimitDecision): LimitDecision => {
    this.health?.success();
    return this.counted(d);
  };

  private onUnavailable(err: unknown, key: string, nowMs: number): LimitDecision {
    const reason = err instanceof StoreUnavailableError ? err.reason : 'error';
    this.health?.failure(
      reason,
      err instanceof StoreUnavailableError && reason === 'error' ? err.cause : err,
    );
    const c = this.config;
    if (c.failMode === 'closed' || this.fallback === null) {
      this.counters.unavailable.inc();
      throw new GatewayError(Errors.RATE_LIMIT_UNAVAILABLE, undefined, { 'retry-after': '1' });
    }
    const d = this.fallback.hit(key, this.fallbackLimit, c.windowMs, c.algorithm, nowMs);
    (d.allowed ? this.counters.fallback_allowed : this.counters.fallback_limited).inc();
    return d;
  }
}

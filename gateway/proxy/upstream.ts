import CircuitBreaker from 'opossum';
import { Pool } from 'undici';
import type { BreakerConfig, TimeoutsConfig } from '../config/schema.js';
import { isTransportFailure } from './upstream-errors.js';

export type BreakerState = 'closed' | 'half_open' | 'open';

type Attempt<T> = () => Promise<T>;

/**
 * One upstream URL: its keep-alive connection pool and its circuit breaker. The breaker counts only
 * transport failures (refused, reset, timeouts) — an HTTP 500 is the application's answer and the rollout
 * controller's business, not a reason to take the host out.
 */
export class Upstream {
  readonly url: string;
  readonly origin: string;
  /** Path of the upstream URL ('' or '/base'), prepended to the service-relative path. */
  readonly basePath: string;
  readonly pool: Pool;
  readonly #breaker: CircuitBreaker<[Attempt<unknown>], unknown>;

  constructor(
    url: string,
    timeouts: TimeoutsConfig,
    breaker: BreakerConfig,
    connections: number,
    keepAlive: number,
  ) {
    const parsed = new URL(url);
    this.url = url;
    this.origin = parsed.origin;
    this.basePath = parsed.pathname === '/' ? '' : parsed.pathname.replace(/\/+$/, '');
    this.pool = new Pool(this.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: keepAlive,
      keepAliveMaxTimeout: keepAlive,
      headersTimeout: timeouts.headers,
      bodyTimeout: timeouts.body,
      connect: { timeout: timeouts.connect },
    });
    this.#breaker = new CircuitBreaker((attempt: Attempt<unknown>) => attempt(), {
      timeout: false, // undici enforces connect/headers/body timeouts itself
      errorThresholdPercentage: breaker.errorThresholdPercentage,
      volumeThreshold: breaker.volumeThreshold,
      resetTimeout: breaker.resetTimeout,
      rollingCountTimeout: breaker.rollingCountTimeout,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false, // percentile tracking costs an array sort per bucket; we keep our own windows
      // Errors that are not the upstream's fault must not count against it.
      errorFilter: (err: unknown) => !isTransportFailure(err),
    });
  }

  /** Runs one attempt through the breaker; rejects with code EOPENBREAKER when the breaker is open. */
  call<T>(attempt: Attempt<T>): Promise<T> {
    return this.#breaker.fire(attempt as Attempt<unknown>) as Promise<T>;
  }

  /** Closed, or half-open with the probe slot still free. */
  get available(): boolean {
    return this.#breaker.closed || this.#breaker.pendingClose;
  }

  get state(): BreakerState {
    if (this.#breaker.closed) return 'closed';
    return this.#breaker.halfOpen ? 'half_open' : 'open';
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.#breaker.on('open', () => listener('open'));
    this.#breaker.on('halfOpen', () => listener('half_open'));
    this.#breaker.on('close', () => listener('closed'));
  }

  async close(): Promise<void> {
    this.#breaker.shutdown();
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    this.#breaker.shutdown();
    await this.pool.destroy();
  }
}

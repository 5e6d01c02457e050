import { type Dispatcher, Pool } from 'undici';
import type { BreakerConfig, TimeoutsConfig } from '../config/schema.js';
import { BreakerOpenError, type BreakerState, CircuitBreaker } from './breaker.js';
import { isTransportFailure } from './upstream-errors.js';

export type { BreakerState } from './breaker.js';

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
  readonly #breaker: CircuitBreaker;
  // Bound once: recording an outcome allocates nothing per call.
  readonly #succeeded: () => void;
  readonly #failed: (err: unknown) => void;

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
    const b = new CircuitBreaker(breaker);
    this.#breaker = b;
    this.#succeeded = () => b.success();
    // Errors that are not the upstream's fault (the client left, a body too large) count as answers.
    this.#failed = (err: unknown) => (isTransportFailure(err) ? b.failure() : b.success());
  }

  /**
   * Sends one request to this upstream through its breaker; rejects with code EOPENBREAKER when the
   * breaker is open (nothing was sent). Takes the options rather than a callback: no closure per request.
   */
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    if (!this.#breaker.acquire()) return Promise.reject(new BreakerOpenError());
    const pending = this.pool.request(options);
    pending.then(this.#succeeded, this.#failed);
    return pending;
  }

  /** Closed, or half-open with the probe slot still free. */
  get available(): boolean {
    return this.#breaker.available;
  }

  get state(): BreakerState {
    return this.#breaker.state;
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.#breaker.onStateChange(listener);
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

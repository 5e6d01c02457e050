import { type Dispatcher, Pool } from 'undici';
import type { BreakerConfig, TimeoutsConfig } from '../config/schema.js';
import { type BreakerState, CircuitBreaker } from './breaker.js';
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
    this.#breaker = new CircuitBreaker(breaker);
  }

  /**
   * Sends one request to this upstream if its breaker lets it (taking the probe slot when half-open);
   * false when the breaker is open and nothing was sent. The handler then owes the breaker exactly one
   * outcome: `answered()` when the response head arrives, `failed()` when the attempt fails before it,
   * or `abandoned()` when its client left first.
   */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (!this.#breaker.acquire()) return false;
    this.pool.dispatch(options, handler);
    return true;
  }

  /** The attempt got an answer (any HTTP status: a 500 is the application's, not the host's). */
  answered(): void {
    this.#breaker.success();
  }

  /** The attempt failed before an answer; only transport failures count against the host. */
  failed(err: unknown): void {
    // Errors that are not the upstream's fault (a body too large, an argument undici refuses) count as answers.
    if (isTransportFailure(err)) this.#breaker.failure();
    else this.#breaker.success();
  }

  /** The attempt was cancelled because its client left before the answer: no verdict on the host. */
  abandoned(): void {
    this.#breaker.release();
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

// Whether the rate limiter may send Redis a command now. One per Redis client, shared by the per-request
// store and the batched store: a Redis that stopped answering one of them has stopped answering both.
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from './store.js';

// Reused rejections: during an outage every request takes this path, and a fresh Error per request would
// capture a stack trace each time.
export const DISCONNECTED = new StoreUnavailableError('disconnected');
export const TIMEOUT = new StoreUnavailableError('timeout');
export const BACKOFF = new StoreUnavailableError('backoff');
export const ERROR = new StoreUnavailableError('error');

export class RedisLink {
  /** Non-zero after a timeout or error: commands are skipped until then, then one probes. */
  backoffUntil = 0;

  constructor(
    readonly redis: Redis,
    readonly backoffMs: number,
  ) {}

  /**
   * null when a per-request decision may go to Redis now; otherwise why not. Once the back-off has run
   * out, the caller is the probe and the others keep skipping Redis until it answers.
   */
  admitProbe(): StoreUnavailableError | null {
    const status = this.redis.status;
    // 'wait' is a lazyConnect client that has not connected yet: the first command connects it.
    if (status !== 'ready' && status !== 'wait') return DISCONNECTED;
    if (this.backoffUntil !== 0) {
      const t = Date.now();
      if (t < this.backoffUntil) return BACKOFF;
      this.backoffUntil = t + this.backoffMs;
    }
    return null;
  }

  /**
   * null when a batched decision may trust what it last read from Redis. Stricter than admitProbe: after
   * a timeout or error, batched decisions wait for a command to be answered again (a probe) before they
   * stop falling back.
   */
  trusted(): StoreUnavailableError | null {
    const status = this.redis.status;
    if (status !== 'ready' && status !== 'wait') return DISCONNECTED;
    return this.backoffUntil === 0 ? null : BACKOFF;
  }

  /** A probe may be sent now (back-off over, connected). Marks it sent. */
  probeDue(nowMs: number): boolean {
    if (this.backoffUntil === 0 || nowMs < this.backoffUntil || this.redis.status !== 'ready') return false;
    this.backoffUntil = nowMs + this.backoffMs;
    return true;
  }

  failed(nowMs: number = Date.now()): void {
    this.backoffUntil = nowMs + this.backoffMs;
  }

  answered(): void {
    this.backoffUntil = 0;
  }
}

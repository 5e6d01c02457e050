// The one interface both stores implement. Memory and Redis give the same answer for the same sequence
// of hits and clock readings (test/ratelimit/store-semantics.test.ts replays one trace against both).

/** counter: sliding-window counter (two integers per key). log: exact sliding log (one entry per admission). */
export type Algorithm = 'counter' | 'log';

export interface LimitDecision {
  readonly allowed: boolean;
  /** The limit this decision was made against (a replica's share of it during a Redis outage). */
  readonly limit: number;
  /** Requests that would still be admitted right now, after this one. */
  readonly remaining: number;
  /** Milliseconds until `remaining` grows by at least one if no other request arrives (a slot frees up). */
  readonly resetMs: number;
  /** 0 when allowed; otherwise milliseconds until a request would be admitted (equals resetMs). */
  readonly retryAfterMs: number;
}

export interface RateLimitStore {
  /**
   * Counts one request against `key` when it fits in `limit` per `windowMs`; a rejected request is not
   * counted, so a client that keeps hammering is admitted again as soon as its earlier requests slide out.
   * `nowMs` is the caller's clock; a Redis store may use the server's clock instead (see redis-store.ts).
   * The memory store answers synchronously, saving a tick on the hot path.
   */
  hit(
    key: string,
    limit: number,
    windowMs: number,
    algorithm: Algorithm,
    nowMs: number,
  ): LimitDecision | Promise<LimitDecision>;
  close(): Promise<void>;
}

/** Why a Redis decision could not be made. Instances are reused: no stack capture per failed request. */
export type UnavailableReason = 'timeout' | 'disconnected' | 'backoff' | 'error';

export class StoreUnavailableError extends Error {
  constructor(
    readonly reason: UnavailableReason,
    options?: { cause?: unknown },
  ) {
    super(`rate limit store unavailable: ${reason}`, options);
    this.name = 'StoreUnavailableError';
  }
}

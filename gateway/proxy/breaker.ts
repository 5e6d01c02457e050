// The circuit breaker of one upstream: closed (traffic flows, outcomes counted in a rolling window),
// open (nothing is sent for resetTimeout), half-open (one probe at a time; its outcome closes or reopens).
// Written for the per-request path: deciding costs a field read, recording an outcome an increment in
// the current bucket, and no promise, closure or timer is made per call (opossum, used before, wrapped
// every call in its own promise chain: ~2 µs and several objects per request). Timers exist only while
// open. Only transport failures count against the upstream; the caller says which outcome it saw.
import type { BreakerConfig } from '../config/schema.js';

export type BreakerState = 'closed' | 'half_open' | 'open';

const BUCKETS = 10;

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #probeInFlight = false;
  #timer: NodeJS.Timeout | null = null;
  readonly #listeners: Array<(state: BreakerState) => void> = [];
  readonly #config: BreakerConfig;
  readonly #now: () => number;
  readonly #bucketMs: number;
  // Ring of BUCKETS buckets over the rolling window; #epochs[i] is the bucket number it holds counts for.
  readonly #successes = new Float64Array(BUCKETS);
  readonly #failures = new Float64Array(BUCKETS);
  readonly #epochs = new Float64Array(BUCKETS).fill(-1);

  constructor(config: BreakerConfig, now: () => number = Date.now) {
    this.#config = config;
    this.#now = now;
    this.#bucketMs = Math.max(1, config.rollingCountTimeout / BUCKETS);
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Whether a call may go out now: closed, or half-open with the probe slot free. */
  get available(): boolean {
    return this.#state === 'closed' || (this.#state === 'half_open' && !this.#probeInFlight);
  }

  /** Takes the right to call (the probe slot when half-open); false when the call must not go out. */
  acquire(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'half_open' && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return true;
    }
    return false;
  }

  /** The call got an answer (or failed in a way that is not the upstream's fault). */
  success(): void {
    if (this.#state === 'closed') {
      this.#successes[this.#bucket()]!++;
      return;
    }
    // A probe that worked (or a call from before the breaker opened that finished well): back in service.
    if (this.#state === 'half_open') this.#close();
  }

  /** The call failed at the transport level (refused, reset, timed out). */
  failure(): void {
    if (this.#state === 'half_open') {
      this.#open();
      return;
    }
    if (this.#state === 'open') return;
    this.#failures[this.#bucket()]!++;
    let calls = 0;
    let failures = 0;
    const oldest = this.#epoch() - BUCKETS + 1;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#epochs[i]! < oldest) continue;
      calls += this.#successes[i]! + this.#failures[i]!;
      failures += this.#failures[i]!;
    }
    if (
      calls >= this.#config.volumeThreshold &&
      (failures / calls) * 100 >= this.#config.errorThresholdPercentage
    ) {
      this.#open();
    }
  }

  /**
   * The call ended without telling anything about the upstream (its client left before the answer): no
   * outcome is counted, and a half-open breaker's probe slot is free for the next call. Counting it as a
   * success, as before, closed a breaker on a probe whose answer nobody saw.
   */
  release(): void {
    if (this.#state === 'half_open') this.#probeInFlight = false;
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.#listeners.push(listener);
  }

  shutdown(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #epoch(): number {
    return Math.floor(this.#now() / this.#bucketMs);
  }

  /** The ring slot of the current bucket, emptied first when it last held an older bucket. */
  #bucket(): number {
    const epoch = this.#epoch();
    const i = epoch % BUCKETS;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#successes[i] = 0;
      this.#failures[i] = 0;
    }
    return i;
  }

  #open(): void {
    this.#probeInFlight = false;
    this.#set('open');
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#set('half_open');
    }, this.#config.resetTimeout);
    // An open breaker must not keep a draining process alive.
    this.#timer.unref();
  }

  #close(): void {
    this.#probeInFlight = false;
    this.#epochs.fill(-1); // a fresh window: the failures that opened it are history
    this.#set('closed');
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const l of this.#listeners) l(state);
  }
}

/** The error a call gets when the breaker keeps it from going out (classified as breaker_open). */
export class BreakerOpenError extends Error {
  override name = 'BreakerOpenError';
  readonly code = 'EOPENBREAKER';
  constructor() {
    super('Breaker is open');
  }
}

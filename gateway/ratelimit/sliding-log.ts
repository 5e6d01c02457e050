// Exact sliding log: the time of every admitted request still inside the window (now - windowMs, now].
// LOG_LUA in redis-scripts.ts is the same computation over a sorted set; keep the two in step.
import type { LimitDecision } from './store.js';

const INITIAL_CAPACITY = 8;

/**
 * Admission times in arrival order, in a ring buffer that grows by doubling up to `limit` entries: a key
 * that sends two requests an hour does not pay for a 10 000-slot array.
 */
export class TimestampLog {
  private buf: Float64Array;
  private head = 0;
  length = 0;

  constructor(limit: number) {
    this.buf = new Float64Array(Math.min(limit, INITIAL_CAPACITY));
  }

  oldest(): number {
    return this.buf[this.head]!;
  }

  newest(): number {
    return this.buf[(this.head + this.length - 1) % this.buf.length]!;
  }

  /** Drops every entry at or before `cutoff` (they have slid out of the window). */
  dropUpTo(cutoff: number): void {
    const cap = this.buf.length;
    while (this.length > 0 && this.buf[this.head]! <= cutoff) {
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.length -= 1;
    }
  }

  push(t: number, limit: number): void {
    if (this.length === this.buf.length) this.grow(limit);
    this.buf[(this.head + this.length) % this.buf.length] = t;
    this.length += 1;
  }

  private grow(limit: number): void {
    const next = new Float64Array(Math.max(this.length + 1, Math.min(limit, this.buf.length * 2)));
    for (let i = 0; i < this.length; i++) next[i] = this.buf[(this.head + i) % this.buf.length]!;
    this.buf = next;
    this.head = 0;
  }
}

export function logHit(log: TimestampLog, limit: number, windowMs: number, nowMs: number): LimitDecision {
  // The ring must stay sorted; a clock that steps back records at the newest time it has already seen.
  const t = log.length > 0 ? Math.max(nowMs, log.newest()) : nowMs;
  log.dropUpTo(t - windowMs);
  const allowed = log.length < limit;
  if (allowed) log.push(t, limit);
  const remaining = Math.max(0, limit - log.length);
  // The oldest entry leaving the window is what frees the next slot.
  const resetMs = log.length === 0 ? 0 : log.oldest() + windowMs - t;
  return { allowed, limit, remaining, resetMs, retryAfterMs: allowed ? 0 : resetMs };
}

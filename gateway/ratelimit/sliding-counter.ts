// Sliding-window counter: the count of the previous fixed window, weighted by how much of it still
// overlaps the sliding window, plus the count of the current fixed window. Two integers per key.
// COUNTER_LUA in redis-scripts.ts is the same computation; keep the two in step.
//
// All arithmetic is on integers scaled by the window length (usedW = used × windowMs), so JavaScript and
// Redis Lua (both IEEE doubles) produce bit-identical answers and no rounding can admit one request too many.
import type { LimitDecision } from './store.js';

export class CounterState {
  /** Index of the fixed window `curr` belongs to: floor(time / windowMs). */
  w: number;
  /** Admitted in window w. */
  curr = 0;
  /** Admitted in window w - 1. */
  prev = 0;

  constructor(nowMs: number, windowMs: number) {
    this.w = Math.floor(nowMs / windowMs);
  }
}

export function counterHit(s: CounterState, limit: number, windowMs: number, nowMs: number): LimitDecision {
  let idx = Math.floor(nowMs / windowMs);
  if (s.w === idx - 1) {
    s.prev = s.curr;
    s.curr = 0;
  } else if (s.w < idx - 1) {
    s.prev = 0;
    s.curr = 0;
  } else if (s.w > idx) {
    // A clock behind the one that wrote the state: count in the newer window rather than lose counts.
    idx = s.w;
  }
  s.w = idx;
  const elapsed = Math.max(0, nowMs - idx * windowMs);
  let usedW = s.prev * (windowMs - elapsed) + s.curr * windowMs;
  const allowed = usedW + windowMs <= limit * windowMs;
  if (allowed) {
    s.curr += 1;
    usedW += windowMs;
  }
  const remaining = Math.max(0, Math.floor((limit * windowMs - usedW) / windowMs));
  const resetMs = counterResetMs(limit, windowMs, s.prev, s.curr, elapsed, remaining);
  return { allowed, limit, remaining, resetMs, retryAfterMs: allowed ? 0 : resetMs };
}

/**
 * Milliseconds until `remaining` exceeds its current value with no further traffic, i.e. until
 * usedW ≤ need × windowMs where need = limit - remaining - 1. Either the previous window's weight decays
 * enough inside the current window, or (when the current count alone is too high) that count, now the
 * previous one, decays in the next window.
 */
export function counterResetMs(
  limit: number,
  windowMs: number,
  prev: number,
  curr: number,
  elapsed: number,
  remaining: number,
): number {
  if (remaining >= limit) return 0;
  const need = limit - remaining - 1;
  if (need >= curr && prev > 0) {
    // prev × (windowMs - e) ≤ (need - curr) × windowMs, smallest integer e.
    return windowMs - Math.floor(((need - curr) * windowMs) / prev) - elapsed;
  }
  if (curr > 0) {
    // In the next window: curr × (windowMs - e) ≤ need × windowMs.
    return windowMs - elapsed + windowMs - Math.floor((need * windowMs) / curr);
  }
  return windowMs - elapsed;
}

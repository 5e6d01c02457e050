// The batched sliding-window counter as pure functions of state and clock (no I/O, no timers), so the
// batching logic is tested with a virtual clock: batched-store.ts adds the map of keys, the timer and Redis.
//
// A replica decides from three counter states of one key: the fleet's, as last read back from Redis (it
// includes this replica's hits synced so far), its own admissions not yet sent, and the batch in flight.
// Their sum is this replica's best knowledge of the key; the decision is counterHit's on that sum, so a
// single replica (nobody else writing) decides exactly as the per-request counter does.
//
// syncApply is the JavaScript twin of SYNC_LUA (redis-scripts.ts): keep the two in step; the
// same-semantics test replays one trace against both.
import { CounterState, counterResetMs } from './sliding-counter.js';
import type { LimitDecision } from './store.js';

/** A LimitDecision the limiter owns and the store overwrites: no object allocated per decision. */
export class MutableDecision implements LimitDecision {
  allowed = false;
  limit = 0;
  remaining = 0;
  resetMs = 0;
  retryAfterMs = 0;
}

/** Moves `s` forward to fixed window `idx` (never back: callers pass an idx at least s.w). */
function roll(s: CounterState, idx: number): void {
  if (s.w === idx) return;
  if (s.w === idx - 1) {
    s.prev = s.curr;
  } else {
    s.prev = 0;
  }
  s.curr = 0;
  s.w = idx;
}

export class BatchedEntry {
  /** The fleet's counts as Redis last answered them. */
  readonly fleet: CounterState;
  /** Admitted here, not yet sent. */
  readonly pending: CounterState;
  /** Sent in the sync now in flight, not yet answered. */
  readonly flying: CounterState;
  /** Admissions since the last send: at maxLocalHits a sync goes out before the interval ends. */
  unsent = 0;
  maxLocalHits = 1;
  inFlight = false;
  /** Bumped when a sync is abandoned (timeout), so its late answer is ignored. */
  seq = 0;
  /** Local clock when the sync in flight was sent. */
  sentAt = 0;
  /** In the store's list of keys to sync at the next tick. */
  dirty = false;
  /** A tick passed while a sync was in flight: send again as soon as it lands. */
  owed = false;
  touchedAt: number;

  constructor(
    readonly key: string,
    readonly windowMs: number,
    nowMs: number,
  ) {
    this.fleet = new CounterState(nowMs, windowMs);
    this.pending = new CounterState(nowMs, windowMs);
    this.flying = new CounterState(nowMs, windowMs);
    this.touchedAt = nowMs;
  }
}

/**
 * Decides one request of `e` at `nowMs` (already on the fleet's clock) and, when admitted, counts it as
 * pending. Writes the answer into `out` and returns it.
 */
export function batchedHit(
  e: BatchedEntry,
  limit: number,
  nowMs: number,
  out: MutableDecision,
): MutableDecision {
  const windowMs = e.windowMs;
  const f = e.fleet;
  const p = e.pending;
  const i = e.flying;
  // A state written on a clock ahead of ours: count in the newer window rather than lose counts (as counterHit).
  let idx = Math.floor(nowMs / windowMs);
  if (f.w > idx) idx = f.w;
  if (p.w > idx) idx = p.w;
  if (i.w > idx) idx = i.w;
  roll(f, idx);
  roll(p, idx);
  roll(i, idx);
  const prev = f.prev + p.prev + i.prev;
  let curr = f.curr + p.curr + i.curr;
  const elapsed = Math.max(0, nowMs - idx * windowMs);
  let usedW = prev * (windowMs - elapsed) + curr * windowMs;
  const allowed = usedW + windowMs <= limit * windowMs;
  if (allowed) {
    p.curr += 1;
    curr += 1;
    usedW += windowMs;
    e.unsent += 1;
  }
  const remaining = Math.max(0, Math.floor((limit * windowMs - usedW) / windowMs));
  const resetMs = counterResetMs(limit, windowMs, prev, curr, elapsed, remaining);
  out.allowed = allowed;
  out.limit = limit;
  out.remaining = remaining;
  out.resetMs = resetMs;
  out.retryAfterMs = allowed ? 0 : resetMs;
  return out;
}

/** Moves the pending admissions into the flight; the caller sends flying (w, curr, prev). */
export function takeBatch(e: BatchedEntry, nowMs: number): void {
  const p = e.pending;
  const i = e.flying;
  i.w = p.w;
  i.curr = p.curr;
  i.prev = p.prev;
  p.curr = 0;
  p.prev = 0;
  e.unsent = 0;
  e.inFlight = true;
  e.owed = false;
  e.sentAt = nowMs;
}

/** Redis answered: the fleet's counts now include the batch that was in flight. */
export function applyReply(e: BatchedEntry, w: number, curr: number, prev: number): void {
  const f = e.fleet;
  f.w = w;
  f.curr = curr;
  f.prev = prev;
  e.flying.curr = 0;
  e.flying.prev = 0;
  e.inFlight = false;
}

/**
 * The sync failed or was abandoned: its batch goes back to pending and is sent again. Should Redis have
 * applied it after all, it is counted twice: the fleet then refuses early by at most one batch, never late.
 */
export function restoreBatch(e: BatchedEntry): void {
  const p = e.pending;
  const i = e.flying;
  const idx = Math.max(p.w, i.w);
  roll(p, idx);
  roll(i, idx);
  p.curr += i.curr;
  p.prev += i.prev;
  e.unsent += i.curr + i.prev;
  i.curr = 0;
  i.prev = 0;
  e.inFlight = false;
}

/** What SYNC_LUA returns: the key's state after adding the batch, and the clock it used. */
export type SyncReply = [w: number, curr: number, prev: number, nowMs: number];

/**
 * The JavaScript twin of SYNC_LUA: adds a batch (`bc` admissions in fixed window `bw`, `bp` in `bw - 1`) to
 * the shared state `s` (null: absent), rolled to the window of `nowMs`. Returns the state to store (null:
 * nothing to store) and the reply. Admissions older than the previous window are dropped: they no longer
 * weigh in any decision.
 */
export function syncApply(
  s: CounterState | null,
  windowMs: number,
  bw: number,
  bc: number,
  bp: number,
  nowMs: number,
): { state: CounterState | null; reply: SyncReply } {
  let idx = Math.floor(nowMs / windowMs);
  if (s === null && bc + bp === 0) return { state: null, reply: [idx, 0, 0, nowMs] };
  const st = s ?? new CounterState(nowMs, windowMs);
  // The batch or the stored state from a clock ahead of this one: count in the newer window.
  if (st.w > idx) idx = st.w;
  if (bw > idx) idx = bw;
  roll(st, idx);
  if (bw === idx) {
    st.curr += bc;
    st.prev += bp;
  } else if (bw === idx - 1) {
    st.prev += bc;
  }
  return { state: st, reply: [idx, st.curr, st.prev, nowMs] };
}

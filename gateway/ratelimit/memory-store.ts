// In-process store: the only store without Redis, and the fallback of `failMode: open` limits while Redis
// is unreachable. Bounded: idle keys are swept, and past `maxKeys` the least recently used key goes.
import { CounterState, counterHit } from './sliding-counter.js';
import { logHit, TimestampLog } from './sliding-log.js';
import type { Algorithm, LimitDecision, RateLimitStore } from './store.js';

export interface MemoryStoreOptions {
  /** Hard cap on tracked keys; past it the least recently used key is forgotten (its client gets a fresh window). */
  readonly maxKeys: number;
  /** How often idle keys are swept; 0 disables the timer (tests call sweep()). Default 5 s. */
  readonly sweepIntervalMs?: number;
  /** The clock of the sweep timer; must be the clock callers pass to hit(). Default Date.now. */
  readonly now?: () => number;
}

class Entry {
  counter: CounterState | null = null;
  log: TimestampLog | null = null;

  constructor(
    readonly algorithm: Algorithm,
    public touchedAt: number,
  ) {}
}

export class MemoryStore implements RateLimitStore {
  /**
   * One map per window length, each in least-recently-touched-first order (a hit re-inserts its key).
   * Within one window length "touched longest ago" is also "idle longest", so a sweep deletes from the
   * front and stops at the first live key: O(evicted), not O(keys).
   */
  private readonly groups = new Map<number, Map<string, Entry>>();
  private count = 0;
  private readonly maxKeys: number;
  private readonly timer: NodeJS.Timeout | null;

  constructor(opts: MemoryStoreOptions) {
    this.maxKeys = opts.maxKeys;
    const now = opts.now ?? Date.now;
    const interval = opts.sweepIntervalMs ?? 5_000;
    this.timer = interval > 0 ? setInterval(() => this.sweep(now()), interval) : null;
    // A rate limiter must never be the reason the process stays alive.
    this.timer?.unref();
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.count;
  }

  hit(key: string, limit: number, windowMs: number, algorithm: Algorithm, nowMs: number): LimitDecision {
    let group = this.groups.get(windowMs);
    if (group === undefined) {
      group = new Map();
      this.groups.set(windowMs, group);
    }
    let entry = group.get(key);
    if (entry !== undefined && entry.algorithm === algorithm) {
      group.delete(key);
    } else {
      if (entry !== undefined) {
        group.delete(key); // the limit changed algorithm (configuration reload): start afresh
        this.count -= 1;
      }
      if (this.count >= this.maxKeys) this.evictLeastRecent();
      entry = new Entry(algorithm, nowMs);
      this.count += 1;
    }
    group.set(key, entry);
    if (nowMs > entry.touchedAt) entry.touchedAt = nowMs;
    if (algorithm === 'counter') {
      entry.counter ??= new CounterState(nowMs, windowMs);
      return counterHit(entry.counter, limit, windowMs, nowMs);
    }
    entry.log ??= new TimestampLog(limit);
    return logHit(entry.log, limit, windowMs, nowMs);
  }

  /**
   * Forgets keys untouched for two windows: by then neither algorithm remembers anything about them
   * (the counter's previous window has ended, the log's newest entry has slid out). Returns how many went.
   */
  sweep(nowMs: number): number {
    let evicted = 0;
    for (const [windowMs, group] of this.groups) {
      const idleBefore = nowMs - 2 * windowMs;
      for (const [key, entry] of group) {
        if (entry.touchedAt > idleBefore) break;
        group.delete(key);
        evicted += 1;
      }
      if (group.size === 0) this.groups.delete(windowMs);
    }
    this.count -= evicted;
    return evicted;
  }

  private evictLeastRecent(): void {
    let victimGroup: Map<string, Entry> | undefined;
    let victimKey = '';
    let oldest = Number.POSITIVE_INFINITY;
    for (const group of this.groups.values()) {
      const first = group.entries().next();
      if (!first.done && first.value[1].touchedAt < oldest) {
        oldest = first.value[1].touchedAt;
        victimKey = first.value[0];
        victimGroup = group;
      }
    }
    if (victimGroup !== undefined) {
      victimGroup.delete(victimKey);
      this.count -= 1;
    }
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.groups.clear();
    this.count = 0;
  }
}

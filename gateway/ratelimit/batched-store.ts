// The batched shared counter: decisions are made here, synchronously, from the fleet's counts last read
// back from Redis plus this replica's own admissions since; each key is synchronised in the background,
// at most one call per key per sync interval or per maxLocalHits admissions, whichever comes first (the
// calls of one tick go out together: the client auto-pipelines them). A decision never waits for Redis.
// The over-admission this trades for speed is bounded in README.md ("Batched sync").
import {
  applyReply,
  BatchedEntry,
  batchedHit,
  type MutableDecision,
  restoreBatch,
  type SyncReply,
  takeBatch,
} from './batched-counter.js';
import { DISCONNECTED, TIMEOUT } from './redis-link.js';
import type { StoreUnavailableError, UnavailableReason } from './store.js';

/** How a batch reaches the shared counter: SYNC_LUA through ioredis in production (RedisStore.sync). */
export interface SyncTransport {
  sync(key: string, windowMs: number, bw: number, bc: number, bp: number, nowMs: number): Promise<SyncReply>;
  /** A cheap command that proves Redis answers again after a failure. */
  probe(): Promise<unknown>;
}

/** The part of RedisLink (redis-link.ts) the store needs; times are the store's clock. */
export interface SyncLink {
  trusted(): StoreUnavailableError | null;
  probeDue(nowMs: number): boolean;
  failed(nowMs: number): void;
  answered(): void;
}

export type SyncResult = 'ok' | 'error' | 'timeout';

export interface BatchedStoreEvents {
  /** Redis answered a sync or probe. */
  answered(): void;
  /** A sync failed or timed out; decisions fall back until a probe is answered. */
  failed(reason: UnavailableReason, cause: unknown): void;
  synced(result: SyncResult): void;
}

export interface BatchedStoreOptions {
  readonly transport: SyncTransport;
  readonly link: SyncLink;
  /** Sync interval; 0 starts no timer (tests call tick()). */
  readonly intervalMs: number;
  /** A sync unanswered this long is abandoned (its batch is sent again) and Redis is distrusted. */
  readonly timeoutMs: number;
  /**
   * true: windows follow the Redis server's clock; each reply carries it, and decisions add the measured
   * offset to the local clock. false: the caller's clock (tests with a virtual clock).
   */
  readonly serverClock: boolean;
  /** Bound of tracked keys; past it the oldest key is forgotten. */
  readonly maxKeys: number;
  /** The local clock of ticks, timeouts and the sweep; must be the clock callers pass to hit(). */
  readonly now?: () => number;
  readonly events?: BatchedStoreEvents;
}

const SWEEP_EVERY_MS = 5_000;

export class BatchedStore {
  private readonly entries = new Map<string, BatchedEntry>();
  /** Keys with admissions to send at the next tick; swapped with `spare` so a tick allocates no array. */
  private dirty: BatchedEntry[] = [];
  private spare: BatchedEntry[] = [];
  /** Keys with a sync in flight (maybe already answered: compacted each tick). */
  private flying: BatchedEntry[] = [];
  private readonly listed = new WeakSet<BatchedEntry>();
  private readonly transport: SyncTransport;
  private readonly link: SyncLink;
  private readonly timeoutMs: number;
  private readonly serverClock: boolean;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly events: BatchedStoreEvents | null;
  private readonly timer: NodeJS.Timeout | null;
  private lastSweep: number;
  /** Redis server clock minus the local clock, from the last reply (server clock mode). */
  offsetMs = 0;
  /** Why the last hit() returned null. */
  unavailable: StoreUnavailableError = DISCONNECTED;
  /** Sync calls sent (for tests and the bench: Redis calls per decision). */
  syncs = 0;

  constructor(opts: BatchedStoreOptions) {
    this.transport = opts.transport;
    this.link = opts.link;
    this.timeoutMs = opts.timeoutMs;
    this.serverClock = opts.serverClock;
    this.maxKeys = opts.maxKeys;
    this.now = opts.now ?? Date.now;
    this.events = opts.events ?? null;
    this.lastSweep = this.now();
    this.timer = opts.intervalMs > 0 ? setInterval(() => this.tick(), opts.intervalMs) : null;
    // A rate limiter must never be the reason the process stays alive.
    this.timer?.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Decides one request of `key` at the local time `nowMs` into `out`, or returns null when what was read
   * from Redis cannot be trusted (disconnected, or a sync failed and no probe has been answered since):
   * `unavailable` says why, and the limiter applies its failMode.
   */
  hit(
    key: string,
    limit: number,
    windowMs: number,
    maxLocalHits: number,
    nowMs: number,
    out: MutableDecision,
  ): MutableDecision | null {
    const unavailable = this.link.trusted();
    if (unavailable !== null) {
      this.unavailable = unavailable;
      return null;
    }
    let e = this.entries.get(key);
    if (e === undefined || e.windowMs !== windowMs) e = this.create(key, windowMs, maxLocalHits, nowMs);
    e.touchedAt = nowMs;
    batchedHit(e, limit, nowMs + this.offsetMs, out);
    if (out.allowed) {
      if (e.unsent >= maxLocalHits && !e.inFlight) this.send(e, nowMs);
      else if (!e.dirty) {
        e.dirty = true;
        this.dirty.push(e);
      }
    }
    return out;
  }

  private create(key: string, windowMs: number, maxLocalHits: number, nowMs: number): BatchedEntry {
    if (this.entries.size >= this.maxKeys && !this.entries.has(key)) {
      // Oldest first (insertion order): its unsent admissions, fewer than one batch, are lost to the fleet.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const e = new BatchedEntry(key, windowMs, nowMs + this.offsetMs);
    e.maxLocalHits = maxLocalHits;
    this.entries.set(key, e);
    return e;
  }

  private send(e: BatchedEntry, nowMs: number): void {
    takeBatch(e, nowMs);
    const seq = e.seq;
    const f = e.flying;
    this.syncs += 1;
    if (!this.listed.has(e)) {
      this.listed.add(e);
      this.flying.push(e);
    }
    // Two closures per sync, not per request: a key syncs at most once per interval or batch.
    this.transport.sync(e.key, e.windowMs, f.w, f.curr, f.prev, nowMs + this.offsetMs).then(
      (r) => this.onReply(e, seq, r),
      (err: unknown) => this.onError(e, seq, err),
    );
  }

  private onReply(e: BatchedEntry, seq: number, r: SyncReply): void {
    this.events?.synced('ok');
    this.link.answered();
    this.events?.answered();
    if (seq !== e.seq) return; // abandoned after a timeout: its batch was already put back
    const local = this.now();
    if (this.serverClock) this.offsetMs = Math.round(r[3] - (e.sentAt + local) / 2);
    applyReply(e, r[0], r[1], r[2]);
    if (e.unsent === 0) return;
    if (e.owed || e.unsent >= e.maxLocalHits) this.send(e, local);
    else if (!e.dirty) {
      e.dirty = true;
      this.dirty.push(e);
    }
  }

  private onError(e: BatchedEntry, seq: number, err: unknown): void {
    this.events?.synced('error');
    if (seq !== e.seq) return;
    restoreBatch(e);
    this.markDirty(e);
    this.link.failed(this.now());
    this.events?.failed('error', err);
  }

  private markDirty(e: BatchedEntry): void {
    if (e.dirty) return;
    e.dirty = true;
    this.dirty.push(e);
  }

  /** One sync round: abandon overdue syncs, probe a distrusted Redis, send every key with admissions. */
  tick(): void {
    const now = this.now();
    this.abandonOverdue(now);
    if (this.link.probeDue(now)) this.probe(now);
    const batch = this.dirty;
    this.dirty = this.spare;
    const trusted = this.link.trusted() === null;
    for (let k = 0; k < batch.length; k++) {
      const e = batch[k]!;
      e.dirty = false;
      if (e.unsent === 0) continue;
      if (e.inFlight) e.owed = true;
      else if (trusted) this.send(e, now);
      else this.markDirty(e); // kept until Redis is trusted again
    }
    batch.length = 0;
    this.spare = batch;
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
  }

  private abandonOverdue(now: number): void {
    let kept = 0;
    let timedOut = false;
    for (let k = 0; k < this.flying.length; k++) {
      const e = this.flying[k]!;
      if (!e.inFlight) {
        this.listed.delete(e);
        continue;
      }
      if (now - e.sentAt >= this.timeoutMs) {
        e.seq += 1;
        restoreBatch(e);
        this.markDirty(e);
        this.listed.delete(e);
        this.events?.synced('timeout');
        timedOut = true;
        continue;
      }
      this.flying[kept++] = e;
    }
    this.flying.length = kept;
    if (timedOut) {
      this.link.failed(now);
      this.events?.failed('timeout', TIMEOUT);
    }
  }

  private probe(now: number): void {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(TIMEOUT), this.timeoutMs);
    });
    Promise.race([this.transport.probe(), timeout]).then(
      () => {
        clearTimeout(timer);
        this.link.answered();
        this.events?.answered();
      },
      (err: unknown) => {
        clearTimeout(timer);
        this.link.failed(now);
        this.events?.failed(err === TIMEOUT ? 'timeout' : 'error', err);
      },
    );
  }

  /** Forgets keys idle for two windows with nothing to send: they no longer weigh in any decision. */
  sweep(now: number): number {
    this.lastSweep = now;
    let evicted = 0;
    for (const [key, e] of this.entries) {
      if (e.touchedAt > now - 2 * e.windowMs || e.inFlight || e.unsent > 0 || e.dirty) continue;
      this.entries.delete(key);
      evicted += 1;
    }
    return evicted;
  }

  /** Stops the timer and sends what is still unsent, waiting at most the timeout for the answers. */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    const pending: Promise<unknown>[] = [];
    if (this.link.trusted() === null) {
      const now = this.now();
      for (const e of this.entries.values()) {
        if (e.unsent === 0 || e.inFlight) continue;
        takeBatch(e, now);
        const f = e.flying;
        pending.push(
          this.transport.sync(e.key, e.windowMs, f.w, f.curr, f.prev, now + this.offsetMs).catch(() => {}),
        );
      }
    }
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(pending),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.entries.clear();
    this.dirty.length = 0;
    this.flying.length = 0;
  }
}

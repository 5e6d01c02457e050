// The batching logic of `sync: batched` limits with a virtual clock and no network: replicas are
// BatchedStores whose syncs reach a shared counter through syncApply, the JavaScript twin of SYNC_LUA
// (batched-sync-redis.test.ts replays one trace against both), delivered after a chosen delay.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MutableDecision, type SyncReply, syncApply } from '../../gateway/ratelimit/batched-counter.js';
import { BatchedStore, type SyncLink, type SyncTransport } from '../../gateway/ratelimit/batched-store.js';
import { MemoryStore } from '../../gateway/ratelimit/memory-store.js';
import { BACKOFF } from '../../gateway/ratelimit/redis-link.js';
import type { CounterState } from '../../gateway/ratelimit/sliding-counter.js';
import type { StoreUnavailableError } from '../../gateway/ratelimit/store.js';

/** The shared counter, with replies delivered `delayMs` after the call on the virtual clock. */
class Shared {
  readonly keys = new Map<string, CounterState>();
  calls = 0;
  down = false;
  /** Replies that never come (a frozen server). */
  silent = false;
  private queue: Array<{ at: number; run: () => void }> = [];

  constructor(
    readonly clock: { t: number },
    readonly delayMs = 0,
  ) {}

  transport(): SyncTransport {
    return {
      sync: (key, windowMs, bw, bc, bp, nowMs) => {
        this.calls += 1;
        return new Promise<SyncReply>((resolve, reject) => {
          if (this.silent) return;
          if (this.down) {
            this.queue.push({ at: this.clock.t, run: () => reject(new Error('connection refused')) });
            return;
          }
          // Applied when the request reaches the server: half-way.
          const apply = () => {
            const { state, reply } = syncApply(this.keys.get(key) ?? null, windowMs, bw, bc, bp, nowMs);
            if (state !== null) this.keys.set(key, state);
            return reply;
          };
          if (this.delayMs === 0) resolve(apply());
          else {
            let reply: SyncReply;
            const applyNow = () => {
              reply = apply();
            };
            this.queue.push({ at: this.clock.t + this.delayMs / 2, run: applyNow });
            this.queue.push({ at: this.clock.t + this.delayMs, run: () => resolve(reply) });
          }
        });
      },
      probe: () => (this.down ? Promise.reject(new Error('down')) : Promise.resolve('PONG')),
    };
  }

  /** Runs what is due, then lets the stores' promise handlers run. */
  async deliver(): Promise<void> {
    const due = this.queue.filter((q) => q.at <= this.clock.t);
    this.queue = this.queue.filter((q) => q.at > this.clock.t);
    for (const q of due) q.run();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

class TestLink implements SyncLink {
  backoffUntil = 0;
  answered(): void {
    this.backoffUntil = 0;
  }
  failed(nowMs: number): void {
    this.backoffUntil = nowMs + 1000;
  }
  trusted(): StoreUnavailableError | null {
    return this.backoffUntil === 0 ? null : BACKOFF;
  }
  probeDue(nowMs: number): boolean {
    if (this.backoffUntil === 0 || nowMs < this.backoffUntil) return false;
    this.backoffUntil = nowMs + 1000;
    return true;
  }
}

function replica(shared: Shared, timeoutMs = 50) {
  const link = new TestLink();
  const store = new BatchedStore({
    transport: shared.transport(),
    link,
    intervalMs: 0,
    timeoutMs,
    serverClock: false,
    maxKeys: 1000,
    now: () => shared.clock.t,
  });
  return { store, link, out: new MutableDecision() };
}

describe('batched counter: one replica', () => {
  test('decides exactly as the per-request counter, whatever N and the sync timing', async () => {
    for (const n of [1, 3, 50]) {
      const clock = { t: 1_000_000 };
      const shared = new Shared(clock);
      const { store, out } = replica(shared);
      const memory = new MemoryStore({ maxKeys: 10, sweepIntervalMs: 0 });
      let s = 12345;
      for (let i = 0; i < 5000; i++) {
        s = (s * 1664525 + 1013904223) >>> 0;
        clock.t += s % 7;
        if (i % 13 === 0) store.tick();
        await shared.deliver();
        const b = store.hit('k', 20, 1000, n, clock.t, out);
        const m = memory.hit('k', 20, 1000, 'counter', clock.t);
        assert.ok(b !== null);
        assert.deepEqual({ ...b }, m, `N ${n}, decision ${i} at ${clock.t}`);
      }
      await store.close();
    }
  });

  test('one sync per N admissions or per tick, whichever first; refusals are not sent', async () => {
    const clock = { t: 0 };
    const shared = new Shared(clock);
    const { store, out } = replica(shared);
    for (let i = 0; i < 4; i++) store.hit('k', 100, 10_000, 5, clock.t, out);
    assert.equal(shared.calls, 0, 'below N: nothing sent before the tick');
    store.hit('k', 100, 10_000, 5, clock.t, out);
    assert.equal(shared.calls, 1, 'the N-th admission sends at once');
    await shared.deliver();
    assert.equal(shared.keys.get('k')?.curr, 5);
    store.hit('k', 100, 10_000, 5, clock.t, out);
    store.hit('k', 100, 10_000, 5, clock.t, out);
    store.tick();
    store.tick();
    assert.equal(shared.calls, 2, 'one call per key per tick');
    await shared.deliver();
    assert.equal(shared.keys.get('k')?.curr, 7);
    store.tick();
    assert.equal(shared.calls, 2, 'nothing new: no call');
    // Refused requests are neither counted nor sent.
    for (let i = 0; i < 10; i++) store.hit('full', 2, 10_000, 100, clock.t, out);
    store.tick();
    await shared.deliver();
    assert.equal(shared.keys.get('full')?.curr, 2);
    await store.close();
  });

  test('RateLimit fields follow the last known fleet total minus local admissions since', async () => {
    const clock = { t: 0 };
    const shared = new Shared(clock);
    const a = replica(shared);
    const b = replica(shared);
    for (let i = 0; i < 30; i++) a.store.hit('k', 100, 10_000, 1000, clock.t, a.out);
    a.store.tick();
    await shared.deliver();
    // b has never synced: it knows only its own admissions.
    assert.equal(b.store.hit('k', 100, 10_000, 1000, clock.t, b.out)?.remaining, 99);
    b.store.tick();
    await shared.deliver();
    // Its reply carried the fleet's 31.
    assert.equal(b.store.hit('k', 100, 10_000, 1000, clock.t, b.out)?.remaining, 100 - 32);
    assert.equal(b.out.limit, 100);
  });
});

/**
 * R replicas, each offered `rate` requests per second of one key, spread evenly; every replica ticks every
 * T ms at its own phase; replies take d ms. Returns admissions per fixed window (the server's windows).
 */
async function fleetRun(opts: {
  replicas: number;
  rate: number;
  limit: number;
  windowMs: number;
  n: number;
  t: number;
  d: number;
  durationMs: number;
  burst?: boolean;
}) {
  const clock = { t: 0 };
  const shared = new Shared(clock, opts.d);
  const fleet = Array.from({ length: opts.replicas }, () => replica(shared, 10_000));
  const perWindow = new Map<number, number>();
  let decisions = 0;
  const gap = 1000 / opts.rate;
  const next = fleet.map((_, i) => (opts.burst ? 0 : (i * gap) / opts.replicas));
  for (let ms = 0; ms < opts.durationMs; ms++) {
    clock.t = ms;
    await shared.deliver();
    for (let i = 0; i < fleet.length; i++) {
      const r = fleet[i]!;
      if ((ms + Math.floor((i * opts.t) / opts.replicas)) % opts.t === 0) r.store.tick();
      while (next[i]! <= ms) {
        next[i]! += gap;
        decisions += 1;
        const d = r.store.hit('k', opts.limit, opts.windowMs, opts.n, ms, r.out);
        assert.ok(d !== null);
        if (d.allowed) {
          const w = Math.floor(ms / opts.windowMs);
          perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
        }
      }
    }
  }
  // No close(): it would wait for replies this virtual clock no longer delivers; the stores have no timer.
  return { worst: Math.max(...perWindow.values()), calls: shared.calls, decisions };
}

/** The bound of README.md "Batched sync": (R - 1) × (min(N, λT) + 2λd + 1), λ per replica per ms. */
function bound(replicas: number, rate: number, n: number, t: number, d: number): number {
  const perMs = rate / 1000;
  return (replicas - 1) * (Math.min(n, perMs * t) + 2 * perMs * d + 1);
}

describe('batched counter: a fleet stays within the documented bound', () => {
  const cases = [
    { replicas: 2, rate: 400, limit: 100, windowMs: 1000, n: 10, t: 100, d: 0 },
    { replicas: 3, rate: 400, limit: 100, windowMs: 1000, n: 10, t: 100, d: 4 },
    { replicas: 3, rate: 200, limit: 300, windowMs: 1000, n: 1000, t: 100, d: 2 },
    { replicas: 4, rate: 1000, limit: 50, windowMs: 500, n: 5, t: 50, d: 10 },
    { replicas: 2, rate: 2000, limit: 1000, windowMs: 2000, n: 1, t: 100, d: 2 },
  ];
  for (const c of cases) {
    for (const burst of [false, true]) {
      test(`R ${c.replicas}, ${c.rate}/s each, limit ${c.limit}/${c.windowMs} ms, N ${c.n}, T ${c.t} ms, d ${c.d} ms${burst ? ', in step' : ''}`, async (t) => {
        const r = await fleetRun({ ...c, durationMs: 4 * c.windowMs, burst });
        const excess = bound(c.replicas, c.rate, c.n, c.t, c.d);
        t.diagnostic(
          `worst fixed window ${r.worst} (limit ${c.limit}, bound ${c.limit} + ${excess.toFixed(1)}); ${r.calls} syncs for ${r.decisions} decisions`,
        );
        assert.ok(r.worst <= c.limit + excess, `${r.worst} admitted in one window`);
        assert.ok(r.worst >= c.limit, 'the limit is reached, not starved');
      });
    }
  }
});

describe('batched counter: Redis trouble', () => {
  test('a failed sync distrusts Redis: decisions fall back until a probe answers; the batch is resent', async () => {
    const clock = { t: 0 };
    const shared = new Shared(clock);
    const { store, link, out } = replica(shared);
    for (let i = 0; i < 3; i++) store.hit('k', 100, 60_000, 100, clock.t, out);
    shared.down = true;
    store.tick();
    await shared.deliver();
    assert.equal(store.hit('k', 100, 60_000, 100, clock.t, out), null, 'no decision from stale counts');
    assert.equal(store.unavailable, BACKOFF);
    shared.down = false;
    clock.t += 500;
    store.tick();
    await shared.deliver();
    assert.equal(store.hit('k', 100, 60_000, 100, clock.t, out), null, 'still backing off');
    clock.t += 600;
    store.tick(); // the probe
    await shared.deliver();
    assert.equal(link.backoffUntil, 0, 'the probe was answered');
    store.tick(); // the kept batch goes out
    await shared.deliver();
    assert.equal(shared.keys.get('k')?.curr, 3, 'the failed batch was sent again, once');
    assert.equal(store.hit('k', 100, 60_000, 100, clock.t, out)?.remaining, 96);
  });

  test('a sync unanswered past the timeout is abandoned and its batch kept; its late answer is ignored', async () => {
    const clock = { t: 0 };
    const shared = new Shared(clock);
    const { store, link, out } = replica(shared, 50);
    shared.silent = true;
    store.hit('k', 100, 60_000, 1, clock.t, out);
    assert.equal(shared.calls, 1);
    clock.t += 49;
    store.tick();
    assert.equal(link.backoffUntil, 0, 'not yet overdue');
    clock.t += 1;
    store.tick();
    assert.ok(link.backoffUntil > 0, 'overdue: Redis distrusted');
    assert.equal(store.hit('k', 100, 60_000, 1, clock.t, out), null);
    shared.silent = false;
    clock.t += 1000;
    store.tick(); // probe
    await shared.deliver();
    store.tick(); // resend
    await shared.deliver();
    assert.equal(shared.keys.get('k')?.curr, 1);
    assert.equal(store.hit('k', 100, 60_000, 1, clock.t, out)?.remaining, 98);
  });
});

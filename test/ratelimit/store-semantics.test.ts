// One suite, run against the memory store and the Redis store (caller clock, so both see the same virtual
// time): the two must give the same answers, which is what lets failMode open swap one for the other.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryStore } from '../../gateway/ratelimit/memory-store.js';
import { RedisStore } from '../../gateway/ratelimit/redis-store.js';
import type { Algorithm, LimitDecision, RateLimitStore } from '../../gateway/ratelimit/store.js';
import { deleteKeys, SHARED_REDIS, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('semantics');
let redis: Redis;

before(async () => {
  redis = new Redis({ ...SHARED_REDIS, enableAutoPipelining: true });
  await redis.ping();
});

after(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

type Factory = () => RateLimitStore;
const stores: Array<[string, Factory]> = [
  ['memory', () => new MemoryStore({ maxKeys: 1000, sweepIntervalMs: 0 })],
  ['redis', () => new RedisStore({ redis, timeoutMs: 2_000, clock: 'caller' })],
];

let n = 0;
const freshKey = () => `${prefix}{k${n++}}`;
const T0 = 1_700_000_000_000; // a window boundary for every window length used here

async function hits(
  store: RateLimitStore,
  key: string,
  limit: number,
  w: number,
  alg: Algorithm,
  times: number[],
) {
  const out: LimitDecision[] = [];
  for (const t of times) out.push(await store.hit(key, limit, w, alg, t));
  return out;
}

for (const [storeName, make] of stores) {
  describe(`${storeName} store`, () => {
    const store = make();
    after(() => store.close());

    test('counter: admits the limit in a window, then asks to wait until the weighted count frees a slot', async () => {
      const key = freshKey();
      const ds = await hits(store, key, 5, 1000, 'counter', [T0, T0, T0, T0, T0, T0]);
      assert.deepEqual(
        ds.map((d) => [d.allowed, d.remaining]),
        [
          [true, 4],
          [true, 3],
          [true, 2],
          [true, 1],
          [true, 0],
          [false, 0],
        ],
      );
      // 5 requests become the previous window; at 200 ms into the next one they weigh 5 × 0.8 = 4.
      assert.equal(ds[5]!.retryAfterMs, 1200);
      assert.equal(ds[5]!.resetMs, 1200);
      assert.equal(ds[5]!.limit, 5);
      assert.equal((await store.hit(key, 5, 1000, 'counter', T0 + 1199)).allowed, false);
      const back = await store.hit(key, 5, 1000, 'counter', T0 + 1200);
      assert.equal(back.allowed, true);
      assert.equal(back.remaining, 0);
    });

    test('counter: halfway through the next window half of the previous count has slid out', async () => {
      const key = freshKey();
      await hits(store, key, 10, 1000, 'counter', Array(10).fill(T0 + 100));
      const ds = await hits(store, key, 10, 1000, 'counter', Array(7).fill(T0 + 1500));
      // 10 × 0.5 = 5 still counted: five more fit, the sixth does not.
      assert.deepEqual(
        ds.map((d) => d.allowed),
        [true, true, true, true, true, false, false],
      );
      assert.equal(ds[4]!.remaining, 0);
    });

    test('counter: after two idle windows the key starts afresh', async () => {
      const key = freshKey();
      await hits(store, key, 3, 1000, 'counter', [T0, T0, T0, T0]);
      const d = await store.hit(key, 3, 1000, 'counter', T0 + 2000);
      assert.deepEqual([d.allowed, d.remaining], [true, 2]);
    });

    test('counter: rejected requests are not counted, so a hammering client is let in as soon as it slides out', async () => {
      const key = freshKey();
      await hits(store, key, 2, 1000, 'counter', [T0, T0]);
      const rejected = await hits(store, key, 2, 1000, 'counter', Array(50).fill(T0 + 10));
      assert.ok(rejected.every((d) => !d.allowed));
      // 2 × (1 - e/1000) + 1 <= 2 from e = 500 on.
      assert.equal((await store.hit(key, 2, 1000, 'counter', T0 + 1500)).allowed, true);
    });

    test('log: exact — the limit within any window, a slot frees when the oldest admission slides out', async () => {
      const key = freshKey();
      const ds = await hits(store, key, 3, 1000, 'log', [T0, T0 + 100, T0 + 200, T0 + 300]);
      assert.deepEqual(
        ds.map((d) => [d.allowed, d.remaining, d.resetMs, d.retryAfterMs]),
        [
          [true, 2, 1000, 0],
          [true, 1, 900, 0],
          [true, 0, 800, 0],
          [false, 0, 700, 700],
        ],
      );
      assert.equal((await store.hit(key, 3, 1000, 'log', T0 + 999)).allowed, false);
      const back = await store.hit(key, 3, 1000, 'log', T0 + 1000);
      assert.deepEqual([back.allowed, back.remaining, back.resetMs], [true, 0, 100]);
    });

    test('log: admissions in the same millisecond are all recorded', async () => {
      const key = freshKey();
      const ds = await hits(store, key, 4, 1000, 'log', Array(6).fill(T0));
      assert.deepEqual(
        ds.map((d) => d.allowed),
        [true, true, true, true, false, false],
      );
    });

    test('log: a limit above the initial buffer size grows and stays exact', async () => {
      const key = freshKey();
      const times = Array.from({ length: 101 }, (_, i) => T0 + i);
      const ds = await hits(store, key, 100, 10_000, 'log', times);
      assert.equal(ds.filter((d) => d.allowed).length, 100);
      assert.equal(ds[100]!.retryAfterMs, 10_000 - 100);
    });

    test('keys are independent', async () => {
      const a = freshKey();
      const b = freshKey();
      await hits(store, a, 1, 1000, 'log', [T0]);
      assert.equal((await store.hit(a, 1, 1000, 'log', T0)).allowed, false);
      assert.equal((await store.hit(b, 1, 1000, 'log', T0)).allowed, true);
    });
  });
}

describe('memory and Redis agree', () => {
  // Seeded so a failure replays identically.
  function rng(seed: number) {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  for (const algorithm of ['counter', 'log'] as const) {
    test(`${algorithm}: a random trace of 3000 decisions over 4 keys gives identical answers`, async () => {
      const memory = new MemoryStore({ maxKeys: 1000, sweepIntervalMs: 0 });
      const shared = new RedisStore({ redis, timeoutMs: 2_000, clock: 'caller' });
      const keys = [freshKey(), freshKey(), freshKey(), freshKey()];
      const random = rng(algorithm === 'counter' ? 42 : 7);
      let t = T0 + 123;
      const limit = 7;
      const windowMs = 500;
      let denied = 0;
      for (let i = 0; i < 3000; i++) {
        t += Math.floor(random() * random() * 60); // bursts and gaps
        const key = keys[Math.floor(random() * keys.length)]!;
        const m = memory.hit(key, limit, windowMs, algorithm, t);
        const r = await shared.hit(key, limit, windowMs, algorithm, t);
        assert.deepEqual(r, m, `decision ${i} at t=${t - T0} for ${key}`);
        if (!m.allowed) denied++;
      }
      // The trace must exercise both answers to prove anything.
      assert.ok(denied > 300 && denied < 2700, `denied ${denied} of 3000`);
      await memory.close();
    });
  }

  test('Redis keys expire on their own: a counter after two windows, a log after one', async () => {
    const shared = new RedisStore({ redis, timeoutMs: 2_000, clock: 'caller' });
    const c = freshKey();
    const l = freshKey();
    const now = Date.now();
    await shared.hit(c, 5, 10_000, 'counter', now);
    await shared.hit(l, 5, 10_000, 'log', now);
    const [cTtl, lTtl] = await Promise.all([redis.pttl(c), redis.pttl(l)]);
    assert.ok(cTtl > 10_000 && cTtl <= 20_000, `counter ttl ${cTtl}`);
    assert.ok(lTtl > 0 && lTtl <= 10_000, `log ttl ${lTtl}`);
  });

  test('with the server clock (the default) the answers follow Redis TIME', async () => {
    const shared = new RedisStore({ redis, timeoutMs: 2_000 });
    for (const algorithm of ['counter', 'log'] as const) {
      const key = freshKey();
      // The caller's clock is deliberately absurd: it must be ignored.
      const ds = await Promise.all([0, 1, 2, 3].map(() => shared.hit(key, 3, 10_000, algorithm, 0)));
      assert.deepEqual(
        ds.map((d) => d.allowed),
        [true, true, true, false],
      );
      const denied = ds[3]!;
      assert.ok(
        denied.retryAfterMs > 0 && denied.retryAfterMs <= 20_000,
        `${algorithm} ${denied.retryAfterMs}`,
      );
    }
  });
});

// Two ioredis clients stand in for two gateway replicas sharing one Redis (server clock, the default).
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisStore } from '../../gateway/ratelimit/redis-store.js';
import type { Algorithm } from '../../gateway/ratelimit/store.js';
import { deleteKeys, SHARED_REDIS, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('shared');
let a: Redis;
let b: Redis;
let storeA: RedisStore;
let storeB: RedisStore;

before(async () => {
  a = new Redis({ ...SHARED_REDIS, enableAutoPipelining: true });
  b = new Redis({ ...SHARED_REDIS, enableAutoPipelining: true });
  await Promise.all([a.ping(), b.ping()]);
  storeA = new RedisStore({ redis: a, timeoutMs: 5_000 });
  storeB = new RedisStore({ redis: b, timeoutMs: 5_000 });
});

after(async () => {
  await deleteKeys(a, prefix);
  a.disconnect();
  b.disconnect();
});

interface Sample {
  sent: number;
  received: number;
  allowed: boolean;
}

/**
 * Both replicas send `perTick` concurrent decisions every `tickMs` for `durationMs`. Each admission is
 * stamped with when it was sent and answered on this process's clock; the server decided somewhere between.
 */
async function drive(key: string, limit: number, windowMs: number, algorithm: Algorithm, durationMs: number) {
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    for (const store of [storeA, storeB]) {
      for (let i = 0; i < 3; i++) {
        const sent = performance.now();
        pending.push(
          store.hit(key, limit, windowMs, algorithm, 0).then((d) => {
            samples.push({ sent, received: performance.now(), allowed: d.allowed });
          }),
        );
      }
    }
    await sleep(4);
  }
  await Promise.all(pending);
  return samples;
}

/**
 * A sound upper bound on admissions in any window: admissions whose whole [sent, received] interval lies
 * within [x, x + span) were decided by the server within a span-long interval, whatever the latency.
 */
function maxSurelyInside(samples: Sample[], span: number): number {
  const admitted = samples.filter((s) => s.allowed).sort((p, q) => p.sent - q.sent);
  let max = 0;
  for (const first of admitted) {
    let c = 0;
    for (const s of admitted) if (s.sent >= first.sent && s.received < first.sent + span) c++;
    max = Math.max(max, c);
  }
  return max;
}

describe('two replicas sharing one Redis', () => {
  test('log: a burst of 600 concurrent decisions from two clients admits exactly the limit', async () => {
    const key = `${prefix}{burst}`;
    const all = await Promise.all(
      Array.from({ length: 600 }, (_, i) => (i % 2 === 0 ? storeA : storeB).hit(key, 50, 10_000, 'log', 0)),
    );
    assert.equal(all.filter((d) => d.allowed).length, 50);
    assert.equal(await a.zcard(key), 50);
  });

  test('counter: a burst of 600 concurrent decisions from two clients admits no more than the limit', async () => {
    const key = `${prefix}{burst-counter}`;
    const all = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        (i % 2 === 0 ? storeA : storeB).hit(key, 50, 10_000, 'counter', 0),
      ),
    );
    // Within one fixed window and no history the counter is exact too.
    assert.ok(all.filter((d) => d.allowed).length <= 50);
  });

  test('log: sustained overload from both replicas never admits more than the limit in any window', async () => {
    const limit = 20;
    const windowMs = 500;
    const samples = await drive(`${prefix}{steady-log}`, limit, windowMs, 'log', 1_600);
    const admitted = samples.filter((s) => s.allowed).length;
    assert.ok(samples.length > 300, `only ${samples.length} decisions were made`);
    // 2 ms of slack for the server's millisecond rounding.
    assert.ok(maxSurelyInside(samples, windowMs - 2) <= limit);
    // Over ~3.2 windows of overload the fleet got its budget, and not more.
    assert.ok(admitted >= 3 * limit && admitted <= 5 * limit, `admitted ${admitted}`);
  });

  test('counter: sustained overload from both replicas stays within the documented bound (2 × limit − 1)', async () => {
    const limit = 20;
    const windowMs = 500;
    const samples = await drive(`${prefix}{steady-counter}`, limit, windowMs, 'counter', 1_600);
    assert.ok(maxSurelyInside(samples, windowMs - 2) <= 2 * limit - 1);
    const admitted = samples.filter((s) => s.allowed).length;
    // Each fixed window admits at most the limit; 1.6 s touch at most 5 windows of 500 ms.
    assert.ok(admitted <= 5 * limit, `admitted ${admitted}`);
  });
});

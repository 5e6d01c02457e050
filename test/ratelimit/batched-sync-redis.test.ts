// SYNC_LUA on the real Redis answers as its JavaScript twin syncApply does, for one random trace of
// batches (caller clock, so both see the same times), including batches of a previous or a future window.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { syncApply } from '../../gateway/ratelimit/batched-counter.js';
import { RedisStore } from '../../gateway/ratelimit/redis-store.js';
import type { CounterState } from '../../gateway/ratelimit/sliding-counter.js';
import { deleteKeys, SHARED_REDIS, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('sync');
const redis = new Redis({ ...SHARED_REDIS, enableAutoPipelining: true });
after(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

test('SYNC_LUA and syncApply agree on a random trace', async () => {
  const store = new RedisStore({ redis, timeoutMs: 5_000, clock: 'caller' });
  const twins = new Map<string, CounterState>();
  const W = 1000;
  let t = Date.now();
  let s = 99;
  const random = (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
  for (let i = 0; i < 2000; i++) {
    t += random(300);
    const key = `${prefix}{k${random(3)}}`;
    // Batches of this window mostly, sometimes of the previous one or (a clock ahead) the next one.
    const bw = Math.floor(t / W) + [0, 0, 0, -1, 1, -3][random(6)]!;
    const bc = random(4) === 0 ? 0 : random(20);
    const bp = random(3) === 0 ? random(5) : 0;
    const js = syncApply(twins.get(key) ?? null, W, bw, bc, bp, t);
    if (js.state !== null) twins.set(key, js.state);
    const lua = (await store.sync(key, W, bw, bc, bp, t)).map(Number);
    assert.deepEqual(lua, js.reply, `step ${i}: ${key} batch (${bw}, ${bc}, ${bp}) at ${t}`);
  }
});

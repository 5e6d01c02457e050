import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { StaleFenceError } from '../../core/weight-store.js';
import { RedisWeightStore } from '../../gateway/routing/redis-weight-store.js';
import * as controller from '../../rollout/controller.js';
import { RedisFleetWindows } from '../../rollout/fleet-windows.js';
import { rolloutKeys } from '../../rollout/keys.js';
import { RedisLeaderLease } from '../../rollout/leader.js';
import { LiveWindows } from '../../rollout/live-windows.js';
import { DEFAULT_PARAMS } from '../../rollout/params.js';
import { RedisRolloutStore } from '../../rollout/redis-rollout-store.js';
import { waitFor } from '../helpers/wait.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `test:rollout:${randomUUID()}:`;
const connections: Redis[] = [];

function connect(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, enableAutoPipelining: true });
  connections.push(redis);
  return redis;
}

describe('rollout on the real Redis', () => {
  let admin: Redis;

  before(() => {
    admin = connect();
  });

  after(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
    for (const redis of connections) redis.disconnect();
  });

  describe('RedisWeightStore', () => {
    const services = {
      ac: { green: 0, stable: 'blue' as const },
      fv: { green: 30, stable: 'green' as const },
    };

    test('two replicas see each other’s write within a second; get never waits', async () => {
      const a = await RedisWeightStore.open({ redis: connect(), prefix, services, rereadMs: 5000 });
      const b = await RedisWeightStore.open({ redis: connect(), prefix, services, rereadMs: 5000 });
      try {
        assert.deepEqual(b.get('fv'), { green: 30, stable: 'green', revision: 0 });
        const seen: string[] = [];
        b.subscribe((service, w) => seen.push(`${service}:${w.green}`));
        const written = await a.set('ac', { green: 25 });
        assert.deepEqual(written, { green: 25, stable: 'blue', revision: 1 });
        assert.equal(a.get('ac').green, 25, 'the writer sees its own write at once');
        await waitFor('the pub/sub message', () => b.get('ac').green === 25, 1000);
        assert.deepEqual(seen, ['ac:25']);
        await b.set('ac', { green: 100, stable: 'green' });
        await waitFor('the stable colour', () => a.get('ac').stable === 'green', 1000);
        assert.throws(() => a.get('nope'), /unknown service/);
        await assert.rejects(a.set('ac', { green: 101 }), RangeError);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('the periodic re-read heals a missed message', async () => {
      const store = await RedisWeightStore.open({
        redis: connect(),
        prefix: `${prefix}heal:`,
        services,
        rereadMs: 100,
      });
      try {
        // A write that published nothing (as if the message was lost).
        const key = rolloutKeys(`${prefix}heal:`).weights('fv');
        await admin.hset(key, 'green', '75', 'revision', '42');
        await waitFor('the re-read', () => store.get('fv').green === 75, 2000);
        assert.equal(store.get('fv').revision, 42);
      } finally {
        await store.close();
      }
    });

    test('a write with a stale fencing token is refused', async () => {
      const p = `${prefix}fence:`;
      const store = await RedisWeightStore.open({ redis: connect(), prefix: p, services, rereadMs: 5000 });
      try {
        const fenceKey = rolloutKeys(p).fence;
        await admin.set(fenceKey, '5'); // leaders 1..5 have been elected
        await assert.rejects(store.set('ac', { green: 10 }, 4), (error: unknown) => {
          assert.ok(error instanceof StaleFenceError);
          assert.deepEqual([error.fence, error.newest], [4, 5]);
          return true;
        });
        assert.equal(store.get('ac').green, 0);
        await store.set('ac', { green: 10 }, 5);
        await admin.set(fenceKey, '6');
        await store.set('ac', { green: 20 }, 6);
        await assert.rejects(store.set('ac', { green: 30 }, 5), StaleFenceError);
        assert.equal(store.get('ac').green, 20);
        await store.set('ac', { green: 0 }); // an operator's unfenced write
        assert.equal(store.get('ac').green, 0);
      } finally {
        await store.close();
      }
    });
  });

  describe('RedisLeaderLease', () => {
    test('one of two holds the lease; the other takes over when the holder stops renewing, with a newer fence', async () => {
      const p = `${prefix}lease:`;
      const changes: string[] = [];
      const redisA = connect();
      const a = new RedisLeaderLease({
        redis: redisA,
        prefix: p,
        id: 'a',
        ttlMs: 600,
        onChange: (l, f) => changes.push(`a:${l}:${f}`),
      });
      const b = new RedisLeaderLease({ redis: connect(), prefix: p, id: 'b', ttlMs: 600 });
      try {
        await a.start();
        await b.start();
        assert.equal(a.isLeader(), true);
        assert.equal(b.isLeader(), false);
        assert.equal(b.fence(), null);
        const first = a.fence()!;
        assert.ok(first >= 1);
        // Renewals keep it: still a's well past the TTL.
        await new Promise((resolve) => setTimeout(resolve, 900));
        assert.equal(a.isLeader(), true);
        assert.equal(b.isLeader(), false);
        // a is cut off from Redis: it stops believing it leads by its own deadline, b takes over.
        redisA.disconnect();
        await waitFor('a to give up', () => !a.isLeader(), 1000);
        await waitFor('b to take over', () => b.isLeader(), 2000);
        assert.ok(b.fence()! > first, 'the fencing token increases with every acquisition');
        assert.deepEqual(changes, [`a:true:${first}`, 'a:false:null']);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('close hands the lease back so the successor need not wait for the TTL', async () => {
      const p = `${prefix}handover:`;
      const a = new RedisLeaderLease({ redis: connect(), prefix: p, id: 'a', ttlMs: 30_000 });
      const b = new RedisLeaderLease({ redis: connect(), prefix: p, id: 'b', ttlMs: 30_000 });
      await a.start();
      await b.start();
      assert.equal(b.isLeader(), false);
      await a.close();
      assert.equal(a.isLeader(), false);
      await b.attempt();
      assert.equal(b.isLeader(), true);
      await b.close();
    });
  });

  describe('RedisFleetWindows', () => {
    test('the leader reads the window merged from two replicas', async () => {
      const p = `${prefix}win:`;
      const now = Date.now();
      const localA = new LiveWindows({ services: ['ac'], now: () => now });
      const localB = new LiveWindows({ services: ['ac'], now: () => now });
      const fleetA = new RedisFleetWindows({ redis: connect(), prefix: p, local: localA });
      const fleetB = new RedisFleetWindows({ redis: connect(), prefix: p, local: localB });
      for (let i = 0; i < 60; i++) localA.record('ac', 'green', 200, 10, false);
      for (let i = 0; i < 40; i++) localB.record('ac', 'green', i < 10 ? 503 : 200, 100, false);
      await fleetB.flush();
      await fleetB.flush(); // nothing new: must not count twice
      const merged = await fleetA.read('ac', 'green', 10, now); // flushes its own first
      assert.deepEqual([merged.requests, merged.errors, merged.errorRate], [100, 10, 0.1]);
      assert.ok(merged.p99Ms > 90 && merged.p99Ms <= 100);
      assert.equal((await fleetB.read('ac', 'blue', 10, now)).requests, 0);
      const ttl = await admin.ttl(fleetA.key('ac', 'green', Math.floor(now / 1000)));
      assert.ok(ttl > 0 && ttl <= 180, 'per-second hashes expire');
      await fleetA.close();
      await fleetB.close();
    });
  });

  describe('RedisRolloutStore', () => {
    test('persists a rollout for the next leader and refuses a write based on an old version', async () => {
      const store = new RedisRolloutStore({ redis: connect(), prefix });
      const other = new RedisRolloutStore({ redis: connect(), prefix });
      const { rollout } = controller.start({
        id: 'r1',
        service: 'ac',
        params: DEFAULT_PARAMS,
        current: { green: 0, stable: 'blue', revision: 0 },
        actor: 'alice',
        now: 1000,
      });
      assert.equal(await store.get('ac'), null);
      assert.equal(await store.compareAndSet('ac', null, rollout), true);
      assert.equal(await store.compareAndSet('ac', null, rollout), false);
      assert.deepEqual(await other.get('ac'), rollout);
      const paused = controller.pause(rollout, 'bob', undefined, 2000).rollout;
      assert.equal(await other.compareAndSet('ac', rollout.version, paused), true);
      const stale = controller.abort(rollout, 'carol', undefined, 3000).rollout;
      assert.equal(await store.compareAndSet('ac', rollout.version, stale), false);
      assert.equal((await store.get('ac'))!.state, 'paused');
    });
  });
});

// The rollout stores across a Redis that is killed and comes back empty (no persistence), on a
// redis-server of this test's own. Regression tests for two defects the chaos suite found:
// - weights written after the restart were ignored by every replica (the revision counted from 1 again,
//   below the replicas' copies), and the admin PUT answered the old split;
// - every admin read of a service answered 500 while Redis was down (no last known rollout state).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisWeightStore } from '../../gateway/routing/redis-weight-store.js';
import type { Rollout } from '../../rollout/controller.js';
import { rolloutKeys } from '../../rollout/keys.js';
import { RedisRolloutStore } from '../../rollout/redis-rollout-store.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { OwnRedis } from '../ratelimit/helpers.js';

const prefix = 'restart:';
const services = { ac: { green: 0, stable: 'blue' as const } };
let server: OwnRedis;
const connections: Redis[] = [];

function connect(): Redis {
  const redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // the outage is the point of these tests
  connections.push(redis);
  return redis;
}

before(async () => {
  server = new OwnRedis(await freePort());
  await server.start();
});

after(async () => {
  for (const redis of connections) redis.disconnect();
  await server.kill();
});

async function restartEmpty(): Promise<void> {
  await server.kill();
  await server.start();
}

describe('RedisWeightStore across a Redis restart that lost the data', () => {
  test('a write after the restart is served by the writer and by the other replicas', async () => {
    const a = await RedisWeightStore.open({ redis: connect(), prefix, services, rereadMs: 100 });
    const b = await RedisWeightStore.open({ redis: connect(), prefix, services, rereadMs: 100 });
    try {
      for (const green of [10, 20, 30, 40]) await a.set('ac', { green });
      await waitFor('b at 40', () => b.get('ac').green === 40, 2000);
      const before = a.get('ac').revision;
      assert.equal(before, 4);

      await restartEmpty();
      const written = await waitFor(
        'a write to succeed',
        () => a.set('ac', { green: 55 }).catch(() => null),
        5000,
        50,
      );
      assert.equal(written.green, 55, 'the writer answers the split it wrote');
      assert.ok(written.revision > before, `revision ${written.revision} continues above ${before}`);
      assert.equal(a.get('ac').green, 55);
      await waitFor('the other replica to serve 55', () => b.get('ac').green === 55, 3000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('the re-read puts the last known split back into an emptied Redis', async () => {
    const p = `${prefix}reseed:`;
    const a = await RedisWeightStore.open({ redis: connect(), prefix: p, services, rereadMs: 100 });
    const probe = connect();
    try {
      await a.set('ac', { green: 70, stable: 'green' });
      await a.set('ac', { green: 80 });
      await restartEmpty();
      const key = rolloutKeys(p).weights('ac');
      const fields = await waitFor(
        'the hash to be restored',
        async () => {
          const got = await probe.hmget(key, 'green', 'stable', 'revision').catch(() => [null]);
          return got[0] === null ? null : got;
        },
        5000,
        100,
      );
      assert.deepEqual(fields, ['80', 'green', '2']);
      assert.deepEqual(
        a.get('ac'),
        { green: 80, stable: 'green', revision: 2 },
        'kept serving the last known split',
      );
      // A replica starting now reads what the fleet serves, not its configured initial weights.
      const late = await RedisWeightStore.open({ redis: connect(), prefix: p, services, rereadMs: 100 });
      assert.equal(late.get('ac').green, 80);
      await late.close();
    } finally {
      await a.close();
    }
  });
});

describe('RedisRolloutStore while Redis is down', () => {
  test('reads answer the last known rollout; writes still fail', async () => {
    const store = new RedisRolloutStore({ redis: connect(), prefix });
    const rollout = { id: 'r1', service: 'ac', version: 1, state: 'progressing' } as unknown as Rollout;
    assert.equal(await store.compareAndSet('ac', null, rollout), true);
    assert.equal(await store.get('fv'), null);
    await server.kill();
    try {
      assert.deepEqual(await store.get('ac'), rollout, 'the last known rollout');
      assert.equal(await store.get('fv'), null, 'a known absence stays known');
      await assert.rejects(store.get('never-read'), 'nothing known: the error surfaces');
      await assert.rejects(store.compareAndSet('ac', 1, { ...rollout, version: 2 } as Rollout));
    } finally {
      await server.start();
    }
  });
});

// End to end, two gateway PROCESSES (`acgs-gateway start`) sharing the real Redis under one key prefix:
// weights propagate, a killed leader's rollout is carried on by the other replica, and the analysis reads
// windows merged from both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { GatewayProcess } from '../helpers/process.js';
import { leaderOf, newRedis, pidOfHolder, startReplica } from './support/fleet.js';
import {
  admin,
  deleteKeys,
  FAST_ROLLOUT,
  rolloutStatus,
  servedGreen,
  summarise,
  Traffic,
  uniquePrefix,
  waitFor,
} from './support/rollout-e2e.js';

const SERVICE = 'gs';
const ROLLOUT = {
  defaults: { steps: [10, 50, 100], intervalMs: 2000, minRequests: 20, maxP99Ms: 500 },
  ...FAST_ROLLOUT,
};

let redis: Redis;
const prefixes: string[] = [];
const processes: GatewayProcess[] = [];
const traffics: Traffic[] = [];

before(() => {
  redis = newRedis();
});
after(async () => {
  await Promise.allSettled(traffics.map((t) => t.stop()));
  await Promise.allSettled(processes.map((p) => p.stop('SIGKILL')));
  for (const prefix of prefixes) await deleteKeys(prefix);
  redis.disconnect();
});

/** Replica A (started first, so it holds the leader lease), then replica B, on a fresh prefix. */
async function fleet(green: { failRate?: number; latencyMs?: number } = {}) {
  const prefix = uniquePrefix('fleet');
  prefixes.push(prefix);
  const options = { prefix, service: SERVICE, green, extra: { rollout: ROLLOUT } };
  const a = await startReplica(options);
  processes.push(a);
  const b = await startReplica(options);
  processes.push(b);
  const holder = await leaderOf(redis, prefix);
  assert.equal(pidOfHolder(holder), a.child.pid, `replica A leads (lease held by ${holder})`);
  return { prefix, a, b };
}

function traffic(urls: string[], concurrency = 12): Traffic {
  const t = new Traffic({ urls, service: SERVICE, concurrency });
  traffics.push(t);
  return t;
}

/** Waits until `replica` serves `green`; answers how long that took from `since`. */
async function propagation(replica: GatewayProcess, green: number, since: number): Promise<number> {
  await waitFor(
    `green ${green} on ${replica.adminUrl}`,
    async () => (await servedGreen(replica.adminUrl, SERVICE)) === green,
    5000,
    5,
  );
  return Date.now() - since;
}

describe('a fleet of two gateway processes on one Redis', () => {
  test('both replicas serve the same weights within a second of a change made through either', async (t) => {
    const { prefix, a, b } = await fleet();
    const times: number[] = [];
    for (const [via, other, green] of [
      [a, b, 30],
      [b, a, 70],
      [a, b, 5],
      [b, a, 0],
    ] as const) {
      const since = Date.now();
      const res = await admin(via.adminUrl, 'PUT', `/admin/services/${SERVICE}/weights`, { green });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      times.push(await propagation(other, green, since));
      assert.equal(
        await servedGreen(via.adminUrl, SERVICE),
        green,
        'the replica that took the change serves it',
      );
    }
    const line = `weight propagation between replicas: ${times.map((ms) => `${ms} ms`).join(', ')} (max ${Math.max(...times)} ms)`;
    t.diagnostic(line);
    console.log(`[e2e numbers] ${line}`);
    for (const ms of times) assert.ok(ms < 1500, `propagated in ${ms} ms`);

    // And the data planes route by it: 40 % green through both replicas, sticky users split alike.
    const res = await admin(a.adminUrl, 'PUT', `/admin/services/${SERVICE}/weights`, { green: 40 });
    assert.equal(res.status, 200);
    await propagation(b, 40, Date.now());
    const load = new Traffic({
      urls: [a.dataUrl, b.dataUrl],
      service: SERVICE,
      concurrency: 8,
      maxRequests: 2000,
    });
    traffics.push(load);
    await waitFor('2000 answers', () => load.samples.length >= 2000, 20_000);
    await load.stop();
    for (const target of [0, 1]) {
      const s = summarise(load.samples.filter((x) => x.target === target));
      const share = s.green / s.total;
      assert.equal(s.failed, 0);
      assert.ok(
        share > 0.32 && share < 0.48,
        `replica ${'AB'[target]} sends ${(share * 100).toFixed(1)} % to green`,
      );
    }

    // A missed pub/sub message is healed by the periodic re-read: write the hash behind the fleet's back.
    const key = `${prefix}{rollout}:weights:${SERVICE}`;
    const healedSince = Date.now();
    await redis.hset(key, 'green', '55');
    await redis.hincrby(key, 'revision', 1);
    const healed = Math.max(await propagation(a, 55, healedSince), await propagation(b, 55, healedSince));
    t.diagnostic(`a silent write (no PUBLISH) reached both replicas in ${healed} ms (re-read every 200 ms)`);
    assert.ok(healed < 1500);
  });

  test('the leader is killed mid-rollout and the other replica finishes it', async (t) => {
    const { prefix, a, b } = await fleet();
    const load = traffic([b.dataUrl]);
    await waitFor('traffic flowing', () => load.samples.length > 100);
    const started = await admin(a.adminUrl, 'POST', `/admin/services/${SERVICE}/rollout`, {});
    assert.equal(started.status, 201, JSON.stringify(started.json));
    const rolloutId = started.json.rolloutId;

    // Mid-rollout: the leader has advanced to the second step.
    await waitFor(
      'the second step',
      async () => (await rolloutStatus(b.adminUrl, SERVICE)).step === 2,
      15_000,
      50,
    );
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;

    const holder = await waitFor(
      'replica B to take the lease',
      async () => {
        const h = await leaderOf(redis, prefix);
        return pidOfHolder(h) === b.child.pid ? h : null;
      },
      10_000,
      20,
    );
    const takeover = Date.now() - killedAt;
    const done = await waitFor(
      'the rollout to be promoted by replica B',
      async () => {
        const s = await rolloutStatus(b.adminUrl, SERVICE);
        return !s.active && s.applied ? s : null;
      },
      20_000,
      50,
    );
    const finished = Date.now() - killedAt;
    await load.stop();

    const line = `leader SIGKILLed at step 2: replica B took the lease after ${takeover} ms (lease TTL 1500 ms) and promoted the rollout ${finished} ms after the kill (interval 2000 ms)`;
    t.diagnostic(line);
    console.log(`[e2e numbers] ${line}`);
    assert.ok(holder);
    assert.ok(takeover <= 1500 + 1000, `takeover within the lease TTL (+ a renewal period): ${takeover} ms`);
    assert.equal(done.state, 'promoted', done.reason!);
    assert.equal(done.rolloutId, rolloutId, 'the same rollout was carried on');
    assert.deepEqual(
      done.history.map((h) => `${h.to}@${h.weight}`),
      ['progressing@10', 'progressing@50', 'progressing@100', 'promoted@100'],
    );
    assert.deepEqual(
      { green: done.weights.green, stable: done.weights.stable },
      { green: 100, stable: 'green' },
    );
    // Lease TTL, then at most the rest of the step 2 interval and the whole step 3 interval, plus slack.
    assert.ok(finished < 1500 + 2 * 2000 + 3000, `finished ${finished} ms after the kill`);
    // The new leader wrote with a newer fencing token.
    const fence = Number(await redis.hget(`${prefix}{rollout}:weights:${SERVICE}`, 'fence'));
    assert.ok(fence >= 2, `weights written with fence ${fence}`);
    const served = summarise(load.samples);
    assert.equal(served.failed, 0, 'replica B kept answering');
  });

  test('windows merged from both replicas decide the analysis', async (t) => {
    const { prefix, a, b } = await fleet({ failRate: 0.05 });

    // Exactly counted: 37 requests through A and 53 through B; both replicas' status reads all 90.
    const send = async (url: string, n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${url}/api/${SERVICE}/count/${i}`, {
          headers: { cookie: `acgs_uid=count${String(i).padStart(6, '0')}` },
        });
        await res.arrayBuffer();
        assert.equal(res.headers.get('x-acgs-color'), 'blue');
      }
    };
    await Promise.all([send(a.dataUrl, 37), send(b.dataUrl, 53)]);
    for (const replica of [a, b]) {
      await waitFor(
        "the fleet window to hold both replicas' requests",
        async () => (await rolloutStatus(replica.adminUrl, SERVICE)).windows.stable.requests >= 90,
        5000,
        50,
      );
    }
    await sleep(500);
    for (const replica of [a, b]) {
      const s = await rolloutStatus(replica.adminUrl, SERVICE);
      assert.equal(s.windows.stable.requests, 90, 'the sum of both replicas, each counted once');
    }

    // A leads; every client request goes through B; B's windows reach A through Redis and A rolls back.
    const load = traffic([b.dataUrl]);
    await waitFor('traffic flowing', () => load.samples.length > 100);
    const started = await admin(b.adminUrl, 'POST', `/admin/services/${SERVICE}/rollout`, {
      steps: [25, 50, 100],
      thresholds: { minRequests: 400, maxP99Ms: 1000 },
    });
    assert.equal(started.status, 201, JSON.stringify(started.json));
    const done = await waitFor(
      'the rollback',
      async () => {
        const s = await rolloutStatus(a.adminUrl, SERVICE);
        return !s.active && s.applied ? s : null;
      },
      30_000,
      50,
    );
    await load.stop();
    assert.equal(pidOfHolder(await leaderOf(redis, prefix)), a.child.pid, 'A led throughout');
    assert.equal(done.state, 'rolled_back', done.reason!);
    assert.match(done.reason!, /error rate .* above maxErrorRate/);
    assert.equal(done.history.at(-1)!.actor, 'controller');
    const failing = done.analyses[0]!;
    assert.equal(failing.outcome, 'fail');
    assert.ok(failing.candidate.requests >= 400, "the analysis counted B's traffic");
    const through = summarise(load.samples);
    const line = `fleet 5% failing green, traffic only through B, leader A: rolled back after analysing ${failing.candidate.errors}/${failing.candidate.requests}; clients saw ${through.greenFailed} failed of ${through.green} green`;
    t.diagnostic(line);
    console.log(`[e2e numbers] ${line}`);
    // Replica A itself proxied none of it: only the 37 counted requests above, all blue.
    const local = await admin(a.adminUrl, 'GET', `/admin/services/${SERVICE}`);
    assert.equal(local.json.colors.green.window.requests, 0, 'A saw no green traffic itself');
    await waitFor(
      'B to route by the rollback',
      async () => (await servedGreen(b.adminUrl, SERVICE)) === 0,
      2000,
    );
  });
});

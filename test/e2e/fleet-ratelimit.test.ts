// End to end, two gateway PROCESSES sharing one Redis for rate limiting: together they admit no more than
// the limit (exact sliding log), stay within the documented error with the per-request sliding-window
// counter, and every answer carries the IETF RateLimit fields (429s also Retry-After and the JSON error body).
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { GatewayProcess } from '../helpers/process.js';
import { startReplica } from './support/fleet.js';
import { deleteKeys, uniquePrefix } from './support/rollout-e2e.js';

const SERVICE = 'ac';
const prefixes: string[] = [];
const processes: GatewayProcess[] = [];

after(async () => {
  await Promise.allSettled(processes.map((p) => p.stop('SIGKILL')));
  for (const prefix of prefixes) await deleteKeys(prefix);
});

/**
 * Two replicas with one shared limit. failMode closed and a generous Redis timeout: a decision that could
 * not reach Redis answers 503 instead of falling back to a replica's own memory, so an over-admission
 * could only come from Redis itself (and a 503 would show, not hide, a problem).
 */
async function pair(limit: Record<string, unknown>) {
  const prefix = uniquePrefix('fleet-rl');
  prefixes.push(prefix);
  const extra = {
    rateLimit: {
      keyPrefix: `${prefix}rl:`,
      redisTimeoutMs: 2000,
      limits: [{ name: 'shared', failMode: 'closed', ...limit }],
    },
  };
  const started = await Promise.allSettled([
    startReplica({ prefix, service: SERVICE, extra }),
    startReplica({ prefix, service: SERVICE, extra }),
  ]);
  // Whatever started is stopped by the after() hook, even when its twin failed to start.
  for (const result of started) if (result.status === 'fulfilled') processes.push(result.value);
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const [a, b] = started.map((result) => (result as PromiseFulfilledResult<GatewayProcess>).value) as [
    GatewayProcess,
    GatewayProcess,
  ];
  return { a, b };
}

interface Answer {
  replica: number;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  sent: number;
  received: number;
}

async function hit(pool: Pool, replica: number, i: number): Promise<Answer> {
  const sent = performance.now();
  const res = await pool.request({ path: `/api/${SERVICE}/r/${i}`, method: 'GET', headersTimeout: 10_000 });
  const body = await res.body.text();
  return { replica, status: res.statusCode, headers: res.headers, body, sent, received: performance.now() };
}

function header(a: Answer, name: string): string | undefined {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

describe('rate limits shared by two gateway processes through one Redis', () => {
  test('log: 200 concurrent requests split across both replicas admit exactly 50', async (t) => {
    const { a, b } = await pair({ limit: 50, window: '10s', algorithm: 'log' });
    const pools = [new Pool(a.dataUrl, { connections: 50 }), new Pool(b.dataUrl, { connections: 50 })];
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => hit(pools[i % 2]!, i % 2, i)));
      const admitted = answers.filter((x) => x.status === 200);
      const limited = answers.filter((x) => x.status === 429);
      const perReplica = [0, 1].map((r) => admitted.filter((x) => x.replica === r).length);
      t.diagnostic(
        `admitted ${admitted.length} (A ${perReplica[0]}, B ${perReplica[1]}), limited ${limited.length}`,
      );
      assert.equal(
        admitted.length + limited.length,
        200,
        `only 200 and 429: ${[...new Set(answers.map((x) => x.status))]}`,
      );
      assert.equal(admitted.length, 50, 'the fleet together admits the limit, not a request more');
      // Each replica got 100 requests and alone would admit 50 of them; together they admitted 50, so
      // each one's decisions counted the other's (which replica gets the first ones is scheduling).
      assert.ok(perReplica[0]! + perReplica[1]! === 50 && perReplica.every((n) => n <= 50));

      for (const ok of admitted) {
        assert.equal(header(ok, 'ratelimit-limit'), '50');
        const remaining = Number(header(ok, 'ratelimit-remaining'));
        assert.ok(remaining >= 0 && remaining < 50, `RateLimit-Remaining ${remaining}`);
        assert.ok(Number(header(ok, 'ratelimit-reset')) >= 0);
      }
      const remainings = admitted.map((x) => Number(header(x, 'ratelimit-remaining'))).sort((p, q) => p - q);
      assert.deepEqual(
        remainings,
        Array.from({ length: 50 }, (_, i) => i),
        'each admission took one slot',
      );
      for (const no of limited) {
        const retry = Number(header(no, 'retry-after'));
        assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 10, `Retry-After ${retry}`);
        assert.equal(header(no, 'ratelimit-limit'), '50');
        assert.equal(header(no, 'ratelimit-remaining'), '0');
        assert.equal(Number(header(no, 'ratelimit-reset')), retry, 'Reset equals Retry-After on a refusal');
        const body = JSON.parse(no.body);
        assert.equal(typeof body.error.code, 'string');
        assert.equal(typeof body.error.requestId, 'string');
      }

      // Still refused a moment later on either replica: the window has not slid yet.
      const again = await Promise.all([hit(pools[0]!, 0, 1000), hit(pools[1]!, 1, 1001)]);
      assert.deepEqual(
        again.map((x) => x.status),
        [429, 429],
      );
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  test('counter: steady load through both replicas stays within the documented error', async (t) => {
    const windowMs = 2000;
    const limit = 50;
    // Per-request, so that this checks the counter's own documented error; the batched default and its
    // bound are tested in fleet-ratelimit-batched.test.ts.
    const { a, b } = await pair({ limit, window: '2s', algorithm: 'counter', sync: 'per-request' });
    const pools = [new Pool(a.dataUrl, { connections: 8 }), new Pool(b.dataUrl, { connections: 8 })];
    const answers: Answer[] = [];
    const started = performance.now();
    const durationMs = 5000;
    try {
      // 4 workers per replica, each about 40 requests a second: ~300/s offered against 25/s allowed.
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; performance.now() - started < durationMs && i < 1000; i++) {
            answers.push(await hit(pools[w % 2]!, w % 2, w * 1000 + i));
            await sleep(25);
          }
        }),
      );
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
    const elapsed = performance.now() - started;
    const admitted = answers.filter((x) => x.status === 200).sort((p, q) => p.sent - q.sent);
    const statuses = new Set(answers.map((x) => x.status));
    assert.deepEqual([...statuses].sort(), [200, 429], 'only admissions and refusals');
    // Admissions surely decided inside a window: the whole [sent, received] interval within [x, x + window).
    let worst = 0;
    for (const first of admitted) {
      let n = 0;
      for (const s of admitted) if (s.sent >= first.sent && s.received < first.sent + windowMs) n++;
      worst = Math.max(worst, n);
    }
    // Each fixed window admits at most `limit`; the run touches at most ceil(elapsed / window) + 1 of them.
    const fixedWindows = Math.ceil(elapsed / windowMs) + 1;
    const line = `counter, limit ${limit}/2s over ${Math.round(elapsed)} ms: ${answers.length} offered, ${admitted.length} admitted (bound ${fixedWindows * limit}), at most ${worst} in any 2 s window (documented worst case ${2 * limit - 1})`;
    t.diagnostic(line);
    console.log(`[e2e numbers] ${line}`);
    assert.ok(worst <= 2 * limit - 1, `sliding window held ${worst}`);
    assert.ok(admitted.length <= fixedWindows * limit, `${admitted.length} admitted`);
    assert.ok(admitted.length >= limit, 'the limit was reached, not starved');
    assert.ok(
      admitted.some((x) => x.replica === 0) && admitted.some((x) => x.replica === 1),
      'both replicas admitted',
    );
  });
});

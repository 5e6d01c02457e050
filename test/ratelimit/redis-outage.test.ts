// Redis trouble mid-traffic, on a redis-server of this test's own: killed, frozen, restarted.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { GatewayError } from '../../core/errors.js';
import { parseRateLimitConfig } from '../../gateway/ratelimit/config.js';
import { recommendedRedisOptions } from '../../gateway/ratelimit/redis-store.js';
import { createRateLimitStages, type RateLimitStages } from '../../gateway/ratelimit/stage.js';
import { capturingLogger, freePort, makeCtx, metricValue, OwnRedis, waitFor } from './helpers.js';

const TIMEOUT_MS = 50;
/** Scheduling slack on a busy CI machine; the point is that nothing waits for Redis to come back. */
const MARGIN_MS = 250;

let server: OwnRedis;
let redis: Redis;
let stages: RateLimitStages;
let registry: Registry;
let lines: Array<Record<string, unknown>>;

before(async () => {
  server = new OwnRedis(await freePort());
  await server.start();
  redis = new Redis({ ...recommendedRedisOptions, host: '127.0.0.1', port: server.port });
  // The gateway's owner of the client logs these; here the outage is the point of the test.
  redis.on('error', () => {});
  await waitFor('the client to connect', () => redis.status === 'ready');
  registry = new Registry();
  const captured = capturingLogger();
  lines = captured.lines;
  stages = createRateLimitStages({
    config: parseRateLimitConfig({
      redisTimeoutMs: TIMEOUT_MS,
      replicas: 2,
      limits: [
        { name: 'open', limit: 4, window: '1m', algorithm: 'log', match: { service: 'ac' } },
        // Per-request, like the log limit: this file is about decisions that wait for Redis (the batched
        // counter's outage behaviour is tested in test/e2e/fleet-ratelimit-batched.test.ts).
        {
          name: 'closed',
          limit: 100,
          window: '1m',
          failMode: 'closed',
          sync: 'per-request',
          match: { service: 'gs' },
        },
      ],
    }),
    redis,
    registry,
    logger: captured.logger,
  });
});

after(async () => {
  await stages.close();
  redis.disconnect();
  server.thaw();
  await server.kill();
});

/** One request through the address stage: its outcome and how long the decision took. */
async function request(service: 'ac' | 'gs', clientIp: string) {
  const ctx = makeCtx({ service, clientIp });
  const started = performance.now();
  let error: GatewayError | null = null;
  try {
    await stages.beforeAuth.run(ctx);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    error = err;
  }
  return { ctx, error, ms: performance.now() - started };
}

const decisions = (limit: string, result: string) =>
  metricValue(registry, 'acgs_ratelimit_decisions_total', { limit, result });
const failures = (reason: string) => metricValue(registry, 'acgs_ratelimit_redis_failures_total', { reason });
const warnings = () => lines.filter((l) => l.level === 40).length;

describe('Redis stops, freezes and comes back', () => {
  test('healthy: decisions go through Redis', async () => {
    const r = await request('ac', '198.51.100.1');
    assert.equal(r.error, null);
    assert.equal(await decisions('open', 'allowed'), 1);
    assert.equal(await redis.exists('acgs:rl:{open:a:198.51.100.1}'), 1);
    assert.equal(await metricValue(registry, 'acgs_ratelimit_redis_up'), 1);
  });

  test('killed: failMode open falls back to this replica’s share, closed answers 503, nobody waits', async () => {
    await server.kill();
    await waitFor('the client to notice', () => redis.status !== 'ready');
    let slowest = 0;

    // open: limit 4 over 2 replicas → 2 per replica while Redis is away.
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await request('ac', '198.51.100.2'));
    assert.deepEqual(
      open.map((r) => r.error?.status ?? 200),
      [200, 200, 429],
    );
    assert.equal(open[0]!.ctx.responseHeaders[1], '2', 'RateLimit-Limit reports the share in force');
    assert.ok(open[2]!.error?.headers?.['retry-after']);

    const closed = await request('gs', '198.51.100.2');
    assert.equal(closed.error?.status, 503);
    assert.equal(closed.error?.code, 'rate_limit_unavailable');

    for (const r of [...open, closed]) slowest = Math.max(slowest, r.ms);
    assert.ok(slowest < TIMEOUT_MS + MARGIN_MS, `a decision took ${slowest} ms`);

    assert.equal(await decisions('open', 'fallback_allowed'), 2);
    assert.equal(await decisions('open', 'fallback_limited'), 1);
    assert.equal(await decisions('closed', 'unavailable'), 1);
    assert.equal(await failures('disconnected'), 4);
    assert.equal(await metricValue(registry, 'acgs_ratelimit_redis_up'), 0);
    // Many failing decisions, one log line.
    for (let i = 0; i < 20; i++) await request('gs', '198.51.100.3');
    assert.equal(warnings(), 1);
  });

  test('restarted: the next decisions use Redis again, without a restart of the gateway', async () => {
    await server.start();
    await waitFor('the client to reconnect', () => redis.status === 'ready', 10_000);
    const before = await decisions('open', 'allowed');
    const r = await request('ac', '198.51.100.4');
    assert.equal(r.error, null);
    assert.equal(await decisions('open', 'allowed'), before + 1);
    // The script cache of the new server was empty: EVALSHA fell back to EVAL by itself.
    assert.equal(await redis.exists('acgs:rl:{open:a:198.51.100.4}'), 1);
    assert.equal((await request('gs', '198.51.100.4')).error, null);
    assert.equal(await metricValue(registry, 'acgs_ratelimit_redis_up'), 1);
    assert.equal(lines.filter((l) => l.level === 30 && /answers again/.test(String(l.msg))).length, 1);
  });

  test('frozen (connected but silent): each decision gives up after the timeout, then skips Redis', async () => {
    server.freeze();
    try {
      const first = await request('ac', '198.51.100.5');
      assert.equal(first.error, null, 'fell back');
      assert.ok(first.ms >= TIMEOUT_MS - 5, `gave up after ${first.ms} ms, before the timeout`);
      assert.ok(first.ms < TIMEOUT_MS + MARGIN_MS, `waited ${first.ms} ms`);
      assert.equal(await failures('timeout'), 1);

      // While backing off, decisions do not wait for Redis at all.
      const closed = await request('gs', '198.51.100.5');
      assert.equal(closed.error?.status, 503);
      assert.ok(closed.ms < TIMEOUT_MS + MARGIN_MS);
      assert.ok((await failures('backoff')) >= 1);
    } finally {
      server.thaw();
    }
    // Thawed: after the back-off one decision probes Redis, and it answers.
    await waitFor(
      'decisions to reach Redis again',
      async () => (await request('gs', '198.51.100.6')).error === null,
      5_000,
    );
    assert.equal(await metricValue(registry, 'acgs_ratelimit_redis_up'), 1);
  });
});

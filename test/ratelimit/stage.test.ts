import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { GatewayError } from '../../core/errors.js';
import type { RequestContext } from '../../core/types.js';
import { parseRateLimitConfig, type RateLimitConfigInput } from '../../gateway/ratelimit/config.js';
import { createRateLimitStages, type RateLimitStages } from '../../gateway/ratelimit/stage.js';
import { capturingLogger, deleteKeys, makeCtx, metricValue, SHARED_REDIS, uniquePrefix } from './helpers.js';

const T0 = 1_700_000_000_000;

function setup(input: RateLimitConfigInput, redis: Redis | null = null) {
  const clock = { t: T0 };
  const registry = new Registry();
  const stages = createRateLimitStages({
    config: parseRateLimitConfig(input),
    redis,
    registry,
    logger: capturingLogger().logger,
    now: () => clock.t,
  });
  return { stages, registry, clock };
}

/** Runs both stages as the pipeline does; returns the GatewayError that ended the request, if any. */
async function pass(stages: RateLimitStages, ctx: RequestContext): Promise<GatewayError | null> {
  try {
    await stages.beforeAuth.run(ctx);
    await stages.afterAuth.run(ctx);
    return null;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
}

function headerMap(ctx: RequestContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < ctx.responseHeaders.length; i += 2)
    out[ctx.responseHeaders[i]!] = ctx.responseHeaders[i + 1]!;
  return out;
}

describe('rate-limit stages (memory store)', () => {
  test('an allowed request carries RateLimit-Limit, -Remaining and -Reset', async () => {
    const { stages } = setup({ limits: [{ name: 'ip', limit: 3, window: '10s', algorithm: 'log' }] });
    const ctx = makeCtx();
    assert.equal(await pass(stages, ctx), null);
    assert.deepEqual(ctx.responseHeaders, [
      'RateLimit-Limit',
      '3',
      'RateLimit-Remaining',
      '2',
      'RateLimit-Reset',
      '10',
    ]);
    await stages.close();
  });

  test('over the limit: 429 with Retry-After and the RateLimit fields, counted in the metrics', async () => {
    const { stages, registry, clock } = setup({
      limits: [{ name: 'ip', limit: 2, window: '10s', algorithm: 'log' }],
    });
    await pass(stages, makeCtx());
    clock.t += 2_500;
    await pass(stages, makeCtx());
    clock.t += 1_000;
    const ctx = makeCtx();
    const err = await pass(stages, ctx);
    assert.ok(err);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'rate_limited');
    // The first request leaves the window 10 s after it came, 6.5 s from now.
    assert.deepEqual(err.headers, {
      'retry-after': '7',
      'ratelimit-limit': '2',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '7',
    });
    assert.deepEqual(ctx.responseHeaders, [], 'the rejection carries its own headers');
    assert.equal(
      await metricValue(registry, 'acgs_ratelimit_decisions_total', { limit: 'ip', result: 'allowed' }),
      2,
    );
    assert.equal(
      await metricValue(registry, 'acgs_ratelimit_decisions_total', { limit: 'ip', result: 'limited' }),
      1,
    );
    // Once the first request has slid out the client is let in again.
    clock.t += 6_500;
    assert.equal(await pass(stages, makeCtx()), null);
    await stages.close();
  });

  test('a per-address and a per-subject tier: headers report the more restrictive one', async () => {
    const { stages } = setup({
      limits: [
        { name: 'per-ip', limit: 100, window: '1m', by: 'address' },
        { name: 'per-user', limit: 3, window: '1m', by: 'subject', algorithm: 'log' },
      ],
    });
    const alice = () => makeCtx({ claims: { sub: 'alice' } });
    const ctx = alice();
    await pass(stages, ctx);
    assert.deepEqual(headerMap(ctx), {
      'RateLimit-Limit': '3',
      'RateLimit-Remaining': '2',
      'RateLimit-Reset': '60',
    });
    await pass(stages, alice());
    await pass(stages, alice());
    const err = await pass(stages, alice());
    assert.equal(err?.status, 429);
    assert.match(err?.message ?? '', /per-user/);
    // Bob shares alice's address but has his own subject budget.
    const bob = makeCtx({ claims: { sub: 'bob' } });
    assert.equal(await pass(stages, bob), null);
    assert.equal(headerMap(bob)['RateLimit-Remaining'], '2');
    await stages.close();
  });

  test('the address tier is reported when it is the more restrictive one', async () => {
    const { stages } = setup({
      limits: [
        { name: 'per-ip', limit: 2, window: '1m', by: 'address', algorithm: 'log' },
        { name: 'per-user', limit: 50, window: '1m', by: 'subject', algorithm: 'log' },
      ],
    });
    const ctx = makeCtx({ claims: { sub: 'alice' } });
    await pass(stages, ctx);
    assert.deepEqual(headerMap(ctx), {
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '1',
      'RateLimit-Reset': '60',
    });
    assert.equal(ctx.responseHeaders.length, 6, 'one set of fields, not one per tier');
    await stages.close();
  });

  test('a subject limit without a verified token falls back to the address, in its own namespace', async () => {
    const { stages } = setup({ limits: [{ name: 'per-user', limit: 1, window: '1m', by: 'subject' }] });
    assert.equal(await pass(stages, makeCtx()), null);
    assert.equal((await pass(stages, makeCtx()))?.status, 429, 'anonymous requests share the address budget');
    // A subject that spells the same address is a different client.
    assert.equal(await pass(stages, makeCtx({ claims: { sub: '192.0.2.1' } })), null);
    await stages.close();
  });

  test('limits apply by service and by segment-aware path prefix', async () => {
    const { stages } = setup({
      limits: [
        { name: 'ac-admin', limit: 1, window: '1m', match: { service: 'ac', prefix: '/v1/admin' } },
        { name: 'gs-all', limit: 1, window: '1m', match: { service: 'gs' } },
      ],
    });
    const at = (service: string | null, rest: string) => makeCtx({ service, rest });
    assert.equal(await pass(stages, at('ac', '/v1/admin/users')), null);
    assert.equal((await pass(stages, at('ac', '/v1/admin')))?.status, 429);
    // Not under the prefix, or another service: not limited, no headers.
    for (const ctx of [
      at('ac', '/v1/administrator'),
      at('ac', '/v1/things'),
      at('fv', '/v1/admin'),
      at(null, '/'),
    ]) {
      assert.equal(await pass(stages, ctx), null);
      assert.deepEqual(ctx.responseHeaders, []);
    }
    assert.equal(await pass(stages, at('gs', '/anything')), null);
    assert.equal((await pass(stages, at('gs', '/else')))?.status, 429);
    await stages.close();
  });

  test('several tiers in one stage: each counts the request; the longest wait answers the 429', async () => {
    const { stages, clock } = setup({
      limits: [
        { name: 'burst', limit: 2, window: '1s', algorithm: 'log' },
        { name: 'hourly', limit: 4, window: '1h', algorithm: 'log' },
      ],
    });
    await pass(stages, makeCtx());
    await pass(stages, makeCtx());
    const first = await pass(stages, makeCtx());
    assert.match(first?.message ?? '', /'burst'/);
    // The hourly tier admitted and counted that request although 'burst' refused it: 3 of 4 used.
    clock.t += 1_000;
    const ctx = makeCtx();
    assert.equal(await pass(stages, ctx), null);
    assert.deepEqual(headerMap(ctx), {
      'RateLimit-Limit': '4',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '3599',
    });
    clock.t += 1_000;
    const err = await pass(stages, makeCtx());
    assert.match(err?.message ?? '', /'hourly'/);
    assert.equal(err?.headers?.['retry-after'], '3598');
    await stages.close();
  });

  test('no limits configured: the stages do nothing', async () => {
    const { stages } = setup({});
    const ctx = makeCtx();
    assert.equal(stages.beforeAuth.run(ctx), undefined, 'synchronous, no promise');
    assert.equal(stages.afterAuth.run(ctx), undefined);
    assert.deepEqual(ctx.responseHeaders, []);
    await stages.close();
  });

  test('with the memory store a decision is synchronous', async () => {
    const { stages } = setup({ limits: [{ name: 'ip', limit: 5, window: '1s' }] });
    assert.equal(stages.beforeAuth.run(makeCtx()), undefined);
    await stages.close();
  });
});

describe('rate-limit stages (shared Redis)', () => {
  const prefix = uniquePrefix('stage');
  const redis = new Redis({ ...SHARED_REDIS, enableAutoPipelining: true });
  after(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('the same headers and 429 through Redis, with keys hash-tagged by limit and client', async () => {
    await redis.ping();
    const { stages, registry } = setup(
      { keyPrefix: prefix, limits: [{ name: 'ip', limit: 2, window: '10s', algorithm: 'log' }] },
      redis,
    );
    const ctx = makeCtx();
    assert.equal(await pass(stages, ctx), null);
    assert.deepEqual(headerMap(ctx), {
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '1',
      'RateLimit-Reset': '10',
    });
    await pass(stages, makeCtx());
    const err = await pass(stages, makeCtx());
    assert.equal(err?.status, 429);
    const retryAfter = Number(err?.headers?.['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 10, `retry-after ${retryAfter}`);
    assert.equal(await redis.zcard(`${prefix}{ip:a:192.0.2.1}`), 2);
    assert.equal(
      await metricValue(registry, 'acgs_ratelimit_decisions_total', { limit: 'ip', result: 'allowed' }),
      2,
    );
    assert.equal(
      await metricValue(registry, 'acgs_ratelimit_decisions_total', { limit: 'ip', result: 'limited' }),
      1,
    );
    await stages.close();
  });
});

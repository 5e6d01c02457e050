// Repeated traffic with the same token is answered from the verified-token cache, counted in the metrics,
// and a cached token is never accepted at or after its exp.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenCache } from '../../gateway/auth/token-cache.js';
import {
  admit,
  bearer,
  claims,
  HS_SECRET,
  makeContext,
  makeStage,
  metricValue,
  refusalReason,
  secretBytes,
  sign,
  T0,
} from './helpers.js';

const config = { keys: [{ secret: HS_SECRET, algorithms: ['HS256' as const] }], clockToleranceSec: 0 };

describe('verified-token cache', () => {
  test('hits and misses are counted; verifications only on misses', async () => {
    const { stage, registry } = makeStage(config);
    const token = await sign(claims(), secretBytes(), { alg: 'HS256' });
    for (let i = 0; i < 10; i++) await admit(stage, bearer(token));
    assert.equal(await metricValue(registry, 'acgs_jwt_cache_misses_total'), 1);
    assert.equal(await metricValue(registry, 'acgs_jwt_cache_hits_total'), 9);
    assert.equal(await metricValue(registry, 'acgs_jwt_verifications_total', { result: 'valid' }), 1);
  });

  test('a cache hit is answered synchronously', async () => {
    const { stage } = makeStage(config);
    const token = await sign(claims(), secretBytes(), { alg: 'HS256' });
    await admit(stage, bearer(token));
    assert.equal(stage.run(makeContext({ authorization: bearer(token) })), undefined);
  });

  test('rejections are counted by reason', async () => {
    const { stage, registry } = makeStage(config);
    await refusalReason(stage, await sign(claims({ exp: T0 - 10 }), secretBytes(), { alg: 'HS256' }));
    await refusalReason(stage, 'garbage');
    assert.equal(await metricValue(registry, 'acgs_jwt_verifications_total', { result: 'expired' }), 1);
    assert.equal(await metricValue(registry, 'acgs_jwt_verifications_total', { result: 'malformed' }), 1);
  });

  test('a cached token is refused from the second of its exp on', async () => {
    const { stage, clock, registry } = makeStage(config);
    const token = await sign(claims({ exp: T0 + 60 }), secretBytes(), { alg: 'HS256' });
    await admit(stage, bearer(token));
    clock.advance(59_999);
    assert.equal((await admit(stage, bearer(token))).claims?.sub, 'user-1');
    assert.equal(await metricValue(registry, 'acgs_jwt_cache_hits_total'), 1);
    clock.advance(1);
    assert.equal(await refusalReason(stage, token), 'token expired');
    assert.equal(await metricValue(registry, 'acgs_jwt_cache_hits_total'), 1);
  });

  test('entries live at most cache.maxTtlMs, even for long-lived tokens', async () => {
    const { stage, clock, registry } = makeStage({ ...config, cache: { maxTtlMs: 1000 } });
    const token = await sign(claims(), secretBytes(), { alg: 'HS256' });
    await admit(stage, bearer(token));
    clock.advance(1000);
    await admit(stage, bearer(token));
    assert.equal(await metricValue(registry, 'acgs_jwt_cache_hits_total'), 0);
    assert.equal(await metricValue(registry, 'acgs_jwt_verifications_total', { result: 'valid' }), 2);
  });

  test('the cache is bounded and evicts the least recently used token', () => {
    const count = { n: 0, inc() {} };
    const cache = new TokenCache(2, count, count);
    const entry = { claims: {}, subject: null, upstreamHeaders: [], expiresAt: Number.POSITIVE_INFINITY };
    cache.set('a', entry);
    cache.set('b', entry);
    assert.ok(cache.get('a', 0)); // a is now the most recently used
    cache.set('c', entry);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b', 0), undefined);
    assert.ok(cache.get('a', 0));
    assert.ok(cache.get('c', 0));
  });

  test('maxEntries 0 disables the cache', async () => {
    const { stage, registry } = makeStage({ ...config, cache: { maxEntries: 0 } });
    const token = await sign(claims(), secretBytes(), { alg: 'HS256' });
    await admit(stage, bearer(token));
    await admit(stage, bearer(token));
    assert.equal(await metricValue(registry, 'acgs_jwt_verifications_total', { result: 'valid' }), 2);
  });
});

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

  test('behaves as a reference LRU under random gets, sets, expiries and evictions', () => {
    // The reference: a Map in recency order (delete and re-insert on use), the textbook LRU.
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed = (Math.imul(seed ^ (seed >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
      return seed % n;
    };
    for (const max of [1, 2, 3, 8]) {
      const count = { n: 0, inc() {} };
      const cache = new TokenCache(max, count, count);
      const model = new Map<string, { expiresAt: number; tag: number }>();
      let now = 0;
      for (let step = 0; step < 5000; step++) {
        const token = `t${rand(max * 2 + 2)}`;
        const where = `max ${max}, step ${step}, ${token}`;
        if (rand(3) === 0) {
          const entry = {
            claims: {},
            subject: null,
            upstreamHeaders: [],
            expiresAt: now + 1 + rand(50),
            tag: step,
          };
          cache.set(token, entry);
          model.delete(token);
          model.set(token, entry);
          if (model.size > max) model.delete(model.keys().next().value!);
        } else {
          const got = cache.get(token, now) as { tag: number } | undefined;
          const want = model.get(token);
          if (want !== undefined) model.delete(token);
          const live = want !== undefined && now < want.expiresAt;
          if (live) model.set(token, want);
          assert.equal(got?.tag, live ? want.tag : undefined, where);
        }
        assert.equal(cache.size, model.size, where);
        now += rand(3);
      }
    }
  });

  test('setting a cached token again replaces its entry and makes it the most recent', () => {
    const count = { n: 0, inc() {} };
    const cache = new TokenCache(2, count, count);
    const entry = (subject: string) => ({
      claims: {},
      subject,
      upstreamHeaders: [],
      expiresAt: Number.POSITIVE_INFINITY,
    });
    cache.set('a', entry('first'));
    cache.set('b', entry('b'));
    cache.set('a', entry('second'));
    cache.set('c', entry('c')); // evicts b, the least recently used
    assert.equal(cache.get('a', 0)?.subject, 'second');
    assert.equal(cache.get('b', 0), undefined);
    assert.equal(cache.size, 2);
  });

  test('maxEntries 0 disables the cache', async () => {
    const { stage, registry } = makeStage({ ...config, cache: { maxEntries: 0 } });
    const token = await sign(claims(), secretBytes(), { alg: 'HS256' });
    await admit(stage, bearer(token));
    await admit(stage, bearer(token));
    assert.equal(await metricValue(registry, 'acgs_jwt_verifications_total', { result: 'valid' }), 2);
  });
});

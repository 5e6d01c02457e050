import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration } from '../../core/duration.js';
import { maxLocalHitsOf, parseRateLimitConfig } from '../../gateway/ratelimit/config.js';

describe('rate limit configuration', () => {
  test('an empty section gives the documented defaults', () => {
    const cfg = parseRateLimitConfig(undefined);
    assert.deepEqual(cfg, {
      redisTimeoutMs: 50,
      keyPrefix: 'acgs:rl:',
      replicas: 1,
      sync: { intervalMs: 100 },
      memory: { maxKeys: 100_000 },
      limits: [],
    });
  });

  test('a limit gets its defaults and its window in milliseconds', () => {
    const cfg = parseRateLimitConfig({ limits: [{ name: 'per-ip', limit: 100, window: '1m' }] });
    assert.deepEqual(cfg.limits[0], {
      name: 'per-ip',
      limit: 100,
      windowMs: 60_000,
      algorithm: 'counter',
      by: 'address',
      match: {},
      failMode: 'open',
      sync: 'batched',
    });
  });

  test('sync: batched by default for counter, per-request for log; log cannot be batched', () => {
    const cfg = parseRateLimitConfig({
      replicas: 3,
      limits: [
        { name: 'c', limit: 1000, window: '1m' },
        { name: 'l', limit: 10, window: '1m', algorithm: 'log' },
        { name: 'exact-counter', limit: 10, window: '1m', sync: 'per-request' },
        { name: 'own-n', limit: 1000, window: '1m', maxLocalHits: 7 },
      ],
    });
    assert.deepEqual(
      cfg.limits.map((l) => l.sync),
      ['batched', 'per-request', 'per-request', 'batched'],
    );
    // A tenth of the limit over the two other replicas, unless set.
    assert.deepEqual(
      cfg.limits.map((l) => maxLocalHitsOf(cfg, l)),
      [50, 1, 1, 7],
    );
    assert.equal(maxLocalHitsOf(parseRateLimitConfig({ sync: { maxLocalHits: 3 } }), cfg.limits[0]!), 3);
    assert.throws(
      () =>
        parseRateLimitConfig({
          limits: [{ name: 'x', limit: 1, window: '1s', algorithm: 'log', sync: 'batched' }],
        }),
      /rateLimit\.limits\[0\]\.sync/,
    );
    assert.throws(() => parseRateLimitConfig({ sync: { intervalMs: 5 } }), /rateLimit\.sync\.intervalMs/);
  });

  test('durations: the YAML spellings and plain milliseconds', () => {
    assert.equal(parseDuration('1s'), 1_000);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration(1500), 1500);
    assert.ok(Number.isNaN(parseDuration('1 minute')));
    const cfg = parseRateLimitConfig({
      limits: [{ name: 'a', limit: 1, window: 1500, algorithm: 'log', by: 'subject', failMode: 'closed' }],
    });
    assert.equal(cfg.limits[0]!.windowMs, 1500);
  });

  test('every problem is reported with its path', () => {
    let message = '';
    try {
      parseRateLimitConfig({
        redisTimeoutMs: -1,
        memory: { maxKeys: 0 },
        limits: [
          { name: 'ok', limit: 1, window: '1s' },
          {
            name: 'ok',
            limit: 0,
            window: 'soon',
            algorithm: 'bucket',
            match: { prefix: 'v1' },
            failMode: 'maybe',
          },
          { name: 'big-log', limit: 1_000_000, window: '1h', algorithm: 'log' },
          { name: 'has space', limit: 1, window: '1s', extra: true },
        ],
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const expected of [
      'rateLimit.redisTimeoutMs:',
      'rateLimit.memory.maxKeys:',
      'rateLimit.limits[1].limit:',
      'rateLimit.limits[1].window: must be a duration',
      'rateLimit.limits[1].algorithm:',
      'rateLimit.limits[1].match.prefix: must start with /',
      'rateLimit.limits[1].failMode:',
      'rateLimit.limits[2].limit: the log algorithm keeps one entry per request',
      'rateLimit.limits[3].name:',
      'rateLimit.limits[3]: unknown field(s) extra',
    ]) {
      assert.ok(message.includes(expected), `missing "${expected}" in:\n${message}`);
    }
  });

  test('duplicate limit names are refused, since names key the counters and the metrics', () => {
    assert.throws(
      () =>
        parseRateLimitConfig({
          limits: [
            { name: 'same', limit: 1, window: '1s' },
            { name: 'same', limit: 2, window: '1m' },
          ],
        }),
      /rateLimit\.limits\[1\]\.name: duplicate limit name 'same'/,
    );
  });

  test('windows outside 100 ms .. 24 h are refused', () => {
    assert.throws(
      () => parseRateLimitConfig({ limits: [{ name: 'a', limit: 1, window: '10ms' }] }),
      /window/,
    );
    assert.throws(() => parseRateLimitConfig({ limits: [{ name: 'a', limit: 1, window: '25h' }] }), /window/);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bucketDelta, bucketsOf, parseMetrics, sumOf } from '../../release/validate/metrics-text.js';
import {
  availability,
  histogramQuantile,
  percentile,
  perSecond,
  ratio,
  summarize,
  sustainedRate,
} from '../../release/validate/stats.js';

describe('validate statistics', () => {
  test('percentiles are nearest-rank over unsorted samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    assert.equal(percentile(samples, 50), 50);
    assert.equal(percentile(samples, 95), 95);
    assert.equal(percentile(samples, 99), 99);
    assert.equal(percentile(samples, 100), 100);
    assert.equal(percentile(samples, 0), 1);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.throws(() => percentile([1], 101), RangeError);
    // One slow outlier among 200 is above p99 (rank 198), two are not.
    const outlier = [...Array.from({ length: 199 }, () => 1), 1000];
    assert.equal(percentile(outlier, 99), 1);
    assert.equal(percentile(outlier, 100), 1000);
  });

  test('summarize agrees with percentile and does not reorder its input', () => {
    const samples = [5, 1, 4, 2, 3];
    const s = summarize(samples);
    assert.deepEqual(samples, [5, 1, 4, 2, 3]);
    assert.deepEqual(s, { count: 5, p50: 3, p95: 5, p99: 5, max: 5 });
    assert.equal(summarize([]).count, 0);
  });

  test('rates: nothing to divide is null, not 0 %', () => {
    assert.equal(ratio(1, 4), 0.25);
    assert.equal(ratio(0, 0), null);
    assert.equal(perSecond(500, 2000), 250);
    assert.equal(perSecond(5, 0), 0);
  });

  test('sustained rate is the median second, so a fast start does not stand in for the run', () => {
    // 10 s: a 1000-request first second, then 100 per second.
    const times: number[] = [];
    for (let i = 0; i < 1000; i++) times.push((i / 1000) * 999);
    for (let s = 1; s < 10; s++) for (let i = 0; i < 100; i++) times.push(s * 1000 + i * 9);
    assert.equal(sustainedRate(times, 10_000), 100);
    assert.equal(sustainedRate([100, 200, 300], 500), 6);
  });

  test('availability overall and per window finds a short outage a run-wide ratio hides', () => {
    const samples = [];
    for (let t = 0; t < 10_000; t += 100) samples.push({ at: t, ok: !(t >= 5000 && t < 5500) });
    const a = availability(samples, 1000);
    assert.equal(a.probes, 100);
    assert.equal(a.failed, 5);
    assert.equal(a.ratio, 0.95);
    assert.equal(a.windows.length, 10);
    assert.equal(a.worstWindow, 0.5);
    assert.deepEqual(a.windows[5], { start: 5000, probes: 10, failed: 5 });
    const none = availability([], 1000);
    assert.equal(none.ratio, null);
    assert.equal(none.worstWindow, null);
    assert.throws(() => availability([], 0), RangeError);
  });

  test('histogram quantiles interpolate inside the bucket like histogram_quantile()', () => {
    const buckets = new Map([
      [0.001, 50],
      [0.01, 90],
      [0.1, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    assert.equal(histogramQuantile(0.5, buckets), 0.001);
    assert.ok(Math.abs(histogramQuantile(0.7, buckets)! - 0.0055) < 1e-12);
    assert.ok(Math.abs(histogramQuantile(0.99, buckets)! - 0.091) < 1e-12);
    assert.equal(histogramQuantile(0.99, new Map([[Number.POSITIVE_INFINITY, 0]])), null);
    // Everything above the last finite bound: the bound is the best answer there is.
    assert.equal(
      histogramQuantile(
        0.99,
        new Map([
          [0.05, 0],
          [Number.POSITIVE_INFINITY, 10],
        ]),
      ),
      0.05,
    );
  });

  test('metrics text: sums, label filters and before/after bucket deltas', () => {
    const before = parseMetrics(
      [
        '# HELP acgs_jwt_cache_hits_total x',
        '# TYPE acgs_jwt_cache_hits_total counter',
        'acgs_jwt_cache_hits_total 10',
        'acgs_policy_evaluation_seconds_bucket{le="0.001"} 4',
        'acgs_policy_evaluation_seconds_bucket{le="+Inf"} 5',
        'acgs_requests_total{service="ac",color="blue",class="2xx"} 3',
        'acgs_requests_total{service="ac",color="green",class="5xx"} 1',
        'acgs_policy_bundle_info{revision="a\\"b"} 1',
      ].join('\n'),
    );
    const after = parseMetrics(
      'acgs_policy_evaluation_seconds_bucket{le="0.001"} 14\nacgs_policy_evaluation_seconds_bucket{le="+Inf"} 25\n',
    );
    assert.equal(sumOf(before, 'acgs_jwt_cache_hits_total'), 10);
    assert.equal(sumOf(before, 'acgs_requests_total'), 4);
    assert.equal(sumOf(before, 'acgs_requests_total', { color: 'green' }), 1);
    assert.equal(sumOf(before, 'missing_total'), null);
    assert.equal(before.find((s) => s.name === 'acgs_policy_bundle_info')?.labels.revision, 'a"b');
    const delta = bucketDelta(
      bucketsOf(before, 'acgs_policy_evaluation_seconds'),
      bucketsOf(after, 'acgs_policy_evaluation_seconds'),
    );
    assert.deepEqual(
      [...delta],
      [
        [0.001, 10],
        [Number.POSITIVE_INFINITY, 20],
      ],
    );
  });
});

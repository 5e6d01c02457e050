import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bucketIndex,
  LATENCY_BOUNDS_MS,
  LATENCY_BUCKETS,
  quantile,
} from '../../rollout/latency-histogram.js';
import { LiveWindows } from '../../rollout/live-windows.js';
import { mergeCounts, summarise } from '../../rollout/window-counts.js';
import { fakeClock } from './helpers.js';

const T0 = 1_700_000_000_000; // a whole second

function windows(seconds = 120) {
  const clock = fakeClock(T0);
  return { clock, w: new LiveWindows({ services: ['ac', 'fv'], seconds, now: clock.now }) };
}

describe('latency histogram', () => {
  test('bucketIndex: bounds are inclusive upper bounds; above the last bound is the overflow bucket', () => {
    assert.equal(bucketIndex(0), 0);
    assert.equal(bucketIndex(0.5), 0);
    assert.equal(bucketIndex(0.51), 1);
    assert.equal(bucketIndex(50), LATENCY_BOUNDS_MS.indexOf(50));
    assert.equal(bucketIndex(50.001), LATENCY_BOUNDS_MS.indexOf(55));
    assert.equal(bucketIndex(1e9), LATENCY_BUCKETS - 1);
  });

  test('quantile interpolates linearly inside the bucket holding the rank', () => {
    const hist = new Array<number>(LATENCY_BUCKETS).fill(0);
    hist[bucketIndex(10)] = 100; // (7.5, 10]
    assert.equal(quantile(hist, 0.5), 8.75);
    assert.equal(quantile(hist, 1), 10);
    hist[bucketIndex(100)] = 100; // (90, 100]
    assert.equal(quantile(hist, 0.5), 10);
    assert.equal(quantile(hist, 0.75), 95);
    assert.equal(quantile(new Array<number>(LATENCY_BUCKETS).fill(0), 0.99), 0);
  });

  test('a rank in the overflow bucket reports the last finite bound', () => {
    const hist = new Array<number>(LATENCY_BUCKETS).fill(0);
    hist[LATENCY_BUCKETS - 1] = 1;
    assert.equal(quantile(hist, 0.99), LATENCY_BOUNDS_MS.at(-1));
  });
});

describe('live windows', () => {
  test('counts requests, 5xx and transport errors, and percentiles per service and colour', () => {
    const { w } = windows();
    for (let i = 0; i < 98; i++) w.record('ac', 'green', 200, 5, false);
    w.record('ac', 'green', 503, 300, false);
    w.record('ac', 'green', 502, 300, true);
    w.record('ac', 'green', 404, 5, false); // a 4xx is the client's fault, not an error
    w.record('ac', 'blue', 200, 1, false);
    w.record('nope', 'blue', 500, 1, false); // unknown services are ignored
    const s = w.summary('ac', 'green', 10);
    assert.equal(s.requests, 101);
    assert.equal(s.errors, 2);
    assert.equal(s.errorRate, 2 / 101);
    assert.equal(s.rps, 10.1);
    assert.equal(s.p50Ms, 4 + (50.5 / 99) * 1); // 99 samples in (4, 5]
    assert.ok(s.p99Ms > 250 && s.p99Ms <= 300, `p99 ${s.p99Ms} in the (250, 300] bucket`);
    assert.equal(w.summary('ac', 'blue', 10).requests, 1);
    assert.equal(w.summary('fv', 'green', 10).requests, 0);
  });

  test('reads only the last N seconds, the current second included', () => {
    const { w, clock } = windows();
    w.record('ac', 'green', 200, 1, false);
    clock.advance(5000);
    w.record('ac', 'green', 500, 1, false);
    clock.advance(999);
    assert.equal(w.summary('ac', 'green', 1).requests, 1);
    assert.equal(w.summary('ac', 'green', 5).requests, 1);
    assert.equal(w.summary('ac', 'green', 6).requests, 2);
    assert.equal(w.summary('ac', 'green', 6, T0).requests, 1, 'reads at an explicit time');
  });

  test('the ring wraps: a slot reused by a later second forgets the old one', () => {
    const { w, clock } = windows(10);
    w.record('ac', 'blue', 200, 1, false);
    w.record('ac', 'blue', 200, 1, false);
    clock.advance(10_000); // the same slot, ten seconds later
    w.record('ac', 'blue', 500, 1, false);
    const s = w.summary('ac', 'blue', 10);
    assert.deepEqual([s.requests, s.errors], [1, 1]);
    assert.equal(w.summary('ac', 'blue', 500).seconds, 10, 'a longer window is capped at the ring');
    clock.advance(25_000);
    assert.equal(w.summary('ac', 'blue', 10).requests, 0, 'stale slots are never read');
  });

  test('exportDelta hands out each count once, per second', () => {
    const { w, clock } = windows();
    w.record('ac', 'green', 200, 10, false);
    w.record('ac', 'green', 500, 10, false);
    clock.advance(1000);
    w.record('fv', 'blue', 200, 10, false);
    const first = w.exportDelta();
    assert.equal(first.length, 2);
    const ac = first.find((b) => b.service === 'ac')!;
    assert.deepEqual([ac.color, ac.second, ac.requests, ac.errors], ['green', T0 / 1000, 2, 1]);
    assert.equal(ac.hist[bucketIndex(10)], 2);
    assert.deepEqual(JSON.parse(JSON.stringify(first)), first, 'a snapshot is plain JSON');
    assert.deepEqual(w.exportDelta(), []);
    w.record('fv', 'blue', 200, 10, false);
    const second = w.exportDelta();
    assert.deepEqual(
      second.map((b) => [b.service, b.requests]),
      [['fv', 1]],
    );
  });

  test('two replicas merge: counts add up, percentiles come from the summed histogram', () => {
    const a = windows();
    const b = windows();
    for (let i = 0; i < 50; i++) a.w.record('ac', 'green', 200, 10, false);
    for (let i = 0; i < 50; i++) b.w.record('ac', 'green', i < 5 ? 500 : 200, 100, false);
    const merged = summarise(mergeCounts(a.w.counts('ac', 'green', 10), b.w.counts('ac', 'green', 10)), 10);
    assert.deepEqual([merged.requests, merged.errors, merged.errorRate], [100, 5, 0.05]);
    assert.equal(merged.p50Ms, 10);
    assert.equal(merged.p99Ms, 90 + (10 * 49) / 50);
    // The same through export/import: b absorbs a's snapshot and reads the fleet-wide window.
    b.w.import(a.w.exportDelta());
    assert.deepEqual(b.w.summary('ac', 'green', 10), merged);
    assert.deepEqual(
      b.w.exportDelta().map((x) => x.requests),
      [50],
      'imported counts are not exported again',
    );
  });

  test('record allocates nothing per call: state lives in preallocated typed arrays', () => {
    const { w } = windows();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) w.record('ac', i & 1 ? 'blue' : 'green', 200, i % 300, false);
    // Not a timing or exact-memory assertion (GC may run): only that 100k records did not retain memory.
    assert.ok(process.memoryUsage().heapUsed - before < 5 * 1024 * 1024);
    assert.equal(w.summary('ac', 'green', 1).requests, 50_000);
  });
});

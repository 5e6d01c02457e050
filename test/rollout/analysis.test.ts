import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyse, type Thresholds } from '../../rollout/analysis.js';
import { win } from './helpers.js';

const T: Thresholds = { maxErrorRate: 0.01, maxP99Ms: 50, minRequests: 20 };

describe('analysis', () => {
  test('a healthy candidate passes with no reasons', () => {
    const a = analyse(win(100, 0, 20), win(100, 0, 20), T);
    assert.equal(a.outcome, 'pass');
    assert.deepEqual(a.reasons, []);
    assert.equal(a.p99LimitMs, 50);
  });

  test('an error rate exactly at maxErrorRate passes, just above fails with the numbers', () => {
    assert.equal(analyse(win(100, 1), win(100), T).outcome, 'pass');
    const a = analyse(win(99, 1), win(100), T);
    assert.equal(a.outcome, 'fail');
    assert.match(a.reasons[0]!, /error rate 1\.01% \(1\/99\) above maxErrorRate 1\.00%/);
  });

  test('p99 exactly at maxP99Ms passes, just above fails', () => {
    assert.equal(analyse(win(100, 0, 50), win(100), T).outcome, 'pass');
    const a = analyse(win(100, 0, 50.01), win(100), T);
    assert.equal(a.outcome, 'fail');
    assert.match(a.reasons[0]!, /p99 50\.0 ms above maxP99Ms 50\.0 ms/);
  });

  test('maxP99Ratio compares with the stable p99: exactly at the ratio passes, above fails', () => {
    const t = { ...T, maxP99Ratio: 1.5 };
    assert.equal(analyse(win(100, 0, 30), win(100, 0, 20), t).outcome, 'pass');
    const a = analyse(win(100, 0, 30.5), win(100, 0, 20), t);
    assert.equal(a.outcome, 'fail');
    assert.equal(a.p99LimitMs, 30);
    assert.match(a.reasons[0]!, /1\.5 × stable p99 20\.0 ms = 30\.0 ms/);
  });

  test('the ratio is skipped when the stable colour has too little traffic (e.g. at 100 %)', () => {
    const t = { ...T, maxP99Ratio: 1.1 };
    const a = analyse(win(100, 0, 40), win(5, 0, 1), t);
    assert.equal(a.outcome, 'pass');
    assert.equal(a.p99LimitMs, 50);
  });

  test('fewer than minRequests is inconclusive even with errors; exactly minRequests is judged', () => {
    const a = analyse(win(19, 19, 900), win(100), T);
    assert.equal(a.outcome, 'inconclusive');
    assert.match(a.reasons[0]!, /19 candidate requests in 30s, fewer than minRequests 20/);
    assert.equal(analyse(win(20, 0), win(100), T).outcome, 'pass');
    assert.equal(analyse(win(0), win(0), { ...T, minRequests: 1 }).outcome, 'inconclusive');
  });

  test('every failing check is reported', () => {
    const a = analyse(win(100, 50, 400), win(100, 0, 20), { ...T, maxP99Ratio: 2 });
    assert.equal(a.outcome, 'fail');
    assert.equal(a.reasons.length, 3);
  });
});

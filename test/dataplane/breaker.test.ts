// The upstream circuit breaker on its own: the rolling window, the volume and error thresholds, one probe
// at a time when half-open, and the state changes the metrics gauge follows. (Through a real gateway and
// a dead upstream: failures.test.ts.)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitBreaker } from '../../gateway/proxy/breaker.js';

const config = {
  errorThresholdPercentage: 50,
  volumeThreshold: 4,
  resetTimeout: 60,
  rollingCountTimeout: 1000,
};

function breaker(clock = { now: 0 }) {
  const b = new CircuitBreaker(config, () => clock.now);
  const changes: string[] = [];
  b.onStateChange((s) => changes.push(s));
  return { b, clock, changes };
}

describe('circuit breaker', () => {
  test('stays closed under the volume threshold, opens at the error threshold', () => {
    const { b, changes } = breaker();
    b.failure();
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed', '3 calls: under the volume threshold of 4');
    b.success();
    b.success();
    b.success();
    b.failure(); // 4 failures of 7 calls: 57 % ≥ 50 %
    assert.equal(b.state, 'open');
    assert.equal(b.available, false);
    assert.equal(b.acquire(), false);
    assert.deepEqual(changes, ['open']);
    b.shutdown();
  });

  test('successes keep it closed; failures older than the rolling window are forgotten', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.now += 1500; // past the 1 s window
    for (let i = 0; i < 6; i++) b.success();
    b.failure(); // 1 failure of 7 calls in the window
    assert.equal(b.state, 'closed');
    for (let i = 0; i < 20; i++) b.success();
    assert.equal(b.state, 'closed');
    b.shutdown();
  });

  test('after the reset timeout one probe goes out; success closes, failure reopens', async () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 4; i++) b.failure();
    assert.equal(b.state, 'open');
    await sleep(100);
    assert.equal(b.state, 'half_open');
    assert.equal(b.available, true);
    assert.equal(b.acquire(), true, 'the probe');
    assert.equal(b.available, false, 'one probe at a time');
    assert.equal(b.acquire(), false);
    b.failure();
    assert.equal(b.state, 'open', 'a failed probe reopens');
    await sleep(100);
    assert.equal(b.acquire(), true);
    b.success();
    assert.equal(b.state, 'closed');
    // A fresh window: one failure right after closing does not reopen it.
    b.failure();
    assert.equal(b.state, 'closed');
    assert.deepEqual(changes, ['open', 'half_open', 'open', 'half_open', 'closed']);
    b.shutdown();
  });

  test('a released probe (its client left) frees the slot and decides nothing', async () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 4; i++) b.failure();
    await sleep(100);
    assert.equal(b.acquire(), true, 'the probe');
    b.release();
    assert.equal(b.state, 'half_open', 'not closed on an answer nobody saw');
    assert.equal(b.available, true, 'the next call may probe');
    assert.equal(b.acquire(), true);
    b.failure();
    assert.equal(b.state, 'open');
    // Released while closed: nothing is counted (4 failures and a release are still under 5 calls).
    const fresh = breaker();
    for (let i = 0; i < 3; i++) fresh.b.failure();
    fresh.b.release();
    assert.equal(fresh.b.state, 'closed');
    assert.deepEqual(changes, ['open', 'half_open', 'open']);
    b.shutdown();
    fresh.b.shutdown();
  });

  test('shutdown cancels the reset timer (nothing keeps a draining process alive or fires later)', async () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 4; i++) b.failure();
    b.shutdown();
    await sleep(100);
    assert.equal(b.state, 'open');
    assert.deepEqual(changes, ['open']);
  });
});

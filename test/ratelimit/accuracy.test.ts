// The accuracy claims of gateway/ratelimit/README.md, checked with a virtual clock (the memory store; the
// same-semantics test shows Redis answers identically).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStore } from '../../gateway/ratelimit/memory-store.js';
import type { Algorithm } from '../../gateway/ratelimit/store.js';

const W = 1000;
const LIMIT = 20;

/** Most admissions in any half-open interval [t, t + W), over sorted admission times. */
function maxInAnyWindow(admitted: number[]): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < admitted.length; hi++) {
    while (admitted[hi]! - admitted[lo]! >= W) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

function run(algorithm: Algorithm, arrivals: number[]): number[] {
  const store = new MemoryStore({ maxKeys: 10, sweepIntervalMs: 0 });
  const admitted: number[] = [];
  for (const t of arrivals) if (store.hit('k', LIMIT, W, algorithm, t).allowed) admitted.push(t);
  return admitted;
}

/** The documented worst case: everything of the previous window at its very end, then a steady stream. */
function adversarial(): number[] {
  const out: number[] = [];
  for (let t = 5990; t < 8000; t++) for (let i = 0; i < 3; i++) out.push(t);
  return out;
}

function steady(stepMs: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += stepMs) out.push(t);
  return out;
}

function seededRandomArrivals(seed: number, count: number): number[] {
  let s = seed >>> 0;
  const random = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out: number[] = [];
  let t = 10_000;
  for (let i = 0; i < count; i++) {
    t += Math.floor(random() * random() * random() * 400);
    out.push(t);
  }
  return out;
}

describe('accuracy', () => {
  test('log is exact: never more than the limit in any window, whatever the traffic', () => {
    for (const arrivals of [adversarial(), steady(7, 10_333, 30_333), seededRandomArrivals(1, 20_000)]) {
      assert.ok(maxInAnyWindow(run('log', arrivals)) <= LIMIT);
    }
  });

  test('log under sustained overload admits exactly the limit per window', () => {
    const admitted = run('log', steady(1, 10_000, 30_000));
    assert.equal(admitted.length, 20 * LIMIT);
  });

  test('counter: the worst case reaches 2 × limit − 1 in one window and never more', () => {
    assert.equal(maxInAnyWindow(run('counter', adversarial())), 2 * LIMIT - 1);
    for (let seed = 1; seed <= 5; seed++) {
      assert.ok(maxInAnyWindow(run('counter', seededRandomArrivals(seed, 20_000))) <= 2 * LIMIT - 1);
    }
  });

  test('counter: under steady overload every window holds between limit − 2 and the limit', () => {
    for (const step of [1, 7, 13, 37]) {
      const admitted = run('counter', steady(step, 10_333, 30_333));
      // Skip the first two windows (no history yet) and the last one (partial).
      const inner = admitted.filter((t) => t >= 12_333 + W && t < 29_333);
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      for (let start = inner[0]!; start + W <= inner.at(-1)!; start += 5) {
        let c = 0;
        for (const t of admitted) if (t >= start && t < start + W) c++;
        min = Math.min(min, c);
        max = Math.max(max, c);
      }
      assert.ok(max <= LIMIT, `step ${step}: max ${max}`);
      assert.ok(min >= LIMIT - 2, `step ${step}: min ${min}`);
    }
  });
});

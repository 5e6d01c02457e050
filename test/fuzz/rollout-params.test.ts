// Properties of rollout parameters (rollout/params.ts): the body of POST /admin/services/:name/rollout is
// operator input, so any JSON gives either parameters the controller can run with or a 400 naming the
// bad field, and the defaults fill exactly the fields left out.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidRolloutParamsError } from '../../rollout/errors.js';
import { DEFAULT_PARAMS, MIN_INTERVAL_MS, type RolloutParams, resolveParams } from '../../rollout/params.js';
import { params } from './support.js';

function attempt(
  body: unknown,
  defaults: RolloutParams = DEFAULT_PARAMS,
): RolloutParams | InvalidRolloutParamsError {
  try {
    return resolveParams(body, defaults);
  } catch (err) {
    if (!(err instanceof InvalidRolloutParamsError)) {
      assert.fail(`${JSON.stringify(body)} threw ${(err as Error).name}: ${(err as Error).message}`);
    }
    return err;
  }
}

/** What the controller relies on, whatever the body was. */
function assertRunnable(p: RolloutParams): void {
  assert.ok(p.steps.length >= 1 && p.steps.length <= 20);
  assert.equal(p.steps[p.steps.length - 1], 100);
  p.steps.forEach((s, i) => {
    assert.ok(Number.isInteger(s) && s >= 1 && s <= 100, `step ${s}`);
    if (i > 0) assert.ok(s > p.steps[i - 1]!, 'steps must increase');
  });
  assert.ok(Number.isInteger(p.intervalMs) && p.intervalMs >= MIN_INTERVAL_MS && p.intervalMs <= 86_400_000);
  const t = p.thresholds;
  assert.ok(t.maxErrorRate >= 0 && t.maxErrorRate <= 1);
  assert.ok(t.maxP99Ms > 0 && Number.isFinite(t.maxP99Ms));
  assert.ok(Number.isInteger(t.minRequests) && t.minRequests >= 1);
  if (t.maxP99Ratio !== undefined) assert.ok(t.maxP99Ratio > 0 && Number.isFinite(t.maxP99Ratio));
  assert.ok(Number.isInteger(p.failureLimit) && p.failureLimit >= 1);
  assert.ok(Number.isInteger(p.maxInconclusive) && p.maxInconclusive >= 0);
}

const goodSteps = fc
  .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 8 })
  .map((s) => [...s.sort((a, b) => a - b), 100]);
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    -1,
    0,
    0.5,
    1e308,
    -0,
    '30s',
    '0s',
    '1h',
    '25h',
    '500',
    'abc',
    ' 2s',
    '2 s',
    '1e3ms',
    null,
    [],
    {},
  ),
);
const interval = fc.oneof(
  fc.integer({ min: 0, max: 100_000_000 }),
  fc.integer({ min: 1, max: 100_000 }).map((n) => `${n}ms`),
  fc.integer({ min: 0, max: 30 }).map((n) => `${n}h`),
  fc.double({ min: 0, max: 2000, noNaN: true }).map((n) => `${n}s`),
);
const body = fc.record(
  {
    steps: fc.oneof(goodSteps, fc.array(anyValue, { maxLength: 4 }), anyValue),
    interval: fc.oneof(interval, anyValue),
    intervalMs: fc.oneof(interval, anyValue),
    thresholds: fc.oneof(
      fc.record(
        {
          maxErrorRate: fc.oneof(fc.double({ min: -1, max: 2, noNaN: true }), anyValue),
          maxP99Ms: fc.oneof(fc.double({ min: -10, max: 1e6, noNaN: true }), anyValue),
          maxP99Ratio: fc.oneof(fc.constant(null), fc.double({ min: -1, max: 2000, noNaN: true }), anyValue),
          minRequests: fc.oneof(fc.integer({ min: -5, max: 20_000_000 }), anyValue),
          extra: anyValue,
        },
        { requiredKeys: [] },
      ),
      anyValue,
    ),
    failureLimit: fc.oneof(fc.integer({ min: -2, max: 2000 }), anyValue),
    maxInconclusive: fc.oneof(fc.integer({ min: -2, max: 20_000 }), anyValue),
    unknown: anyValue,
  },
  { requiredKeys: [] },
);

describe('rollout parameter properties', () => {
  test('any body gives runnable parameters or a 400, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(body, anyValue), (b) => {
        const out = attempt(b);
        if (!(out instanceof InvalidRolloutParamsError)) assertRunnable(out);
      }),
      params(3000),
    );
  });

  test('a 400 names the field that is wrong', () => {
    const field = fc.constantFrom('steps', 'interval', 'intervalMs', 'failureLimit', 'maxInconclusive');
    fc.assert(
      fc.property(field, anyValue, (name, value) => {
        const out = attempt({ [name]: value });
        if (out instanceof InvalidRolloutParamsError)
          assert.match(out.message, new RegExp(`\\b${name}\\b`), out.message);
      }),
      params(1000),
    );
  });

  test('fields given are used as given; the defaults fill exactly the fields left out', () => {
    const valid = fc.record(
      {
        steps: goodSteps,
        intervalMs: fc.integer({ min: MIN_INTERVAL_MS, max: 86_400_000 }),
        thresholds: fc.record(
          {
            maxErrorRate: fc.double({ min: 0, max: 1, noNaN: true }),
            maxP99Ms: fc.integer({ min: 1, max: 600_000 }),
            minRequests: fc.integer({ min: 1, max: 10_000_000 }),
          },
          { requiredKeys: [] },
        ),
        failureLimit: fc.integer({ min: 1, max: 1000 }),
        maxInconclusive: fc.integer({ min: 0, max: 10_000 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(valid, (b) => {
        const out = attempt(b);
        assert.ok(
          !(out instanceof InvalidRolloutParamsError),
          out instanceof InvalidRolloutParamsError ? out.message : '',
        );
        const d = DEFAULT_PARAMS;
        assert.deepEqual(out.steps, b.steps ?? d.steps);
        assert.equal(out.intervalMs, b.intervalMs ?? d.intervalMs);
        assert.equal(out.thresholds.maxErrorRate, b.thresholds?.maxErrorRate ?? d.thresholds.maxErrorRate);
        assert.equal(out.thresholds.maxP99Ms, b.thresholds?.maxP99Ms ?? d.thresholds.maxP99Ms);
        assert.equal(out.thresholds.minRequests, b.thresholds?.minRequests ?? d.thresholds.minRequests);
        assert.equal(out.failureLimit, b.failureLimit ?? d.failureLimit);
        assert.equal(out.maxInconclusive, b.maxInconclusive ?? d.maxInconclusive);
      }),
      params(1000),
    );
  });

  test('interval and intervalMs are the same field: equal values agree, different ones are refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_INTERVAL_MS, max: 86_400_000 }),
        fc.integer({ min: MIN_INTERVAL_MS, max: 86_400_000 }),
        (a, b) => {
          const out = attempt({ interval: `${a}ms`, intervalMs: b });
          if (a === b) assert.ok(!(out instanceof InvalidRolloutParamsError) && out.intervalMs === a);
          else
            assert.ok(out instanceof InvalidRolloutParamsError && /interval or intervalMs/.test(out.message));
        },
      ),
      { ...params<[number, number]>(300), examples: [[5000, 5000]] },
    );
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyse } from '../../rollout/analysis.js';
import * as c from '../../rollout/controller.js';
import { RolloutConflictError } from '../../rollout/errors.js';
import { DEFAULT_PARAMS, type RolloutParams } from '../../rollout/params.js';
import { win } from './helpers.js';

const T0 = 1_000_000;
const I = DEFAULT_PARAMS.intervalMs;
const good = () => analyse(win(100, 0, 10), win(100, 0, 10), DEFAULT_PARAMS.thresholds);
const bad = () => analyse(win(100, 5, 10), win(100, 0, 10), DEFAULT_PARAMS.thresholds);
const quiet = () => analyse(win(3), win(100), DEFAULT_PARAMS.thresholds);

function begin(params: RolloutParams = DEFAULT_PARAMS, stable: 'blue' | 'green' = 'blue') {
  return c.start({
    id: 'r1',
    service: 'ac',
    params,
    current: { green: stable === 'blue' ? 0 : 100, stable, revision: 3 },
    actor: 'alice',
    now: T0,
  });
}

function conflict(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (error: unknown) => error instanceof RolloutConflictError && pattern.test(error.message));
}

describe('rollout controller', () => {
  test('start: idle → progressing at the first step, candidate is the non-stable colour', () => {
    const d = begin();
    assert.equal(d.rollout.state, 'progressing');
    assert.equal(d.rollout.candidate, 'green');
    assert.equal(d.rollout.weight, 10);
    assert.equal(d.rollout.nextAnalysisAt, T0 + I);
    assert.deepEqual(d.write, { green: 10, stable: 'blue' });
    assert.equal(d.rollout.applied, false);
    assert.deepEqual(d.transitions, [
      { at: T0, from: 'idle', to: 'progressing', actor: 'alice', reason: d.rollout.reason, weight: 10 },
    ]);
  });

  test('a blue candidate (green stable) gets its weight as 100 - green', () => {
    const d = begin(DEFAULT_PARAMS, 'green');
    assert.equal(d.rollout.candidate, 'blue');
    assert.deepEqual(d.write, { green: 90, stable: 'green' });
  });

  test('start is refused while a rollout runs, allowed after one ended', () => {
    const running = begin().rollout;
    conflict(
      () =>
        c.start({
          id: 'r2',
          service: 'ac',
          params: DEFAULT_PARAMS,
          current: { green: 10, stable: 'blue', revision: 1 },
          actor: 'bob',
          now: T0,
          previous: running,
        }),
      /already progressing/,
    );
    const ended = c.abort(running, 'bob', undefined, T0 + 1).rollout;
    const again = c.start({
      id: 'r2',
      service: 'ac',
      params: DEFAULT_PARAMS,
      current: { green: 0, stable: 'blue', revision: 2 },
      actor: 'bob',
      now: T0 + 2,
      previous: ended,
    });
    assert.equal(again.rollout.state, 'progressing');
    assert.ok(again.rollout.version > ended.version, 'versions keep increasing across rollouts');
  });

  test('isDue only at the end of the interval, and only while progressing', () => {
    const r = begin().rollout;
    assert.equal(c.isDue(r, T0 + I - 1), false);
    assert.equal(c.isDue(r, T0 + I), true);
    assert.equal(c.isDue(c.pause(r, 'a', undefined, T0 + 5).rollout, T0 + I * 10), false);
    assert.equal(c.analysisWindowMs(r, T0 + 5000), 5000);
    assert.equal(c.analysisWindowMs(r, T0 + I * 3), I);
  });

  test('passing every step walks 10 → 25 → 50 → 100 and promotes: candidate stable at 100 %', () => {
    let r = begin().rollout;
    const weights: number[] = [r.weight];
    for (let i = 1; i < 4; i++) {
      const d = c.applyAnalysis(r, good(), T0 + I * i);
      assert.equal(d.rollout.state, 'progressing');
      assert.equal(d.transitions[0]!.from, 'progressing');
      assert.equal(d.rollout.nextAnalysisAt, T0 + I * (i + 1));
      r = d.rollout;
      weights.push(r.weight);
      assert.equal(d.write!.green, r.weight);
    }
    assert.deepEqual(weights, [10, 25, 50, 100]);
    const done = c.applyAnalysis(r, good(), T0 + I * 4);
    assert.equal(done.rollout.state, 'promoted');
    assert.deepEqual(done.write, { green: 100, stable: 'green' });
    assert.equal(done.rollout.endedAt, T0 + I * 4);
    assert.equal(done.rollout.nextAnalysisAt, null);
    assert.match(done.rollout.reason, /all 4 steps passed/);
    assert.equal(done.rollout.analyses.length, 4);
    assert.equal(done.analysis!.outcome, 'pass');
    assert.deepEqual(
      done.rollout.history.map((t) => `${t.from}>${t.to}@${t.weight}`),
      [
        'idle>progressing@10',
        'progressing>progressing@25',
        'progressing>progressing@50',
        'progressing>progressing@100',
        'progressing>promoted@100',
      ],
    );
  });

  test('one failed analysis (failureLimit 1) rolls back at once with the reason and the numbers', () => {
    const r = c.applyAnalysis(begin().rollout, good(), T0 + I).rollout;
    const d = c.applyAnalysis(r, bad(), T0 + 2 * I);
    assert.equal(d.rollout.state, 'rolled_back');
    assert.equal(d.rollout.weight, 0);
    assert.deepEqual(d.write, { green: 0, stable: 'blue' });
    assert.match(d.rollout.reason, /1 failed analysis at 25%: error rate 5\.00% \(5\/100\)/);
    const last = d.rollout.history.at(-1)!;
    assert.deepEqual(
      [last.from, last.to, last.actor, last.weight],
      ['progressing', 'rolled_back', 'controller', 0],
    );
    assert.equal(d.analysis!.candidate.errors, 5);
  });

  test('failureLimit 3: two fails hold the step, a pass resets the count, three in a row roll back', () => {
    let r = begin({ ...DEFAULT_PARAMS, failureLimit: 3 }).rollout;
    let t = T0;
    const step = (a: ReturnType<typeof good>) => {
      t += I;
      const d = c.applyAnalysis(r, a, t);
      r = d.rollout;
      return d;
    };
    assert.equal(step(bad()).write, null);
    assert.equal(step(bad()).rollout.consecutiveFailures, 2);
    assert.equal(r.state, 'progressing');
    assert.equal(r.weight, 10);
    assert.equal(r.nextAnalysisAt, t + I, 'a held step is analysed again one interval later');
    step(good());
    assert.equal(r.weight, 25);
    assert.equal(r.consecutiveFailures, 0);
    step(bad());
    step(quiet()); // inconclusive does not break a failure streak
    step(bad());
    assert.equal(r.state, 'progressing');
    assert.equal(step(bad()).rollout.state, 'rolled_back');
    assert.match(r.reason, /3 failed analyses at 25%/);
  });

  test('inconclusive holds the step up to maxInconclusive times, then pauses for an operator', () => {
    let r = begin({ ...DEFAULT_PARAMS, maxInconclusive: 2 }).rollout;
    r = c.applyAnalysis(r, quiet(), T0 + I).rollout;
    r = c.applyAnalysis(r, quiet(), T0 + 2 * I).rollout;
    assert.equal(r.state, 'progressing');
    assert.equal(r.weight, 10);
    assert.equal(r.consecutiveInconclusive, 2);
    assert.equal(r.history.length, 1, 'a hold is recorded as an analysis, not as a transition');
    const d = c.applyAnalysis(r, quiet(), T0 + 3 * I);
    assert.equal(d.rollout.state, 'paused');
    assert.equal(d.write, null, 'pausing keeps the weight');
    assert.match(d.rollout.reason, /3 inconclusive analyses in a row at 10% \(3 candidate requests/);
    // Resume resets the count and restarts the interval.
    const resumed = c.resume(d.rollout, 'alice', undefined, T0 + 10 * I).rollout;
    assert.equal(resumed.consecutiveInconclusive, 0);
    assert.equal(resumed.nextAnalysisAt, T0 + 11 * I);
    assert.equal(c.applyAnalysis(resumed, quiet(), T0 + 11 * I).rollout.state, 'progressing');
  });

  test('maxInconclusive 0 pauses at the first inconclusive analysis; a conclusive one resets the count', () => {
    assert.equal(
      c.applyAnalysis(begin({ ...DEFAULT_PARAMS, maxInconclusive: 0 }).rollout, quiet(), T0 + I).rollout
        .state,
      'paused',
    );
    let r = begin({ ...DEFAULT_PARAMS, maxInconclusive: 1, failureLimit: 2 }).rollout;
    r = c.applyAnalysis(r, quiet(), T0 + I).rollout;
    r = c.applyAnalysis(r, bad(), T0 + 2 * I).rollout;
    assert.equal(r.consecutiveInconclusive, 0);
    r = c.applyAnalysis(r, quiet(), T0 + 3 * I).rollout;
    assert.equal(r.state, 'progressing');
  });

  test('applyAnalysis is refused unless progressing', () => {
    const paused = c.pause(begin().rollout, 'a', undefined, T0).rollout;
    conflict(() => c.applyAnalysis(paused, good(), T0 + I), /cannot analyse a paused rollout/);
  });

  describe('manual actions in every state', () => {
    const progressing = () => c.applyAnalysis(begin().rollout, good(), T0 + I).rollout; // at 25 %
    const paused = () => c.pause(progressing(), 'alice', 'looking at a dashboard', T0 + I + 1).rollout;
    const ended = {
      promoted: () => c.promote(progressing(), 'alice', undefined, T0 + I + 1).rollout,
      rolled_back: () => c.applyAnalysis(progressing(), bad(), T0 + 2 * I).rollout,
      aborted: () => c.abort(progressing(), 'alice', undefined, T0 + I + 1).rollout,
    };

    test('progressing: pause holds the weight and stops the clock; resume is refused', () => {
      const d = c.pause(progressing(), 'alice', 'looking at a dashboard', T0 + I + 1);
      assert.equal(d.rollout.state, 'paused');
      assert.equal(d.rollout.nextAnalysisAt, null);
      assert.equal(d.write, null);
      assert.deepEqual(d.transitions[0], {
        at: T0 + I + 1,
        from: 'progressing',
        to: 'paused',
        actor: 'alice',
        reason: 'looking at a dashboard',
        weight: 25,
      });
      conflict(() => c.resume(progressing(), 'a', undefined, T0), /is not paused/);
    });

    test('progressing and paused: promote makes the candidate stable at 100 %', () => {
      for (const r of [progressing(), paused()]) {
        const d = c.promote(r, 'bob', 'looks fine', T0 + 2 * I);
        assert.equal(d.rollout.state, 'promoted');
        assert.deepEqual(d.write, { green: 100, stable: 'green' });
        assert.deepEqual(
          [d.transitions[0]!.from, d.transitions[0]!.actor, d.transitions[0]!.reason],
          [r.state, 'bob', 'looks fine'],
        );
      }
    });

    test('progressing and paused: abort sends the candidate to 0, stable unchanged', () => {
      for (const r of [progressing(), paused()]) {
        const d = c.abort(r, 'bob', undefined, T0 + 2 * I);
        assert.equal(d.rollout.state, 'aborted');
        assert.deepEqual(d.write, { green: 0, stable: 'blue' });
        assert.match(d.rollout.reason, /aborted at 25%/);
      }
    });

    test('paused: resume restarts the interval; pause again is refused', () => {
      const d = c.resume(paused(), 'carol', undefined, T0 + 5 * I);
      assert.equal(d.rollout.state, 'progressing');
      assert.equal(d.rollout.stepStartedAt, T0 + 5 * I);
      assert.equal(d.rollout.nextAnalysisAt, T0 + 6 * I);
      assert.equal(d.rollout.weight, 25);
      conflict(() => c.pause(paused(), 'a', undefined, T0), /already paused/);
    });

    for (const [state, make] of Object.entries(ended)) {
      test(`${state}: every action is refused with a clear 409`, () => {
        const r = make();
        assert.equal(r.state, state);
        for (const action of [c.pause, c.resume, c.promote, c.abort]) {
          conflict(
            () => action(r, 'a', undefined, T0 + 9 * I),
            new RegExp(`has already ended \\(${state}\\)`),
          );
        }
      });
    }
  });

  test('the inputs are never mutated and versions increase with every change', () => {
    const r = begin().rollout;
    const frozen = structuredClone(r);
    const d = c.applyAnalysis(r, good(), T0 + I);
    assert.deepEqual(r, frozen);
    assert.ok(d.rollout.version > r.version);
    assert.equal(c.markApplied(d.rollout).applied, true);
  });

  test('history keeps at most MAX_HISTORY transitions', () => {
    let r = begin().rollout;
    for (let i = 0; i < c.MAX_HISTORY; i++) {
      r = c.pause(r, 'a', undefined, T0 + i).rollout;
      r = c.resume(r, 'a', undefined, T0 + i).rollout;
    }
    assert.equal(r.history.length, c.MAX_HISTORY);
  });
});

// The sweep that enforces the upstream timeouts: a deadline fires once, never before its time, and
// re-arming, disarming and firing from inside a callback keep the list whole.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Deadline, DeadlineSweep, resolutionFor } from '../../gateway/proxy/deadlines.js';

class Entry implements Deadline {
  deadlineAt = 0;
  deadlineNext: Deadline | null = null;
  deadlinePrev: Deadline | null = null;
  fired = 0;
  constructor(readonly onFire: (self: Entry) => void = () => {}) {}
  onDeadline(): void {
    this.fired++;
    this.onFire(this);
  }
}

describe('deadline sweep', () => {
  const sweep = new DeadlineSweep(1000);
  after(() => sweep.close());

  test('fires each expired deadline once, and none before its time', () => {
    const a = new Entry();
    const b = new Entry();
    const c = new Entry();
    sweep.arm(a, 100);
    sweep.arm(b, 200);
    sweep.arm(c, 300);
    const t = performance.now();
    sweep.sweep(t);
    assert.deepEqual([a.fired, b.fired, c.fired], [0, 0, 0]);
    sweep.sweep(t + 250);
    assert.deepEqual([a.fired, b.fired, c.fired], [1, 1, 0]);
    assert.equal(sweep.size, 1);
    sweep.sweep(t + 10_000);
    assert.deepEqual([a.fired, b.fired, c.fired], [1, 1, 1]);
    assert.equal(sweep.size, 0);
    assert.equal(a.deadlineAt, 0, 'a fired deadline is disarmed');
  });

  test('re-arming moves the expiry without adding the entry twice; disarming twice is harmless', () => {
    const a = new Entry();
    sweep.arm(a, 100);
    sweep.arm(a, 5000);
    assert.equal(sweep.size, 1);
    sweep.sweep(performance.now() + 1000);
    assert.equal(a.fired, 0, 'the later expiry holds');
    sweep.disarm(a);
    sweep.disarm(a);
    assert.equal(sweep.size, 0);
    sweep.sweep(performance.now() + 100_000);
    assert.equal(a.fired, 0);
  });

  test('a callback that disarms the next entry or arms new ones leaves the list consistent', () => {
    const spared = new Entry();
    const late = new Entry();
    const added = new Entry();
    // Entries are walked from the most recently armed: `first` is visited before `spared`.
    const behind = new Entry();
    sweep.arm(behind, 100);
    sweep.arm(late, 60_000);
    sweep.arm(spared, 100);
    const first = new Entry(() => {
      sweep.disarm(spared);
      sweep.arm(added, 100);
    });
    sweep.arm(first, 100);
    sweep.sweep(performance.now() + 1000);
    assert.equal(first.fired, 1);
    assert.equal(spared.fired, 0, 'a deadline disarmed by another callback does not fire');
    assert.equal(late.fired, 0);
    assert.equal(
      behind.fired,
      1,
      'an expired deadline behind the disarmed one still fires in the same sweep',
    );
    assert.equal(sweep.size, 2, 'late and the newly armed one remain');
    sweep.sweep(performance.now() + 1000);
    assert.equal(added.fired, 1);
    sweep.disarm(late);
    assert.equal(sweep.size, 0);
  });

  test('many entries armed and disarmed in any order: the count and the firing stay exact', () => {
    const entries = Array.from({ length: 500 }, () => new Entry());
    for (const e of entries) sweep.arm(e, 100);
    for (let i = 0; i < entries.length; i += 3) sweep.disarm(entries[i]!);
    for (let i = 1; i < entries.length; i += 3) sweep.arm(entries[i]!, 60_000);
    const expired = entries.filter((_, i) => i % 3 === 2).length;
    const kept = entries.filter((_, i) => i % 3 === 1).length;
    assert.equal(sweep.size, expired + kept);
    sweep.sweep(performance.now() + 1000);
    assert.equal(
      entries.reduce((n, e) => n + e.fired, 0),
      expired,
    );
    assert.equal(sweep.size, kept);
    for (const e of entries) sweep.disarm(e);
    assert.equal(sweep.size, 0);
  });

  test('the timer fires deadlines by itself, at the resolution chosen from the shortest timeout', async () => {
    assert.equal(resolutionFor(40), 10);
    assert.equal(resolutionFor(200), 50);
    assert.equal(resolutionFor(15_000), 100);
    assert.equal(resolutionFor(Number.POSITIVE_INFINITY), 100);
    const own = new DeadlineSweep(resolutionFor(80));
    // The sweep's timer is unref'd (it never keeps a process up by itself): this one holds the test's loop.
    const hold = setTimeout(() => {}, 10_000);
    try {
      const e = new Entry();
      const armedAt = performance.now();
      let firedAt = 0;
      const fired = new Promise<void>((resolve) => {
        e.onDeadline = () => {
          firedAt = performance.now();
          resolve();
        };
      });
      own.arm(e, 80);
      await fired;
      assert.ok(firedAt - armedAt >= 80, `fired ${firedAt - armedAt} ms after arming, before its 80 ms`);
    } finally {
      clearTimeout(hold);
      own.close();
    }
  });
});

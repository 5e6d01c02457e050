import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { Color } from '../../core/types.js';
import { toGatewayError } from '../../gateway/http/responder.js';
import { RolloutError } from '../../rollout/errors.js';
import { type Leadership, LocalLeadership } from '../../rollout/leader.js';
import { LiveWindows } from '../../rollout/live-windows.js';
import { RolloutManager, type TransitionEvent } from '../../rollout/manager.js';
import { MemoryRolloutStore } from '../../rollout/rollout-store.js';
import { LocalWindowSource } from '../../rollout/window-source.js';
import { waitFor } from '../helpers/wait.js';
import { fakeClock, TestWeightStore } from './helpers.js';

const T0 = 1_700_000_000_000;
const FAST = { steps: [10, 50, 100], intervalMs: 5000 };

class FakeLeadership implements Leadership {
  constructor(
    public leader: boolean,
    public token: number | null = null,
  ) {}
  isLeader() {
    return this.leader;
  }
  fence() {
    return this.leader ? this.token : null;
  }
  async close() {}
}

function setup(
  options: { leadership?: Leadership; store?: MemoryRolloutStore; weights?: TestWeightStore } = {},
) {
  const clock = fakeClock(T0);
  const windows = new LiveWindows({ services: ['ac', 'fv'], now: clock.now });
  const weights = options.weights ?? new TestWeightStore(['ac', 'fv']);
  const store = options.store ?? new MemoryRolloutStore();
  const events: TransitionEvent[] = [];
  const registry = new Registry();
  const manager = new RolloutManager({
    services: ['ac', 'fv'],
    weights,
    store,
    windows: new LocalWindowSource(windows),
    leadership: options.leadership ?? new LocalLeadership(),
    now: clock.now,
    registry,
    onTransition: (event) => {
      events.push(event);
    },
  });
  /** One interval of traffic: `perSecond` requests a second to each colour, the candidate's shaped by `shape`. */
  const traffic = (
    ms: number,
    perSecond: number,
    candidate: { errorEvery?: number; latencyMs?: number } = {},
  ) => {
    for (let t = 0; t < ms; t += 1000) {
      for (let i = 0; i < perSecond; i++) {
        const fail = candidate.errorEvery !== undefined && i % candidate.errorEvery === 0;
        windows.record('ac', 'green', fail ? 500 : 200, candidate.latencyMs ?? 5, false);
        windows.record('ac', 'blue', 200, 5, false);
      }
      clock.advance(1000);
    }
  };
  return { clock, windows, weights, store, events, registry, manager, traffic };
}

/** The manager refuses with a rollout domain error, which the admin plane answers with `status`. */
async function rejects(promise: Promise<unknown>, status: number, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RolloutError, String(error));
    assert.equal(toGatewayError(error)?.status, status);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('rollout manager (memory stores, fake clock)', () => {
  test('a healthy candidate goes through every step and is promoted; weights and audit follow', async () => {
    const { manager, weights, events, traffic, registry } = setup();
    const started = await manager.start('ac', FAST, 'alice');
    assert.equal(started.state, 'progressing');
    assert.equal(weights.get('ac').green, 10);
    assert.equal(started.nextAnalysisInMs, 5000);
    assert.equal(await manager.isRolloutActive('ac'), true);
    assert.equal(await manager.isRolloutActive('fv'), false);

    for (const expected of [50, 100]) {
      traffic(5000, 10);
      await manager.tick();
      assert.equal(weights.get('ac').green, expected);
    }
    traffic(5000, 10);
    await manager.tick();
    const done = await manager.status('ac');
    assert.equal(done.state, 'promoted');
    assert.deepEqual([weights.get('ac').green, weights.get('ac').stable], [100, 'green']);
    assert.equal(await manager.isRolloutActive('ac'), false);
    assert.deepEqual(
      events.map((e) => `${e.transition.to}@${e.transition.weight}/${e.transition.actor}`),
      [
        'progressing@10/alice',
        'progressing@50/controller',
        'progressing@100/controller',
        'promoted@100/controller',
      ],
    );
    assert.equal(done.analyses.length, 3);
    assert.equal(done.analyses[0]!.weight, 100, 'analyses are newest first');
    const metrics = await registry.metrics();
    assert.match(metrics, /acgs_rollout_analyses_total\{service="ac",outcome="pass"\} 3/);
    assert.match(metrics, /acgs_rollout_state\{service="ac",state="promoted"\} 1/);

    // The next release rolls out the other colour.
    const next = await manager.start('ac', FAST, 'alice');
    assert.deepEqual([next.candidate, next.stable, weights.get('ac').green], ['blue', 'green', 90]);
  });

  test('a candidate failing 10 % of requests is rolled back at the first analysis', async () => {
    const { manager, weights, traffic, registry } = setup();
    await manager.start('ac', FAST, 'alice');
    traffic(5000, 10, { errorEvery: 10 });
    await manager.tick();
    const s = await manager.status('ac');
    assert.equal(s.state, 'rolled_back');
    assert.equal(weights.get('ac').green, 0);
    assert.match(s.reason!, /error rate 10\.00% \(5\/50\) above maxErrorRate 1\.00%/);
    assert.match(await registry.metrics(), /acgs_rollouts_rolled_back_total\{service="ac"\} 1/);
  });

  test('a slow candidate is rolled back on p99', async () => {
    const { manager, weights, traffic } = setup();
    await manager.start('ac', FAST, 'alice');
    traffic(5000, 10, { latencyMs: 200 });
    await manager.tick();
    assert.equal((await manager.status('ac')).state, 'rolled_back');
    assert.equal(weights.get('ac').green, 0);
  });

  test('too little traffic holds the step as inconclusive', async () => {
    const { manager, weights, traffic } = setup();
    await manager.start('ac', FAST, 'alice');
    traffic(5000, 2);
    await manager.tick();
    const s = await manager.status('ac');
    assert.deepEqual([s.state, s.weight, s.consecutiveInconclusive], ['progressing', 10, 1]);
    assert.equal(s.analyses[0]!.outcome, 'inconclusive');
    assert.equal(weights.get('ac').green, 10);
  });

  test('nothing happens before the interval ends', async () => {
    const { manager, traffic, weights } = setup();
    await manager.start('ac', FAST, 'alice');
    traffic(4000, 10);
    await manager.tick();
    assert.equal((await manager.status('ac')).analyses.length, 0);
    assert.equal(weights.writes.length, 1);
  });

  test('parameters are validated with a clear 400; a second start is 409; unknown services 404', async () => {
    const { manager } = setup();
    await rejects(
      manager.start('ac', { steps: [10, 5, 100] }, 'a'),
      400,
      /steps: must be strictly increasing/,
    );
    await rejects(manager.start('ac', { steps: [10, 50] }, 'a'), 400, /steps: must end at 100/);
    await rejects(
      manager.start('ac', { interval: '500ms' }, 'a'),
      400,
      /interval: must be a duration of at least 1000 ms/,
    );
    await rejects(
      manager.start('ac', { thresholds: { maxErrorRate: 2, minRequests: 0 } }, 'a'),
      400,
      /thresholds\.maxErrorRate: .*; thresholds\.minRequests: /,
    );
    await rejects(manager.start('ac', { colour: 'green' }, 'a'), 400, /Unrecognized key/);
    await rejects(manager.start('nope', {}, 'a'), 404, /no service named nope/);
    const s = await manager.start('ac', { interval: '2m', thresholds: { maxP99Ratio: 1.5 } }, 'a');
    assert.deepEqual(s.params!.steps, [10, 25, 50, 100]);
    assert.equal(s.params!.intervalMs, 120_000);
    assert.equal(s.params!.thresholds.maxP99Ratio, 1.5);
    await rejects(manager.start('ac', {}, 'b'), 409, /already progressing/);
    await rejects(manager.pause('fv', 'a'), 409, /no rollout has been started on fv/);
  });

  test('pause, resume, promote and abort through the manager, with who and why', async () => {
    const { manager, weights, events, clock } = setup();
    await manager.start('ac', FAST, 'alice');
    assert.equal((await manager.pause('ac', 'bob', 'dashboards look odd')).state, 'paused');
    clock.advance(60_000);
    await manager.tick();
    assert.equal((await manager.status('ac')).state, 'paused', 'a paused rollout is not analysed');
    const resumed = await manager.resume('ac', 'bob');
    assert.equal(resumed.nextAnalysisInMs, 5000);
    const promoted = await manager.promote('ac', 'carol', 'ship it');
    assert.equal(promoted.state, 'promoted');
    assert.deepEqual([weights.get('ac').green, weights.get('ac').stable], [100, 'green']);
    await rejects(manager.abort('ac', 'dave'), 409, /already ended \(promoted\)/);
    await manager.start('ac', FAST, 'alice');
    await manager.abort('ac', 'dave', 'wrong build');
    assert.deepEqual(
      [weights.get('ac').green, weights.get('ac').stable],
      [100, 'green'],
      'candidate blue back to 0',
    );
    assert.deepEqual(
      events.map((e) => [e.transition.actor, e.transition.to, e.transition.reason]).slice(1, 4),
      [
        ['bob', 'paused', 'dashboards look odd'],
        ['bob', 'progressing', 'resumed at 10%'],
        ['carol', 'promoted', 'ship it'],
      ],
    );
  });

  test('a non-leader records actions; the leader writes the weights with its fence on its next tick', async () => {
    const store = new MemoryRolloutStore();
    const weights = new TestWeightStore(['ac', 'fv']);
    const leader = setup({ store, weights, leadership: new FakeLeadership(true, 7) });
    const follower = setup({ store, weights, leadership: new FakeLeadership(false) });
    await follower.manager.start('ac', FAST, 'alice');
    assert.equal(weights.get('ac').green, 0, 'a follower never writes weights');
    assert.equal((await store.get('ac'))!.applied, false);
    await follower.manager.tick();
    assert.equal(weights.get('ac').green, 0);
    await leader.manager.tick();
    assert.equal(weights.get('ac').green, 10);
    assert.equal(weights.writes.at(-1)!.fence, 7);
    assert.equal((await store.get('ac'))!.applied, true);
    await follower.manager.abort('ac', 'bob');
    await leader.manager.tick();
    assert.equal(weights.get('ac').green, 0);
  });

  test('a deposed leader (stale fence) writes nothing and leaves the write to the new leader', async () => {
    const store = new MemoryRolloutStore();
    const weights = new TestWeightStore(['ac', 'fv']);
    weights.newestFence = 9;
    const old = setup({ store, weights, leadership: new FakeLeadership(true, 8) });
    await old.manager.start('ac', FAST, 'alice');
    assert.equal(weights.get('ac').green, 0);
    assert.equal((await store.get('ac'))!.applied, false);
    const next = setup({ store, weights, leadership: new FakeLeadership(true, 9) });
    await next.manager.tick();
    assert.equal(weights.get('ac').green, 10);
    assert.equal((await store.get('ac'))!.applied, true);
  });

  test('status of a service without a rollout is idle with the live windows', async () => {
    const { manager, traffic } = setup();
    traffic(3000, 4);
    const s = await manager.status('ac');
    assert.equal(s.state, 'idle');
    assert.deepEqual([s.candidate, s.stable, s.step, s.weight], ['green' as Color, 'blue' as Color, 0, 0]);
    assert.equal(s.windows.seconds, 30);
    assert.equal(s.windows.stable.requests, 12);
  });

  test('run() drives ticks on a timer and close() stops it', async () => {
    // Every tick reads each service's rollout from the store: counting the reads counts the ticks.
    let reads = 0;
    const store = new MemoryRolloutStore();
    const get = store.get.bind(store);
    store.get = (service: string) => {
      reads++;
      return get(service);
    };
    const { manager } = setup({ store });
    await manager.start('ac', FAST, 'alice');
    const before = reads;
    manager.run();
    await waitFor('the timer to tick a few times', () => reads >= before + 6, 5000, 10);
    await manager.close();
    const afterClose = reads;
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(reads, afterClose, 'no tick after close()');
  });
});

// The bench's CPU per request: /proc/<pid>/stat parsed right whatever the command name holds, a process
// gone mid-window is n/a (never an exception), and the per-stage cost is the per-round difference.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import {
  type CpuSample,
  cpuWindow,
  parseProcStat,
  readProcStat,
  type TreeTicks,
  treeDelta,
  usPerRequest,
} from '../../bench/lib/cpu.js';
import { budgetRows, type CpuMeasurement, stageCosts } from '../../bench/lib/stages.js';

/** A /proc/<pid>/stat line with the given comm and times (fields 14, 15 and 22). */
function statLine(pid: number, comm: string, utime: number, stime: number, starttime = 4242): string {
  const fields = Array.from({ length: 50 }, () => '0');
  fields[0] = String(pid);
  fields[1] = `(${comm})`;
  fields[2] = 'S';
  fields[13] = String(utime);
  fields[14] = String(stime);
  fields[21] = String(starttime);
  return `${fields.join(' ')}\n`;
}

describe('parseProcStat', () => {
  test('a comm with spaces and parentheses does not shift the fields after it', () => {
    const stat = parseProcStat(statLine(1234, 'node (x) ) y', 700, 55, 99));
    assert.deepEqual(stat, {
      pid: 1234,
      comm: 'node (x) ) y',
      state: 'S',
      utime: 700,
      stime: 55,
      starttime: 99,
    });
    assert.equal(parseProcStat(statLine(7, 'node (x)', 1, 2))?.comm, 'node (x)');
  });

  test('a real line of this process parses, and a vanished pid reads as null', () => {
    const self = readProcStat(process.pid);
    assert.ok(self !== null && self.pid === process.pid && self.utime + self.stime >= 0);
    assert.equal(readProcStat(process.pid, process.pid)?.pid, process.pid, 'the main thread');
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    assert.equal(readProcStat(Number(child.stdout.trim())), null);
  });

  test('garbage is null, not an exception', () => {
    assert.equal(parseProcStat(''), null);
    assert.equal(parseProcStat('12 (node) S 1 2'), null);
    assert.equal(parseProcStat('node) S'), null);
  });
});

describe('CPU deltas and µs per request', () => {
  const tree = (entries: [number, number, number][]): TreeTicks =>
    new Map(entries.map(([pid, starttime, ticks]) => [pid, { starttime, ticks }]));

  test('sums every process of the tree; a worker born in the window counts whole', () => {
    const start = tree([
      [10, 1, 100],
      [11, 2, 50],
    ]);
    const end = tree([
      [10, 1, 160],
      [11, 2, 90],
      [12, 3, 5],
    ]);
    assert.equal(treeDelta([10], start, end), 60 + 40 + 5);
  });

  test('a root gone, a worker gone, or a pid reused in the window is n/a', () => {
    const start = tree([
      [10, 1, 100],
      [11, 2, 50],
    ]);
    assert.equal(treeDelta([10], start, tree([[11, 2, 60]])), null);
    assert.equal(treeDelta([10], start, tree([[10, 1, 150]])), null);
    assert.equal(
      treeDelta(
        [10],
        start,
        tree([
          [10, 1, 150],
          [11, 9, 1],
        ]),
      ),
      null,
    );
  });

  test('µs per request from clock ticks', () => {
    // 250 ticks at 100 Hz = 2.5 s of CPU over 25,000 requests = 100 µs each.
    assert.equal(usPerRequest(250, 25_000, 100), 100);
    assert.equal(usPerRequest(null, 25_000, 100), null);
    assert.equal(usPerRequest(10, 0, 100), null);
  });

  test('a window: contender, main thread, upstream, n/a Redis, load generator', () => {
    const sample = (ticks: number, main: number, up: number, selfUs: number, atNs: bigint): CpuSample => ({
      contender: tree([[10, 1, ticks]]),
      mainThread: { starttime: 1, ticks: main },
      upstream: tree([[20, 5, up]]),
      redis: new Map(),
      self: { user: selfUs, system: 0 },
      atNs,
    });
    const w = cpuWindow(
      { contender: [10], upstream: 20, redis: 30 },
      sample(1000, 900, 300, 1_000_000, 0n),
      sample(1500, 1300, 400, 3_000_000, 5_000_000_000n),
      50_000,
      100,
    );
    assert.equal(w.usPerRequest.contender, 100); // 5 s / 50,000
    assert.equal(w.usPerRequest.mainThread, 80);
    assert.equal(w.usPerRequest.upstream, 20);
    assert.equal(w.usPerRequest.redis, null, 'Redis gone from /proc: n/a');
    assert.equal(w.usPerRequest.loadgen, 40);
    assert.equal(w.windowSec, 5);
    assert.equal(w.cpuSec.contender, 5);
  });
});

describe('per-stage cost', () => {
  const m = (round: number, contender: number, redis = 0): CpuMeasurement => ({
    round,
    cpu: { usPerRequest: { contender, mainThread: contender * 0.9, upstream: 25, redis, loadgen: 40 } },
  });
  const measurements = new Map<string, CpuMeasurement[]>([
    ['fastify-proxy@50', [m(0, 110), m(1, 112)]],
    ['gateway-minimal@50', [m(0, 90), m(1, 92)]],
    ['gateway-full@50', [m(0, 200, 3), m(1, 210, 3)]],
    ['gateway-full-no-auth@50', [m(0, 198, 3), m(1, 206, 3)]],
    ['gateway-full-no-ratelimit@50', [m(0, 190, 0.5), m(1, 200, 0.5)]],
    ['gateway-full-no-screening@50', [m(0, 150, 3), m(1, 165, 3)]],
    // round 1 of this one died: n/a, so the policy's cost comes from round 0 alone
    ['gateway-full-no-policy@50', [m(0, 130, 3), { round: 1 }]],
  ]);
  const costs = stageCosts(measurements, [50]);
  const get = (stage: string) => costs.find((c) => c.stage === stage)!;

  test('each stage is with − without, per round, then the median', () => {
    assert.equal(get('base').gatewayUs, 91);
    assert.equal(get('auth').gatewayUs, 3); // rounds: 2 and 4
    assert.equal(get('rateLimit').gatewayUs, 10);
    assert.equal(get('rateLimit').redisUs, 2.5);
    assert.equal(get('screening').gatewayUs, 47.5); // 50 and 45
    assert.equal(get('policy').gatewayUs, 20);
    assert.equal(get('policy').rounds, 1);
    assert.equal(get('total').gatewayUs, 205);
    // rest = full − base − auth − rate limit − screening − policy, in round 0: 200 − 90 − 2 − 10 − 50 − 20
    assert.equal(get('rest').gatewayUs, 28);
  });

  test('the budget: fixed targets per stage, the total against the bare proxy of the same run', () => {
    const rows = budgetRows(costs, 50, 111);
    const row = (stage: string) => rows.find((r) => r.stage === stage)!;
    assert.equal(row('base').status, 'over');
    assert.equal(row('auth').status, 'within');
    assert.equal(row('total').targetUs, 111);
    assert.equal(row('total').status, 'over');
    assert.equal(row('rest').status, 'no target');
    const negative = budgetRows(
      stageCosts(new Map([...measurements, ['gateway-full-no-auth@50', [m(0, 230), m(1, 230)]]]), [50]),
      50,
      111,
    );
    assert.equal(negative.find((r) => r.stage === 'auth')!.status, 'noise', 'a negative difference is noise');
    assert.equal(budgetRows(stageCosts(new Map(), [50]), 50, 111)[0]!.status, 'not measured');
  });
});

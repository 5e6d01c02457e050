// The bench's report of a crashed contender: no throughput, a CRASHED row at the connection count where
// it died and at the later ones of that round, and its last output lines under the table.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Crash,
  crashReport,
  type Measurement,
  resultsTable,
  summarise,
} from '../../bench/lib/summary.js';

const CONTENDERS = [
  { id: 'fastify-proxy', label: '@fastify/http-proxy' },
  { id: 'gateway-minimal', label: 'acgs-gateway minimal' },
];

function measurement(connections: number, rps: number, round = 0): Measurement {
  return {
    round,
    connections,
    durationSec: 5,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    ok: rps * 5,
    non2xx: 0,
    errors: 0,
    statusCodes: { '200': rps * 5 },
    peakRssKb: 100 * 1024,
  };
}

const crash: Crash = {
  id: 'gateway-minimal',
  round: 0,
  connections: 200,
  phase: 'warm-up',
  reason: 'exited',
  process: 'gateway-minimal',
  exitCode: null,
  signal: 'SIGABRT',
  summary: 'gateway-minimal killed by SIGABRT',
  tail: 'line 1\nFATAL ERROR: Reached heap limit Allocation failed\n',
};

describe('bench summary of a crashed contender', () => {
  // Connection counts in the order given: 200 first, then 50.
  const measurements = new Map([
    ['fastify-proxy@200', [measurement(200, 9000)]],
    ['fastify-proxy@50', [measurement(50, 9100)]],
  ]);
  const summaries = summarise(CONTENDERS, [200, 50], measurements, new Map(), [crash]);

  test('is CRASHED where it died and at the later connection counts of that round, with no throughput', () => {
    const rows = summaries.filter((s) => s.id === 'gateway-minimal');
    assert.deepEqual(
      rows.map((r) => [r.connections, r.status, r.reason]),
      [
        [200, 'crashed', 'CRASHED (gateway-minimal killed by SIGABRT) in warm-up, round 1'],
        [50, 'crashed', 'CRASHED earlier in round 1 (c=200: gateway-minimal killed by SIGABRT)'],
      ],
    );
    for (const r of rows) assert.ok(Number.isNaN(r.rps) && Number.isNaN(r.ratioToReference));
    assert.equal(summaries.find((s) => s.id === 'fastify-proxy' && s.connections === 50)?.status, 'measured');
  });

  test('the table shows CRASHED in the throughput column, and the report its last lines', () => {
    const table = resultsTable(summaries, [200, 50]);
    assert.match(
      table,
      /\| acgs-gateway minimal \| 200 \| CRASHED \(gateway-minimal killed by SIGABRT\) in warm-up, round 1 \|/,
    );
    assert.doesNotMatch(table, /\| acgs-gateway minimal \| \d+ \| 0 \|/);
    const report = crashReport([crash]);
    assert.match(
      report,
      /- \*\*gateway-minimal\*\* CRASHED \(round 1, c=200, warm-up\): gateway-minimal killed by SIGABRT/,
    );
    assert.match(report, /\n {4}FATAL ERROR: Reached heap limit Allocation failed/);
    assert.equal(crashReport([]), '');
  });
});

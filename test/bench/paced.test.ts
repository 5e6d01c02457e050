// The fixed-rate load generator (bench/loadgen/paced.ts, its own process) against real loopback servers:
// it keeps the rate whatever the server does, charges a stalled server for every request that came due
// during the stall (open loop: a closed-loop generator would record one slow request per connection), and
// counts answers, error statuses and dropped connections apart.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { compileScripts } from '../../bench/lib/compile.js';
import { runPaced } from '../../bench/lib/paced.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

describe('bench fixed-rate load generator', () => {
  let script = '';
  const servers: Server[] = [];

  async function serve(handler: Handler): Promise<string> {
    let n = 0;
    const server = createServer((req, res) => handler(req, res, n++));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    script = (await compileScripts()).paced!;
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  test('every counted request is answered, at the rate asked, and its latency includes the server time', async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(req.headers.authorization ?? '');
      setTimeout(() => res.end('{}'), 30);
    });
    const result = await runPaced({
      script,
      url,
      connections: 5,
      rate: 50,
      durationSec: 1,
      warmupSec: 0.2,
      authorizations: ['Bearer a', 'Bearer b'],
    });
    assert.equal(result.ok, 50);
    assert.equal(result.errors, 0);
    assert.equal(result.non2xx, 0);
    assert.ok(result.p50Ms >= 30, `p50 ${result.p50Ms} ms is below the server's 30 ms`);
    assert.ok(result.achievedRps > 40 && result.achievedRps <= 51, `completed ${result.achievedRps} req/s`);
    // Warm-up and measured requests alike reached the server, alternating the two tokens.
    assert.equal(seen.length, 60);
    assert.equal(seen.filter((a) => a === 'Bearer a').length, 30);
  });

  test('a stalled server is charged for every request that came due during the stall (open loop)', async () => {
    // 400 req/s over 4 connections; the server's event loop stops for 250 ms in the middle of the measured
    // second: ~100 of the 800 counted requests come due meanwhile and wait. A closed loop would have sent
    // only the 4 in flight, and its p99 (8 slow of 800) would not show the stall.
    const url = await serve((_req, res, n) => {
      if (n === 500) {
        const until = Date.now() + 250;
        while (Date.now() < until) {
          // the stall
        }
      }
      res.end('{}');
    });
    const result = await runPaced({
      script,
      url,
      connections: 4,
      rate: 400,
      durationSec: 2,
      warmupSec: 0.5,
      authorizations: [],
    });
    assert.equal(result.ok, 800);
    assert.ok(result.p99Ms >= 100, `p99 ${result.p99Ms} ms: the stall was not charged`);
    assert.ok(result.p50Ms < result.p99Ms / 2, `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
  });

  test('error statuses and dropped connections are counted apart from answers, and the run completes', async () => {
    const url = await serve((req, res, n) => {
      if (n % 7 === 3) {
        req.socket.destroy();
        return;
      }
      res.statusCode = n % 4 === 0 ? 503 : 200;
      res.end('{}');
    });
    const result = await runPaced({
      script,
      url,
      connections: 3,
      rate: 100,
      durationSec: 1,
      warmupSec: 0.2,
      authorizations: [],
    });
    assert.equal(result.ok + result.non2xx + result.errors, 100);
    assert.ok(result.errors > 0, 'dropped connections are errors');
    assert.ok(result.non2xx > 0, '503 answers are non-2xx');
    assert.ok(result.ok > 50);
  });

  test('bad arguments are refused with the usage, not run', async () => {
    await assert.rejects(
      runPaced({
        script,
        url: 'http://127.0.0.1:9',
        connections: 0,
        rate: 10,
        durationSec: 1,
        warmupSec: 0,
        authorizations: [],
      }),
      /usage: paced/,
    );
  });
});

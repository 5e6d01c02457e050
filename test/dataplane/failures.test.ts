import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { ADMIN_AUTH, startTestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

async function call(gw: Gateway, path: string, method: 'GET' | 'POST' = 'GET') {
  const started = performance.now();
  const res = await request(`${gw.dataUrl}${path}`, { method, body: method === 'POST' ? 'payload' : null });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    body: text ? JSON.parse(text) : null,
    ms: performance.now() - started,
  };
}

describe('upstream failures', () => {
  let good: TestUpstream;
  let other: TestUpstream;
  let silent: TestUpstream;
  let stalling: TestUpstream;
  let resetting: TestUpstream;
  let refused: string;
  let gw: Gateway;

  before(async () => {
    good = await startUpstream('good');
    other = await startUpstream('other');
    silent = await startUpstream('silent', () => {}); // never answers
    stalling = await startUpstream('stalling', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first bytes, then nothing');
    });
    resetting = await startUpstream('resetting', (req) => req.socket.destroy());
    refused = `http://127.0.0.1:${await freePort()}`;
    const fast = { headers: '300ms', body: '300ms' };
    const breaker = { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: '400ms' };
    gw = await startTestGateway(
      {
        refused: { blue: [refused], green: [good.url], failover: false },
        retry: { blue: [refused, good.url], green: [other.url], failover: false },
        resets: { blue: [resetting.url, good.url], green: [other.url], failover: false },
        slow: { blue: [silent.url], green: [good.url], timeouts: fast, failover: false },
        stall: { blue: [stalling.url], green: [good.url], timeouts: fast },
        failover: { blue: [refused], green: [other.url], failover: true },
        nofailover: { blue: [refused], green: [other.url], failover: false },
      },
      { proxy: { breaker } },
    );
  });
  after(async () => {
    await gw.shutdown();
    await Promise.all([good, other, silent, stalling, resetting].map((u) => u.close()));
  });

  test('connection refused answers 502 bad_gateway', async () => {
    const res = await call(gw, '/api/refused/x');
    assert.equal(res.status, 502);
    assert.equal(res.body.error.code, 'bad_gateway');
    assert.equal(res.headers['x-acgs-color'], 'blue');
  });

  test('a refused GET is retried once on another upstream of the same colour', async () => {
    const before = good.seen.length;
    for (let i = 0; i < 4; i++) {
      const res = await call(gw, '/api/retry/x');
      assert.equal(res.status, 200, `request ${i}`);
      assert.equal(res.headers['x-acgs-color'], 'blue');
    }
    assert.equal(good.seen.length - before, 4);
    assert.equal(other.seen.filter((s) => s.url === '/x').length, 0, 'the retry stays on the same colour');
  });

  test('a POST is never retried: the one that hits the dead upstream gets 502', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await call(gw, '/api/resets/p', 'POST')).status);
    assert.deepEqual(statuses.sort(), [200, 502]);
  });

  test('a connection reset on a GET is retried on the other upstream', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await call(gw, '/api/resets/g')).status, 200);
  });

  test('an upstream that does not answer in time gives 504 within the headers timeout', async () => {
    const res = await call(gw, '/api/slow/x');
    assert.equal(res.status, 504);
    assert.equal(res.body.error.code, 'gateway_timeout');
    assert.ok(res.ms < 2000, `took ${res.ms} ms`);
  });

  test('a body that stalls after the headers ends in a closed connection, not a hang', async () => {
    const started = performance.now();
    const res = await request(`${gw.dataUrl}/api/stall/x`);
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.text());
    assert.ok(performance.now() - started < 3000);
  });

  test('every upstream of a colour out: failover to the other colour when allowed', async () => {
    const colors: string[] = [];
    for (let i = 0; i < 6; i++)
      colors.push(String((await call(gw, '/api/failover/x')).headers['x-acgs-color']));
    assert.equal(colors.at(-1), 'green', `colours seen: ${colors.join(',')}`);
    const res = await call(gw, '/api/failover/y');
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'other');
  });

  test('…and 503 upstream_unavailable when the service does not allow failover', async () => {
    let last = await call(gw, '/api/nofailover/x');
    for (let i = 0; i < 5; i++) last = await call(gw, '/api/nofailover/x');
    assert.equal(last.status, 503);
    assert.equal(last.body.error.code, 'upstream_unavailable');
  });
});

/**
 * A gateway whose blue colour is one upstream at a free port with nothing listening (so its breaker
 * opens after a few requests), and green a live one; `breakerState` reads the blue breaker from the admin API.
 */
async function gatewayWithDeadBlue(resetTimeout: string) {
  const port = await freePort();
  const other = await startUpstream('green');
  const gw = await startTestGateway(
    { ac: { blue: [`http://127.0.0.1:${port}`], green: [other.url], failover: false } },
    { proxy: { breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout } } },
  );
  const breakerState = async () => {
    const res = await request(`${gw.adminUrl}/admin/services/ac`, { headers: ADMIN_AUTH });
    const body = (await res.body.json()) as { colors: { blue: { upstreams: { breaker: string }[] } } };
    return body.colors.blue.upstreams[0]!.breaker;
  };
  return { port, other, gw, breakerState };
}

describe('circuit breaker', () => {
  test('opens after repeated failures, lets a probe through after the cool-down, and closes again', async () => {
    const { port, other, gw, breakerState } = await gatewayWithDeadBlue('500ms');
    try {
      assert.equal(await breakerState(), 'closed');
      for (let i = 0; i < 4; i++) await call(gw, '/api/ac/x');
      assert.equal(await breakerState(), 'open');
      const fastFail = await call(gw, '/api/ac/x');
      assert.equal(fastFail.status, 503, 'no connection attempt while open');

      const metrics = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
      assert.match(
        metrics,
        /acgs_circuit_breaker_state\{service="ac",color="blue",upstream="http:\/\/127\.0\.0\.1:\d+"\} 2/,
      );

      const revived = await startUpstream('blue-back', undefined, port);
      try {
        await sleep(650);
        assert.equal(await breakerState(), 'half_open');
        const probe = await call(gw, '/api/ac/x');
        assert.equal(probe.status, 200);
        assert.equal(await breakerState(), 'closed');
        assert.equal((await call(gw, '/api/ac/x')).status, 200);
      } finally {
        await revived.close();
      }
    } finally {
      await gw.shutdown();
      await other.close();
    }
  });
});

describe('circuit breaker and a client that leaves', () => {
  test('a half-open probe whose client leaves before the answer neither closes nor reopens the breaker', async () => {
    const { port, other, gw, breakerState } = await gatewayWithDeadBlue('400ms');
    let revived: TestUpstream | null = null;
    try {
      for (let i = 0; i < 4; i++) await call(gw, '/api/ac/x');
      assert.equal(await breakerState(), 'open');
      // Back, but slow to answer: the probe's client gives up first.
      revived = await startUpstream(
        'blue-slow',
        (_req, res) => setTimeout(() => res.end('{"late":true}'), 300),
        port,
      );
      await sleep(550);
      assert.equal(await breakerState(), 'half_open');
      const socket = connect(Number(new URL(gw.dataUrl).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write('GET /api/ac/probe HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor('the probe to reach the upstream', () => revived!.seen.length > 0, 2000, 5);
      socket.destroy(); // leaves while the upstream is still thinking
      await sleep(500); // past the moment the upstream would have answered
      assert.equal(await breakerState(), 'half_open', 'nobody saw the answer: no verdict');
      // The next request is the probe, and its answer closes the breaker.
      const probe = await call(gw, '/api/ac/again');
      assert.equal(probe.status, 200);
      assert.equal(await breakerState(), 'closed');
    } finally {
      await gw.shutdown();
      await other.close();
      await revived?.close();
    }
  });
});

describe('connect timeout', () => {
  test('an upstream that never completes the TCP handshake answers 504 within the connect timeout', async (t) => {
    // A listener that never accepts, with its accept queue filled: Linux then drops further SYNs, so a
    // connection attempt hangs exactly as it would towards a black-holed host — on loopback.
    const listener = spawn('python3', [
      '-c',
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)",
    ]);
    t.after(() => listener.kill());
    const port = await new Promise<number>((resolve) =>
      listener.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    const fillers = Array.from({ length: 3 }, () => connect(port, '127.0.0.1').on('error', () => {}));
    t.after(() => {
      for (const socket of fillers) socket.destroy();
    });
    await sleep(200);
    const gw = await startTestGateway({
      ac: {
        blue: [`http://127.0.0.1:${port}`],
        green: [`http://127.0.0.1:${port}`],
        timeouts: { connect: '300ms' },
        failover: false,
      },
    });
    try {
      const res = await call(gw, '/api/ac/x');
      assert.equal(res.status, 504);
      assert.equal(res.body.error.code, 'gateway_timeout');
      assert.ok(res.ms < 3000, `took ${res.ms} ms`);
      const metrics = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
      assert.match(
        metrics,
        /acgs_upstream_errors_total\{service="ac",color="blue",kind="connect_timeout"\} [1-9]/,
      );
    } finally {
      await gw.shutdown();
    }
  });
});

describe('a client that leaves early', () => {
  test('frees the upstream response at once and counts as 499, not as an upstream failure', async () => {
    const upstream = await startUpstream('slow-then-open', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('headers and a first chunk, then the body stays open');
      }, 300);
    });
    const gw = await startTestGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
    try {
      const controller = new AbortController();
      const pending = request(`${gw.dataUrl}/api/ac/x`, { signal: controller.signal }).catch(
        (err: Error) => err,
      );
      await sleep(100);
      controller.abort();
      assert.ok((await pending) instanceof Error);
      const counted = await waitFor(
        'the early leave to be recorded',
        async () => {
          const text = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
          return /acgs_requests_total\{service="ac",color="blue",class="499"\} 1/.test(text) ? text : null;
        },
        2000,
      );
      assert.doesNotMatch(counted, /acgs_requests_total\{service="ac",color="blue",class="5xx"\} [1-9]/);
    } finally {
      await gw.shutdown();
      await upstream.close();
    }
  });
});

// Each way an upstream can misbehave, as its own test, with the exact answer a client sees: a clean
// 502/504 in the JSON shape, a retried success (the keep-alive race on a GET), or — once the response
// has started — a connection closed promptly. The gateway is a real process; the upstream writes raw bytes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { expectedBody, type FaultUpstream, startFaultUpstream } from './support/fault-upstream.js';
import { assertCleanLog, healthy, Metrics } from './support/probe.js';
import { errorShape, type RawExchange, rawExchange } from './support/raw-http.js';

const HEADERS_TIMEOUT_MS = 1500;
const BODY_TIMEOUT_MS = 1000;
/** Scheduling slack on a shared 2-core machine. */
const SLACK_MS = 1500;

let upstream: FaultUpstream;
let gw: GatewayProcess;
let port: number;

before(async () => {
  upstream = await startFaultUpstream();
  gw = await spawnGateway(
    { f: { blue: [upstream.url], green: [upstream.url], failover: false } },
    {
      proxy: {
        timeouts: { connect: '1s', headers: HEADERS_TIMEOUT_MS, body: BODY_TIMEOUT_MS },
        // Every test here fails on purpose; an open breaker would turn the later ones into 503s.
        breaker: { volumeThreshold: 100_000 },
      },
    },
  );
  port = Number(new URL(gw.dataUrl).port);
});

after(async () => {
  await gw?.stop('SIGKILL');
  await upstream?.close();
});

function get(path: string, extra = ''): Promise<RawExchange & { ms: number }> {
  const started = Date.now();
  return rawExchange(port, `GET /api/f${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n${extra}\r\n`, {
    timeoutMs: HEADERS_TIMEOUT_MS + BODY_TIMEOUT_MS + 3 * SLACK_MS,
  }).then((r) => ({ ...r, ms: Date.now() - started }));
}

/** The last final (non-1xx) response of an exchange. */
function final(r: RawExchange) {
  const finals = r.responses.filter((x) => x.status >= 200);
  assert.equal(
    finals.length,
    1,
    `exactly one final response, got ${finals.length}: ${r.raw.toString('latin1').slice(0, 300)}`,
  );
  return finals[0]!;
}

function assertGatewayError(r: RawExchange, status: number, code: string): void {
  const res = final(r);
  assert.equal(res.status, status, `status: ${r.raw.toString('latin1').slice(0, 300)}`);
  assert.ok(res.complete, 'the error body is complete');
  const error = errorShape(res.body);
  assert.ok(error, `JSON error shape: ${res.body.toString()}`);
  assert.equal(error.code, code);
  assert.equal(res.headers['x-request-id']?.[0], error.requestId);
}

function assertIntact(r: RawExchange, path: string): void {
  const res = final(r);
  assert.equal(res.status, 200, r.raw.toString('latin1').slice(0, 300));
  assert.ok(res.complete, 'the body arrived to its declared end');
  assert.equal(res.headers['x-acgs-color']?.[0], 'blue');
  assert.ok(res.body.equals(expectedBody(path)), 'the upstream body arrived byte for byte');
}

async function upstreamErrors(kind?: string): Promise<number> {
  return (await Metrics.scrape(gw.adminUrl)).sum('acgs_upstream_errors_total', kind ? { kind } : {});
}

describe('upstream faults: what the client sees', () => {
  test('baseline: a well-behaved upstream answer is relayed intact', async () => {
    assertIntact(await get('/ok/base?size=5000'), '/ok/base?size=5000');
  });

  test('a slow body (chunks with pauses, each under the body timeout) arrives intact', async () => {
    assertIntact(await get('/slow-body/x?size=20000'), '/slow-body/x?size=20000');
  });

  test('103 Early Hints before the answer: the final 200 arrives intact', async () => {
    assertIntact(await get('/early-hints/x?size=3000'), '/early-hints/x?size=3000');
  });

  // A known limitation, documented in gateway/README.md: RFC 9110 §15.2 asks a client to ignore an
  // interim 100 it did not ask for, but undici 7 closes the connection ('bad response'). The gateway
  // turns that into a clean 502 (kind protocol, no retry), never a hang or a crash.
  test('an unsolicited 100 Continue before the answer: a clean 502 (undici refuses it)', async () => {
    assertGatewayError(await get('/continue/x?size=3000'), 502, 'bad_gateway');
  });

  test('reset before the response headers: a clean 502 JSON error', async () => {
    const r = await get('/reset-before-headers/x');
    assertGatewayError(r, 502, 'bad_gateway');
  });

  test('invalid HTTP from the upstream: a clean 502 JSON error', async () => {
    assertGatewayError(await get('/invalid-http/x'), 502, 'bad_gateway');
  });

  test('a 64 KiB response header: a clean 502 JSON error, nothing of it reaches the client', async () => {
    const r = await get('/oversized-headers/x');
    assertGatewayError(r, 502, 'bad_gateway');
    assert.ok(!r.raw.includes('hhhhhhhhhh'), 'the oversized header is not relayed');
  });

  test('an upstream that never answers: 504 within the headers timeout', async () => {
    const r = await get('/hang-before-headers/x');
    assertGatewayError(r, 504, 'gateway_timeout');
    assert.ok(r.ms < HEADERS_TIMEOUT_MS + SLACK_MS, `answered after ${r.ms} ms`);
  });

  test('reset mid-body: the client sees a truncated response and the connection closes at once', async () => {
    const before = await upstreamErrors('reset');
    const r = await get('/reset-mid-body/x');
    assert.notEqual(r.ended, 'timeout', 'the gateway closed the client connection');
    const res = r.responses[0];
    assert.ok(res, 'the headers were relayed before the reset');
    assert.equal(res.status, 200);
    assert.equal(res.complete, false, 'a truncated body is never presented as complete');
    assert.ok(r.ms < SLACK_MS + 500, `closed after ${r.ms} ms`);
    assert.equal(await upstreamErrors('reset'), before + 1, 'counted once as an upstream reset');
  });

  test('silence after the headers: the connection closes within the body timeout, counted as body_timeout', async () => {
    const before = await upstreamErrors('body_timeout');
    const r = await get('/hang-after-headers/x');
    assert.notEqual(r.ended, 'timeout', 'the gateway closed the client connection');
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.complete, false);
    assert.ok(r.ms < BODY_TIMEOUT_MS + SLACK_MS, `closed after ${r.ms} ms`);
    assert.equal(await upstreamErrors('body_timeout'), before + 1);
  });

  test('the keep-alive race on GET: the request is retried on a fresh connection and succeeds', async () => {
    const path = '/keepalive-race/get?size=200';
    const seenBefore = upstream.seen.get('keepalive-race') ?? 0;
    const statuses: number[] = [];
    // Sequential requests: each one after the first finds the previous request's idle connection.
    for (let i = 0; i < 6; i++) {
      const r = await get(path);
      statuses.push(final(r).status);
      assertIntact(r, path);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    const lost = (upstream.seen.get('keepalive-race') ?? 0) - seenBefore - 6;
    assert.ok(
      lost >= 1,
      'the race happened at least once (a request arrived on a reused connection and was dropped)',
    );
  });

  test('the keep-alive race on POST: a clean 502, and the POST is never sent twice', async () => {
    const path = '/keepalive-race/post';
    // A GET that succeeds leaves its connection idle in the gateway's pool; the POST then reuses it.
    let primed = false;
    for (let i = 0; i < 5 && !primed; i++) primed = final(await get(path)).status === 200;
    assert.ok(primed, 'a GET succeeded and left an idle keep-alive connection');
    const before = upstream.paths.filter((p) => p === path).length;
    const body = 'payment=1';
    const r = await rawExchange(
      port,
      `POST /api/f${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      { timeoutMs: 5000 },
    );
    const sent = upstream.paths.filter((p) => p === path).length - before;
    assert.equal(
      sent,
      1,
      `the POST reached the upstream ${sent} times (a non-idempotent request is never replayed)`,
    );
    assertGatewayError(r, 502, 'bad_gateway');
  });

  test('after every fault: the process is alive and logged no unhandled error', async () => {
    assert.equal(gw.child.exitCode, null, `the gateway exited:\n${gw.output()}`);
    assert.ok(await healthy(gw.dataUrl), '/healthz answers');
    assertCleanLog(gw.output());
  });
});

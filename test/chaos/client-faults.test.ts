// A client that leaves at each phase of a request, and one that uses `Expect: 100-continue`: the gateway
// stays up, counts the departure once as 499, never as an upstream or colour error, and frees the upstream
// connection at once.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_AUTH } from '../helpers/gateway.js';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import { assertCleanLog, healthy, Metrics } from './support/probe.js';
import { errorShape, rawExchange } from './support/raw-http.js';

let upstream: TestUpstream;
let gw: GatewayProcess;
let port: number;
/** When the upstream saw each response of a path end, and whether it was written completely. */
const ended = new Map<string, { at: number; finished: boolean }>();

before(async () => {
  upstream = await startUpstream('c', (req, res, bodyBytes) => {
    const path = req.url ?? '/';
    res.on('close', () => ended.set(path, { at: Date.now(), finished: res.writableFinished }));
    if (path.startsWith('/slow-answer')) {
      const timer = setTimeout(() => res.end('late'), 1500);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (path.startsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const timer = setInterval(() => {
        res.write(`chunk ${n++}\n`.padEnd(1024, '.'));
        if (n === 60) {
          clearInterval(timer);
          res.end();
        }
      }, 50);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ bodyBytes }));
  });
  gw = await spawnGateway({ c: { blue: [upstream.url], green: [upstream.url] } });
  port = Number(new URL(gw.dataUrl).port);
});

after(async () => {
  await gw?.stop('SIGKILL');
  await upstream?.close();
});

interface Snapshot {
  received: number;
  r499: number;
  upstreamErrors: number;
  windowErrors: number;
}

async function snapshot(): Promise<Snapshot> {
  const m = await Metrics.scrape(gw.adminUrl);
  const res = await fetch(`${gw.adminUrl}/admin/services/c`, { headers: ADMIN_AUTH });
  const service = (await res.json()) as { colors: Record<string, { window?: { errors: number } }> };
  return {
    received: m.sum('acgs_http_requests_received_total'),
    r499: m.sum('acgs_http_responses_total', { class: '499' }),
    upstreamErrors: m.sum('acgs_upstream_errors_total'),
    windowErrors: (service.colors.blue?.window?.errors ?? 0) + (service.colors.green?.window?.errors ?? 0),
  };
}

/** A snapshot once the counters stopped moving (a previous test's departures are counted asynchronously). */
async function settled(): Promise<Snapshot> {
  let last = await snapshot();
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    const now = await snapshot();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}

/** Connects, writes `data`, waits `waitMs` (reading and dropping what arrives), then destroys the socket. */
async function leave(data: string | Buffer, waitMs: number): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(c));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(data);
  await sleep(waitMs);
  socket.destroy();
  return Buffer.concat(got);
}

async function assertAlive(): Promise<void> {
  await sleep(200);
  assert.equal(gw.child.exitCode, null, `the gateway exited:\n${gw.output().slice(-3000)}`);
  assert.ok(await healthy(gw.dataUrl), '/healthz answers');
  assertCleanLog(gw.output());
}

/** After a departure the handler saw: one more 499, nothing blamed on the upstream or the colour. */
async function assertCountedAsClientLeft(before: Snapshot, what: string): Promise<void> {
  const now = await waitFor(
    `${what}: the 499 to be counted`,
    async () => {
      const s = await snapshot();
      return s.r499 >= before.r499 + 1 ? s : null;
    },
    3000,
  ).catch(async () => snapshot());
  assert.equal(now.r499, before.r499 + 1, `${what}: counted once as 499`);
  assert.equal(now.upstreamErrors, before.upstreamErrors, `${what}: not an upstream error`);
  assert.equal(now.windowErrors, before.windowErrors, `${what}: not an error of the colour's live window`);
}

describe('clients that leave, and Expect: 100-continue', () => {
  test('leaving before the request headers are complete: nothing breaks, nothing is counted', async () => {
    const before = await settled();
    await leave('GET /api/c/x HTTP/1.1\r\nHost: gw\r\nX-Half: ', 100);
    await assertAlive();
    const now = await snapshot();
    assert.equal(now.upstreamErrors, before.upstreamErrors);
    assert.equal(now.windowErrors, before.windowErrors);
  });

  test('leaving while the request body streams: a 499, not an upstream error', async () => {
    const before = await settled();
    const head =
      'POST /api/c/upload HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n';
    await leave(Buffer.concat([Buffer.from(head), Buffer.alloc(64 * 1024, 1)]), 300);
    await assertAlive();
    await assertCountedAsClientLeft(before, 'mid request body');
  });

  test('leaving right after sending the request (issue 9, defect 1): the process stays up', async () => {
    // The one-liner of the issue, ten times over: the socket is destroyed in the same tick as the write.
    for (let i = 0; i < 10; i++) await leave('GET /api/c/x HTTP/1.1\r\nHost: x\r\n\r\n', 0);
    await assertAlive();
  });

  test('leaving while the upstream is thinking: a 499, and the upstream request is cancelled at once', async () => {
    const before = await settled();
    const left = Date.now();
    await leave('GET /api/c/slow-answer/1 HTTP/1.1\r\nHost: gw\r\n\r\n', 200);
    await assertAlive();
    await assertCountedAsClientLeft(before, 'before the response');
    const end = await waitFor('the upstream request to be closed', () => ended.get('/slow-answer/1'), 3000);
    assert.equal(end.finished, false, 'the upstream never finished: it was cancelled');
    assert.ok(end.at - left < 1000, `upstream freed ${end.at - left} ms after the client left`);
  });

  test('leaving in the middle of the response body: a 499, and the upstream stream is cancelled at once', async () => {
    const before = await settled();
    const got = await leave('GET /api/c/stream/1 HTTP/1.1\r\nHost: gw\r\n\r\n', 400);
    assert.match(got.toString('latin1'), /^HTTP\/1\.1 200/, 'the response had started');
    const left = Date.now();
    await assertAlive();
    await assertCountedAsClientLeft(before, 'mid response body');
    const end = await waitFor('the upstream stream to be closed', () => ended.get('/stream/1'), 3000);
    assert.equal(end.finished, false);
    assert.ok(end.at - left < 1000, `upstream freed ${end.at - left} ms after the client left`);
  });

  test('Expect: 100-continue with a 2 MB body (issue 9, defect 2): 100, then the upstream answer', async () => {
    const before = await settled();
    const size = 2 * 1024 * 1024;
    const head = `PUT /api/c/upload HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    // As curl does: the headers, a pause for the 100 (curl waits up to 1 s), then the body.
    const r = await rawExchange(port, '', {
      pieces: [head, Buffer.alloc(size, 7)],
      pauseMs: 300,
      timeoutMs: 10_000,
    });
    const finals = r.responses.filter((x) => x.status >= 200);
    assert.equal(finals.length, 1, r.raw.toString('latin1').slice(0, 400));
    assert.equal(finals[0]!.status, 200, r.raw.toString('latin1').slice(0, 400));
    assert.deepEqual(JSON.parse(finals[0]!.body.toString()), { bodyBytes: size });
    const interim = r.responses.filter((x) => x.status < 200).map((x) => x.status);
    assert.ok(
      interim.every((s) => s === 100),
      `interim responses: ${interim}`,
    );
    const now = await snapshot();
    assert.equal(now.upstreamErrors, before.upstreamErrors, 'no upstream error');
    assert.equal(now.windowErrors, before.windowErrors, 'no error in the live window');
  });

  test('Expect: 100-continue and a client that never sends the body: no crash, no upstream error', async () => {
    const before = await settled();
    const got = await leave(
      'POST /api/c/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n',
      400,
    );
    if (got.length > 0) {
      const text = got.toString('latin1');
      // Either the interim 100 or a JSON error; never a 502 blamed on the upstream.
      assert.doesNotMatch(text, /^HTTP\/1\.1 50[234]/, text.slice(0, 300));
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      if (!text.startsWith('HTTP/1.1 100')) assert.ok(errorShape(body), text);
    }
    await assertAlive();
    const now = await snapshot();
    assert.equal(now.upstreamErrors, before.upstreamErrors);
    assert.equal(now.windowErrors, before.windowErrors);
  });

  test('the counters add up: every request received ended in exactly one response class', async () => {
    await sleep(300);
    const m = await Metrics.scrape(gw.adminUrl);
    const received = m.sum('acgs_http_requests_received_total');
    const classes = m.sum('acgs_http_responses_total');
    assert.ok(m.has('acgs_http_requests_received_total'), 'acgs_http_requests_received_total is exported');
    assert.equal(received, classes, `received ${received}, responses by class ${classes}`);
  });
});

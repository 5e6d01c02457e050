// The upstream timeouts as a client sees them, through a real gateway and a real upstream on loopback,
// with a body timeout shorter than the headers timeout so each is seen on its own: a head with no body
// after it is cut at the body timeout, not before; silence before the head is a 504 at the headers
// timeout, not before; a head with no body yet is sent on at once (an event stream's client must see it); a body that keeps coming is never cut however long it takes; and an upstream held
// back because the client stopped reading is not "idle": the client gets every byte when it reads again.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gateway } from '../../gateway/gateway.js';
import { rawExchange } from '../chaos/support/raw-http.js';
import { startTestGateway } from '../helpers/gateway.js';
import { readRawBody } from '../helpers/raw-body.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const HEADERS_MS = 1500;
const BODY_MS = 400;
/** How late a timeout may be: the sweep's resolution plus scheduling on a shared 2-core machine. */
const SLACK_MS = 1000;
const BIG = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;
const chunkOf = (i: number) => Buffer.alloc(CHUNK, i % 251);

describe('upstream timeouts', () => {
  let upstream: TestUpstream;
  let deaf: Server;
  const deafSockets: Socket[] = [];
  let gw: Gateway;
  let port = 0;

  before(async () => {
    // Accepts connections and never reads from them: an upload to it stalls once the socket buffers fill.
    deaf = createServer((socket) => {
      deafSockets.push(socket);
      socket.pause();
    });
    await new Promise<void>((resolve) => deaf.listen(0, '127.0.0.1', resolve));
    const deafUrl = `http://127.0.0.1:${(deaf.address() as { port: number }).port}`;
    upstream = await startUpstream('timeouts', (req, res) => {
      if (req.url === '/echo-size') {
        res.end(String(req.headers['content-length']));
        return;
      }
      if (req.url === '/head-only') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        res.flushHeaders();
        return; // and nothing more
      }
      if (req.url === '/no-answer') return;
      if (req.url === '/drip') {
        // 8 chunks 250 ms apart: 2 s in all, each gap under the body timeout.
        res.writeHead(200, { 'content-type': 'text/plain' });
        let i = 0;
        const timer = setInterval(() => {
          res.write(`chunk ${i}\n`);
          if (++i === 8) {
            clearInterval(timer);
            res.end();
          }
        }, 250);
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
        let i = 0;
        const pump = () => {
          while (i < BIG / CHUNK) {
            if (!res.write(chunkOf(i++))) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      res.end('ok');
    });
    gw = await startTestGateway(
      {
        ac: { blue: [upstream.url], green: [upstream.url] },
        deaf: { blue: [deafUrl], green: [deafUrl], failover: false },
      },
      {
        proxy: {
          timeouts: { connect: '1s', headers: `${HEADERS_MS}ms`, body: `${BODY_MS}ms` },
          breaker: { volumeThreshold: 100_000 },
        },
      },
    );
    port = Number(new URL(gw.dataUrl).port);
  });
  after(async () => {
    await gw.shutdown();
    upstream.server.closeAllConnections();
    await upstream.close();
    for (const socket of deafSockets) socket.destroy();
    await new Promise((resolve) => deaf.close(resolve));
  });

  /** A raw connection to the gateway and everything it has sent back so far. */
  const rawClient = () => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    // The gateway may close while the client still writes (an answer before the upload ended).
    socket.on('error', () => {});
    return { socket, received: () => text };
  };

  const get = async (path: string) => {
    const started = performance.now();
    const r = await rawExchange(
      port,
      `GET /api/ac${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
      {
        timeoutMs: HEADERS_MS + BODY_MS + 3 * SLACK_MS,
      },
    );
    return { ...r, ms: performance.now() - started };
  };
  /** Upstream errors of one kind over every service and colour. */
  const upstreamErrors = async (kind: string) => {
    const metric = gw.metrics.registry.getSingleMetric('acgs_upstream_errors_total');
    if (metric === undefined) return 0;
    const { values } = await metric.get();
    return values.filter((v) => v.labels.kind === kind).reduce((n, v) => n + v.value, 0);
  };

  test('a head and then silence: the head reaches the client at once, the body is cut at the body timeout (not the longer headers one), counted once', async () => {
    const before = await upstreamErrors('body_timeout');
    const r = await get('/head-only');
    assert.equal(r.ended, 'closed', 'the gateway closed the connection');
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.complete, false, 'a cut body is never presented as complete');
    assert.ok(r.ms >= BODY_MS, `cut after ${r.ms} ms, before the ${BODY_MS} ms body timeout`);
    assert.ok(r.ms < BODY_MS + SLACK_MS, `cut after ${r.ms} ms`);
    assert.equal(await upstreamErrors('body_timeout'), before + 1);
  });

  test('the head of an answer whose body has not started is sent on before any body arrives', async () => {
    const { socket, received } = rawClient();
    socket.write('GET /api/ac/head-only HTTP/1.1\r\nHost: gw\r\n\r\n');
    try {
      // Before the body timeout cuts the connection: the upstream never sends a byte of body.
      await waitFor('the head', () => received().includes('\r\n\r\n'), BODY_MS, 5);
    } finally {
      socket.destroy();
    }
    assert.match(received(), /^HTTP\/1\.1 200 /);
    assert.match(received(), /content-length: 1000\r\n/i);
  });

  test('no answer at all: a 504 at the headers timeout, not before', async () => {
    const r = await get('/no-answer');
    assert.equal(r.responses[0]?.status, 504);
    assert.ok(r.ms >= HEADERS_MS, `answered after ${r.ms} ms, before the ${HEADERS_MS} ms headers timeout`);
    assert.ok(r.ms < HEADERS_MS + SLACK_MS, `answered after ${r.ms} ms`);
  });

  test('a body that keeps coming is relayed whole, however much longer than the body timeout it takes', async () => {
    const r = await get('/drip');
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.complete, true);
    assert.equal(
      r.responses[0]?.body.toString(),
      Array.from({ length: 8 }, (_, i) => `chunk ${i}\n`).join(''),
    );
    assert.ok(r.ms >= 1750, `the drip took ${r.ms} ms`);
  });

  test('a client that stops reading for longer than the body timeout still gets every byte', async () => {
    const expected = createHash('sha256');
    for (let i = 0; i < BIG / CHUNK; i++) expected.update(chunkOf(i));
    const socket = connect(port, '127.0.0.1');
    const body = readRawBody(socket);
    socket.write('GET /api/ac/big HTTP/1.1\r\nHost: gw\r\n\r\n');
    await waitFor('the first MiB', () => body.bytes >= 1024 * 1024, 10_000, 5);
    socket.pause();
    // Three body timeouts without reading: the upstream is held back, not idle.
    await sleep(3 * BODY_MS);
    socket.resume();
    await waitFor('the whole body', () => body.bytes >= BIG || body.closed, 20_000, 10);
    socket.destroy();
    assert.match(body.head ?? '', /^HTTP\/1\.1 200 /);
    assert.equal(
      body.bytes,
      BIG,
      `got ${body.bytes} of ${BIG} bytes${body.closed ? ' before the gateway closed' : ''}`,
    );
    assert.equal(body.digest(), expected.digest('hex'), 'every chunk once, in order');
  });

  test("a client that uploads slowly is not the upstream's failure: answered, no headers timeout counted", async () => {
    const before = await upstreamErrors('headers_timeout');
    const { socket, received } = rawClient();
    socket.write('POST /api/ac/echo-size HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\n');
    // Half the body, then nothing for longer than the headers timeout (the upstream waits for the rest,
    // reading all it is sent), then the rest.
    await sleep(100);
    socket.write('xxxxx');
    await sleep(HEADERS_MS + 600);
    socket.write('xxxxx');
    try {
      await waitFor('the answer', () => received().includes('\r\n\r\n10') || socket.destroyed, 5000, 10);
    } finally {
      socket.destroy();
    }
    assert.match(received(), /^HTTP\/1\.1 200 /);
    assert.equal(await upstreamErrors('headers_timeout'), before);
  });

  test('an upstream that stops reading the upload: a 504 at the headers timeout, counted against it', async () => {
    const before = await upstreamErrors('headers_timeout');
    const { socket, received } = rawClient();
    const total = 256 * 1024 * 1024;
    socket.write(`POST /api/deaf/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: ${total}\r\n\r\n`);
    const started = performance.now();
    const chunk = Buffer.alloc(CHUNK, 1);
    let sent = 0;
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += CHUNK;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    pump();
    try {
      await waitFor('an answer', () => received().includes('\r\n\r\n'), HEADERS_MS + 3 * SLACK_MS, 10);
    } finally {
      socket.destroy();
    }
    const ms = performance.now() - started;
    assert.match(received(), /^HTTP\/1\.1 504 /);
    assert.ok(ms < HEADERS_MS + 2 * SLACK_MS, `answered after ${ms} ms`);
    assert.ok(sent < total, 'answered while the upload was still held back');
    assert.equal(await upstreamErrors('headers_timeout'), before + 1);
  });

  test('after all that, a plain request is answered', async () => {
    const r = await get('/ok');
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]?.body.toString(), 'ok');
  });
});

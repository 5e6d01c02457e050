// The proxy relays through undici's dispatch callbacks straight into the client's response (no Readable,
// no pipe): these are the things that design must get right on its own, on real sockets. Backpressure
// from a slow client must reach the upstream instead of piling up in the gateway; the upstream's header
// lines must arrive as sent (every repeated line, every byte); a request whose client leaves while it
// waits for a pooled connection must never reach the upstream.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { readRawBody } from '../helpers/raw-body.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const CHUNK = 64 * 1024;
const BIG_CHUNKS = 1024; // 64 MiB: more than every socket buffer on the way can hold

/** Chunk i of the big body: bytes that differ per chunk, so a lost, repeated or reordered chunk shows. */
function chunkOf(i: number): Buffer {
  const b = Buffer.alloc(CHUNK, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

const expectedDigest = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < BIG_CHUNKS; i++) h.update(chunkOf(i));
  return h.digest('hex');
})();

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('the upstream exchange on real sockets', () => {
  let upstream: TestUpstream;
  let gw: Gateway;
  /** Bytes of the big body the upstream has handed to its socket so far. */
  let bigSent = 0;
  /** Requests the upstream has begun to answer, by path (the queue test counts them). */
  const started: string[] = [];

  before(async () => {
    upstream = await startUpstream('exchange', (req, res) => {
      started.push(req.url ?? '');
      if (req.url === '/big') {
        // Writes only as fast as its socket drains, as a well-behaved server does: if the gateway keeps
        // reading while its client does not, this upstream keeps sending and bigSent runs ahead.
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': CHUNK * BIG_CHUNKS,
        });
        bigSent = 0;
        let i = 0;
        const pump = () => {
          while (i < BIG_CHUNKS) {
            const ok = res.write(chunkOf(i++));
            bigSent += CHUNK;
            if (!ok) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.url === '/headers') {
        // Raw lines: mixed-case names, a repeated Set-Cookie, a latin1 byte, and a hop-by-hop field the
        // upstream's Connection header names.
        const head = Buffer.concat([
          Buffer.from(
            'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nX-Mixed-Case: Yes\r\n' +
              'Set-Cookie: b=2\r\nConnection: close, X-Hop\r\nX-Hop: secret\r\nX-Latin: caf',
          ),
          Buffer.from([0xe9]),
          Buffer.from('\r\nContent-Length: 2\r\n\r\nok'),
        ]);
        // Written past node's response object, so the connection is closed after it (and not reused).
        req.socket.end(head);
        return;
      }
      if (req.url?.startsWith('/hold')) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('held');
        }, 600);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('fine');
    });
    gw = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      // One connection per upstream: a second request in flight waits in undici's queue.
      { proxy: { timeouts: { connect: '1s', headers: '3s', body: '5s' }, connectionsPerUpstream: 1 } },
    );
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('a client that reads slowly gets all 64 MiB intact, and the upstream is held back meanwhile', async () => {
    const socket = await rawConnect(portOf(gw.dataUrl));
    const body = readRawBody(socket);
    let socketError: Error | null = null;
    socket.on('error', (err) => {
      socketError = err;
    });
    socket.write('GET /api/ac/big HTTP/1.1\r\nHost: x\r\n\r\n');
    // Read the first MiB, then stop reading for a second.
    await waitFor('the first MiB', () => body.bytes >= 1024 * 1024, 10_000, 5);
    socket.pause();
    // Wait until every buffer on the way is full and the upstream has stopped (it must, or the gateway is
    // buffering for the client), then watch it stay stopped.
    let last = -1;
    let still = 0;
    await waitFor(
      'the upstream to be held back',
      () => {
        still = bigSent === last ? still + 1 : 0;
        last = bigSent;
        return still >= 3 || bigSent >= (CHUNK * BIG_CHUNKS) / 2;
      },
      10_000,
      100,
    );
    const heldAt = bigSent;
    await sleep(700);
    assert.ok(
      bigSent < (CHUNK * BIG_CHUNKS) / 2,
      `the upstream had sent ${bigSent} bytes while the client had read ${body.bytes}: the gateway kept reading`,
    );
    assert.equal(bigSent - heldAt, 0, 'nothing more left the upstream while the client was not reading');
    socket.resume();
    await waitFor(
      'the whole body',
      () => body.bytes >= CHUNK * BIG_CHUNKS || body.closed || socketError !== null,
      20_000,
      10,
    );
    socket.destroy();
    assert.equal(socketError, null);
    assert.match(body.head ?? '', /^HTTP\/1\.1 200 /);
    assert.equal(body.bytes, CHUNK * BIG_CHUNKS);
    assert.equal(body.digest(), expectedDigest, 'every chunk arrived once, in order');
  });

  test('header lines arrive as the upstream sent them, minus the hop-by-hop ones', async () => {
    const socket = await rawConnect(portOf(gw.dataUrl));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write('GET /api/ac/headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => socket.on('close', resolve));
    const raw = Buffer.concat(chunks);
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
    const lines = head.split('\r\n').slice(1);
    const named = (name: string) =>
      lines.filter((l) => l.toLowerCase().startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());
    assert.deepEqual(named('set-cookie'), ['a=1', 'b=2'], 'both Set-Cookie lines, in order');
    assert.deepEqual(named('x-mixed-case'), ['Yes']);
    assert.deepEqual(named('x-latin'), ['caf\u00e9'], 'the latin1 byte passes unchanged');
    assert.deepEqual(named('x-hop'), [], 'a field the upstream Connection header lists is not relayed');
    assert.ok(raw.subarray(raw.indexOf('\r\n\r\n') + 4).equals(Buffer.from('ok')));
    assert.deepEqual(named('x-acgs-color').length, 1);
  });

  test('a client that leaves while its request waits for a connection: the upstream never sees it', async () => {
    started.length = 0;
    const before = await metricValue(gw.metrics.registry, 'acgs_http_responses_total', { class: '499' });
    // The first request holds the only connection for 600 ms; the second queues behind it.
    const first = request(`${gw.dataUrl}/api/ac/hold-first`);
    await waitFor('the first request to reach the upstream', () => started.includes('/hold-first'));
    const socket = await rawConnect(portOf(gw.dataUrl));
    socket.on('error', () => {});
    const received = await metricValue(gw.metrics.registry, 'acgs_http_requests_received_total');
    socket.write('GET /api/ac/hold-second HTTP/1.1\r\nHost: x\r\n\r\n');
    // Every stage here is synchronous: once received, the request waits in undici's queue.
    await waitFor(
      'the second request to be received',
      async () =>
        (await metricValue(gw.metrics.registry, 'acgs_http_requests_received_total')) === received + 1,
    );
    socket.destroy(); // leaves while queued
    const res = await first;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'held');
    await waitFor(
      'the queued request to be counted as a 499',
      async () =>
        (await metricValue(gw.metrics.registry, 'acgs_http_responses_total', { class: '499' })) ===
        before + 1,
    );
    // The connection is free again and the next request goes through on it.
    const next = await request(`${gw.dataUrl}/api/ac/after`);
    assert.equal(next.statusCode, 200);
    assert.equal(await next.body.text(), 'fine');
    assert.deepEqual(started, ['/hold-first', '/after'], 'the abandoned request never went out');
  });
});

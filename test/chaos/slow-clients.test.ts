// Slow and greedy clients against a real gateway process: half-sent headers and trickled bodies are
// closed within a second or two of server.headersTimeout / server.requestTimeout, one address cannot hold
// more than server.maxConnectionsPerClient connections, the total stays under server.maxConnections, and
// none of it delays another client's request. Each client address is its own 127.x loopback address.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { assertCleanLog, healthy } from './support/probe.js';
import { rawExchange } from './support/raw-http.js';

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 4000;
/** "Enforced within a second or two of the value." */
const WITHIN_MS = 2000;
const PER_CLIENT = 8;
const TOTAL = 40;

let upstream: TestUpstream;
let gw: GatewayProcess;
let port: number;
const held: Socket[] = [];

before(async () => {
  upstream = await startUpstream('slow');
  gw = await spawnGateway(
    { s: { blue: [upstream.url], green: [upstream.url] } },
    {
      server: {
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        maxConnections: TOTAL,
        maxConnectionsPerClient: PER_CLIENT,
      },
    },
  );
  port = Number(new URL(gw.dataUrl).port);
});

after(async () => {
  for (const s of held) s.destroy();
  await gw?.stop('SIGKILL');
  await upstream?.close();
});

interface Held {
  readonly socket: Socket;
  /** Resolves with the ms from connect until the gateway closed the connection, and what it sent. */
  readonly closed: Promise<{ ms: number; text: string }>;
}

/** Opens a connection from `localAddress` and keeps it; `trickle` writes a byte every `everyMs`. */
async function hold(localAddress: string, first = '', trickle = '', everyMs = 400): Promise<Held> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  held.push(socket);
  const started = Date.now();
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<{ ms: number; text: string }>((resolve) =>
    socket.once('close', () => resolve({ ms: Date.now() - started, text })),
  );
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  if (first !== '' && !socket.destroyed) socket.write(first);
  if (trickle !== '') {
    void (async () => {
      for (let i = 0; !socket.destroyed; i++) {
        await sleep(everyMs);
        if (!socket.destroyed) socket.write(trickle[i % trickle.length]!);
      }
    })();
  }
  return { socket, closed };
}

async function normalRequest(localAddress: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const r = await rawExchange(port, 'GET /api/s/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', {
    localAddress,
    timeoutMs: 5000,
  });
  return { status: r.responses[0]?.status ?? 0, ms: Date.now() - started };
}

describe('slow and greedy clients are bounded', () => {
  test('slowloris: headers trickled byte by byte are cut off within headersTimeout', async () => {
    const c = await hold(
      '127.0.1.1',
      'GET /api/s/x HTTP/1.1\r\nHost: gw\r\n',
      'X-Slow: aaaaaaaaaaaaaaaaaaaa',
    );
    const { ms, text } = await c.closed;
    assert.ok(ms >= HEADERS_TIMEOUT_MS - 200, `closed after ${ms} ms: not before the timeout`);
    assert.ok(ms <= HEADERS_TIMEOUT_MS + WITHIN_MS, `closed after ${ms} ms, timeout ${HEADERS_TIMEOUT_MS}`);
    if (text !== '') assert.match(text, /^HTTP\/1\.1 408 /, `what it was told: ${text.slice(0, 200)}`);
  });

  test('a request body trickled slowly is cut off within requestTimeout', async () => {
    const c = await hold(
      '127.0.1.2',
      'POST /api/s/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n',
      'bbbbbbbbbb',
      300,
    );
    const { ms } = await c.closed;
    assert.ok(ms >= REQUEST_TIMEOUT_MS - 500, `closed after ${ms} ms: not before the timeout`);
    assert.ok(ms <= REQUEST_TIMEOUT_MS + WITHIN_MS, `closed after ${ms} ms, timeout ${REQUEST_TIMEOUT_MS}`);
  });

  test(`one address holds at most ${PER_CLIENT} connections; others are not affected`, async () => {
    const mine = await Promise.all(
      Array.from({ length: PER_CLIENT + 4 }, () =>
        hold('127.0.2.1', 'GET /api/s/x HTTP/1.1\r\nHost: gw\r\n'),
      ),
    );
    await sleep(300);
    const open = mine.filter((c) => !c.socket.destroyed).length;
    assert.equal(open, PER_CLIENT, `${open} connections of one address stayed open`);
    const other = await normalRequest('127.0.2.2');
    assert.equal(other.status, 200, 'another address is served');
    assert.ok(other.ms < 1000, `and not delayed: ${other.ms} ms`);
    for (const c of mine) c.socket.destroy();
  });

  test(`at most ${TOTAL} connections in total; a slow crowd never delays a normal request for long`, async () => {
    // Six addresses × 7 connections = 42 > 40, each under the per-address cap.
    const crowd: Held[] = [];
    for (let a = 1; a <= 6; a++)
      for (let i = 0; i < 7; i++)
        crowd.push(await hold(`127.0.3.${a}`, 'GET /api/s/x HTTP/1.1\r\nHost: gw\r\n', 'X'));
    await sleep(300);
    const open = crowd.filter((c) => !c.socket.destroyed).length;
    assert.ok(open <= TOTAL, `${open} connections stayed open, cap ${TOTAL}`);
    // Once the crowd's headers time out, the gateway serves again without a restart.
    const started = Date.now();
    let served = await normalRequest('127.0.3.99');
    while (served.status !== 200 && Date.now() - started < HEADERS_TIMEOUT_MS + WITHIN_MS + 1000) {
      await sleep(200);
      served = await normalRequest('127.0.3.99');
    }
    assert.equal(served.status, 200, `served ${Date.now() - started} ms after the crowd arrived`);
    for (const c of crowd) c.socket.destroy();
  });

  test('a normal request while slow clients hold their connections is answered promptly', async () => {
    const slow = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        hold(`127.0.4.${i + 1}`, 'GET /api/s/x HTTP/1.1\r\nHost: gw\r\n', 'X-a: b\r\n'),
      ),
    );
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await normalRequest('127.0.4.99');
      assert.equal(r.status, 200);
      times.push(r.ms);
    }
    assert.ok(Math.max(...times) < 500, `slowest normal request ${Math.max(...times)} ms`);
    for (const c of slow) c.socket.destroy();
  });

  test('afterwards: alive and a clean log', async () => {
    assert.equal(gw.child.exitCode, null, gw.output().slice(-3000));
    assert.ok(await healthy(gw.dataUrl));
    assertCleanLog(gw.output());
  });
});

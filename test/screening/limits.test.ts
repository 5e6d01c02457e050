// The screening stage at its limits, through a real gateway: each case handled within its bound, none
// crashes the process or holds up other requests.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import {
  bearer,
  type HashingUpstream,
  removeBundle,
  sha256,
  startHashingUpstream,
  startScreeningGateway,
} from './support/setup.js';

const ATTACK = '<script>alert(1)</script>';

describe('screening limits', () => {
  let upstream: HashingUpstream;
  let gw: Gateway;
  let writer: Record<string, string>;

  before(async () => {
    upstream = await startHashingUpstream();
    gw = await startScreeningGateway(upstream.url, { bodyTimeout: '700ms' });
    writer = await bearer(['ac.writer']);
  });
  after(async () => {
    await gw?.shutdown();
    await upstream?.close();
    await removeBundle();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    request(`${gw.dataUrl}/api/ac/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...writer, ...headers },
      body,
    });

  it('streams a 10 MB JSON body through uninspected, byte for byte', async () => {
    // An attack inside: were the body inspected, it would be refused.
    const body = Buffer.from(JSON.stringify({ note: ATTACK, pad: 'x'.repeat(10 * 1024 * 1024) }));
    const res = await post(body);
    const seen = (await res.body.json()) as { bytes: number; sha256: string };
    assert.equal(res.statusCode, 200);
    assert.equal(seen.bytes, body.length);
    assert.equal(seen.sha256, sha256(body));
    assert.equal(
      await metricValue(gw.metrics.registry, 'acgs_screening_skipped_total', { reason: 'too_large' }),
      1,
    );
  });

  it('inspects a small JSON body and forwards exactly the bytes it read', async () => {
    const body = '{ "b": [1, 2, {"c": "plain words"}],\n  "a": "x" }';
    const res = await post(body);
    const seen = (await res.body.json()) as { bytes: number; sha256: string };
    assert.equal(res.statusCode, 200);
    assert.equal(seen.sha256, sha256(body));
    const refused = await post(JSON.stringify({ b: [1, 2, { c: ATTACK }] }));
    const error = (await refused.body.json()) as { error: { message: string } };
    assert.equal(refused.statusCode, 403);
    assert.match(error.error.message, /^xss in body b\.2\.c /);
  });

  it('finds an attack 30,000 levels deep in a JSON document, quickly', async () => {
    const depth = 30_000;
    const deep = `${'['.repeat(depth)}${JSON.stringify(ATTACK)}${']'.repeat(depth)}`;
    assert.ok(deep.length < 64 * 1024);
    const started = Date.now();
    const res = await post(deep);
    await res.body.dump();
    assert.equal(res.statusCode, 403);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    const fine = `${'['.repeat(depth)}"fine"${']'.repeat(depth)}`;
    const ok = await post(fine);
    const seen = (await ok.body.json()) as { sha256: string };
    assert.equal(ok.statusCode, 200);
    assert.equal(seen.sha256, sha256(fine));
  });

  it('screens every one of 1,000 query parameters (the last one too)', async () => {
    const params = Array.from({ length: 1000 }, (_, i) => `p${i}=value${i}`);
    const ok = await request(`${gw.dataUrl}/api/ac/items?${params.join('&')}`);
    await ok.body.dump();
    assert.equal(ok.statusCode, 200);
    params[999] = `p999=${encodeURIComponent("1' OR '1'='1")}`;
    const res = await request(`${gw.dataUrl}/api/ac/items?${params.join('&')}`);
    const error = (await res.body.json()) as { error: { message: string } };
    assert.equal(res.statusCode, 403);
    assert.match(error.error.message, /sqli in query p999/);
  });

  it('screens every value of a repeated header and every repeat of a query parameter', async () => {
    const res = await request(
      `${gw.dataUrl}/api/ac/items?q=fine&q=${encodeURIComponent('../../etc/passwd')}`,
    );
    await res.body.dump();
    assert.equal(res.statusCode, 403);
    // Two lines of the same header, as a client may send them: the second must not escape.
    const headers = await rawStatus(
      gw.dataUrl,
      'GET /api/ac/items HTTP/1.1\r\nhost: x\r\nx-a: fine\r\nx-a: ; cat /etc/passwd\r\nconnection: close\r\n\r\n',
    );
    assert.equal(headers, 403);
  });

  it('takes a body with invalid UTF-8 without failing, and forwards its bytes unchanged', async () => {
    const body = Buffer.concat([
      Buffer.from('{"name": "caf'),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await post(body);
    const seen = (await res.body.json()) as { sha256: string };
    assert.equal(res.statusCode, 200);
    assert.equal(seen.sha256, sha256(body));
    const attack = Buffer.concat([
      Buffer.from('{"q": "'),
      Buffer.from([0xff]),
      Buffer.from('\' OR 1=1 --"}'),
    ]);
    const refused = await post(attack);
    await refused.body.dump();
    assert.equal(refused.statusCode, 403);
  });

  it('answers a body that trickles in past bodyTimeout with 408, and serves others meanwhile', async () => {
    const { port } = new URL(gw.dataUrl);
    const socket = connect(Number(port), '127.0.0.1');
    const started = Date.now();
    socket.write(
      `POST /api/ac/items HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n` +
        `authorization: ${writer.authorization}\r\n\r\n{"a": "`,
    );
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    const drip = setInterval(() => socket.write('x'), 100);
    // Meanwhile the gateway answers others at once.
    const other = await request(`${gw.dataUrl}/api/ac/items?q=hello`);
    await other.body.dump();
    assert.equal(other.statusCode, 200);
    const text = await answer;
    clearInterval(drip);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });

  it('survives a client that leaves while its body is read; the upstream never sees it', async () => {
    const before = upstream.seen.length;
    const { port } = new URL(gw.dataUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    socket.write(
      `POST /api/ac/items?leaver=1 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n` +
        `authorization: ${writer.authorization}\r\n\r\n{"a": "half`,
    );
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const res = await request(`${gw.dataUrl}/api/ac/items?after=1`);
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal(upstream.seen.filter((s) => s.url.includes('leaver')).length, 0);
    assert.equal(upstream.seen.length, before + 1);
  });

  it('sends 100 Continue before reading a JSON body (Expect: 100-continue), then screens it', async () => {
    const send = (body: string) =>
      new Promise<{ status: number; continued: boolean; text: string }>((resolve, reject) => {
        let continued = false;
        const req = httpRequest(`${gw.dataUrl}/api/ac/items`, {
          method: 'POST',
          headers: {
            ...writer,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            expect: '100-continue',
          },
        });
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, text }));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    const body = JSON.stringify({ a: 'plain' });
    const ok = await send(body);
    assert.equal(ok.status, 200);
    assert.ok(ok.continued);
    assert.equal((JSON.parse(ok.text) as { sha256: string }).sha256, sha256(body));
    const refused = await send(JSON.stringify({ a: '; cat /etc/passwd' }));
    assert.ok(refused.continued);
    assert.equal(refused.status, 403);
  });
});

describe('screening time budget', () => {
  let upstream: HashingUpstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startHashingUpstream();
    gw = await startScreeningGateway(upstream.url, { budgetUs: 100, failMode: 'closed' });
  });
  after(async () => {
    await gw?.shutdown();
    await upstream?.close();
    await removeBundle();
  });

  it('refuses with 503 a request whose screening ran out of budget (failMode closed), and counts it', async () => {
    const writer = await bearer(['ac.writer']);
    const doc = Array.from({ length: 3000 }, (_, i) => `value number ${i} with some words`);
    const res = await request(`${gw.dataUrl}/api/ac/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...writer },
      body: JSON.stringify(doc),
    });
    const error = (await res.body.json()) as { error: { code: string } };
    assert.equal(res.statusCode, 503);
    assert.equal(error.error.code, 'screening_incomplete');
    assert.equal(
      await metricValue(gw.metrics.registry, 'acgs_screening_skipped_total', { reason: 'timeout' }),
      1,
    );
  });
});

/** Sends raw bytes and returns the status code of the answer. */
function rawStatus(dataUrl: string, text: string): Promise<number> {
  const { port } = new URL(dataUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.on('error', reject);
    socket.write(text);
  });
}

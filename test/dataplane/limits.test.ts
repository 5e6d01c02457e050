import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** A body of `total` bytes produced chunk by chunk, never held in memory at once. */
function generated(total: number, chunk = 64 * 1024): Readable {
  const block = Buffer.alloc(chunk, 0x61);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk, total - sent);
      sent += n;
      this.push(n === chunk ? block : block.subarray(0, n));
    },
  });
}

describe('size limits and streaming', () => {
  let upstream: TestUpstream;
  let gw: Gateway;
  before(async () => {
    upstream = await startUpstream('sink');
    gw = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { maxBodyBytes: 1024 * 1024, maxHeaderBytes: 4096 } },
    );
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('a declared body over the limit answers 413 without reaching the upstream', async () => {
    const before = upstream.seen.length;
    const res = await request(`${gw.dataUrl}/api/ac/upload`, {
      method: 'POST',
      body: Buffer.alloc(2 * 1024 * 1024),
    });
    assert.equal(res.statusCode, 413);
    assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'payload_too_large');
    assert.equal(upstream.seen.length, before);
  });

  test('a chunked body that grows past the limit answers 413', async () => {
    const res = await request(`${gw.dataUrl}/api/ac/upload`, {
      method: 'POST',
      body: generated(3 * 1024 * 1024),
    });
    assert.equal(res.statusCode, 413);
    await res.body.dump();
  });

  test('a body within the limit passes', async () => {
    const res = await request(`${gw.dataUrl}/api/ac/upload`, { method: 'POST', body: generated(900 * 1024) });
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { bodyBytes: number }).bodyBytes, 900 * 1024);
  });

  test('headers over the limit answer 431 in the JSON error shape', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(gw.dataUrl);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`GET /api/ac/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(8000)}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (c) => {
        text += c;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 431 /);
    assert.match(raw, /"code":"headers_too_large"/);
  });
});

describe('streaming large uploads', () => {
  // A buffering proxy grows by the body size. A streaming one grows by what the garbage collector has not
  // reclaimed yet (about 50–60 MB of short-lived socket buffers here, the same for 100 MB or 400 MB), so a
  // 256 MB body must leave the peak well below its own size.
  test('256 MB pass through without the gateway process holding the body in memory', async () => {
    const upstream = await startUpstream('sink');
    // The gateway in its own process, so its memory is measured alone (VmHWM is the kernel's peak RSS).
    const gw = await spawnGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
    const status = async (field: 'VmRSS' | 'VmHWM') => {
      const text = await readFile(`/proc/${gw.child.pid}/status`, 'utf8');
      return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)![1]) / 1024;
    };
    try {
      const warm = await request(`${gw.dataUrl}/api/ac/warm`, {
        method: 'PUT',
        body: generated(4 * 1024 * 1024),
      });
      await warm.body.dump();
      const baseline = await status('VmHWM');
      const total = 256 * 1024 * 1024;
      const res = await request(`${gw.dataUrl}/api/ac/big`, {
        method: 'PUT',
        body: generated(total),
        headers: { 'content-length': String(total) },
      });
      const body = (await res.body.json()) as { bodyBytes: number };
      assert.equal(res.statusCode, 200);
      assert.equal(body.bodyBytes, total);
      const grownMb = (await status('VmHWM')) - baseline;
      assert.ok(
        grownMb < 96,
        `the gateway's peak RSS grew by ${grownMb.toFixed(1)} MB while 256 MB streamed through`,
      );
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });

  test('a 100 MB response streams to the client', async () => {
    const total = 100 * 1024 * 1024;
    const upstream = await startUpstream('source', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      generated(total).pipe(res);
    });
    const gw = await startTestGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
    try {
      const res = await request(`${gw.dataUrl}/api/ac/download`);
      let received = 0;
      for await (const chunk of res.body) received += (chunk as Buffer).length;
      assert.equal(received, total);
    } finally {
      await gw.shutdown();
      await upstream.close();
    }
  });
});

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('routing and forwarding', () => {
  let ac: TestUpstream;
  let acGreen: TestUpstream;
  let gs: TestUpstream;
  let gw: Gateway;
  let trustedGw: Gateway;

  before(async () => {
    ac = await startUpstream('ac-blue');
    acGreen = await startUpstream('ac-green');
    gs = await startUpstream('gs-blue');
    const services = {
      ac: { blue: [ac.url], green: [acGreen.url] },
      gs: { blue: [`${gs.url}/base/`], green: [acGreen.url], prefix: '/v2/gs/' },
    };
    gw = await startTestGateway(services);
    trustedGw = await startTestGateway(services, { server: { trustedProxies: ['127.0.0.0/8'] } });
  });
  after(async () => {
    await Promise.all([gw.shutdown(), trustedGw.shutdown()]);
    await Promise.all([ac.close(), acGreen.close(), gs.close()]);
  });

  async function get(path: string, headers: Record<string, string> = {}, base = gw.dataUrl) {
    const res = await request(`${base}${path}`, { headers });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  test('/api/<service>/<rest> reaches <upstream>/<rest> with the query string intact', async () => {
    const res = await get('/api/ac/orders/42?expand=items&x=a%20b&x=c');
    assert.equal(res.status, 200);
    assert.equal(res.body.url, '/orders/42?expand=items&x=a%20b&x=c');
    assert.equal(res.headers['x-acgs-color'], 'blue');
    assert.equal(res.headers['x-upstream'], 'ac-blue');
  });

  test('a custom prefix and an upstream base path', async () => {
    const res = await get('/v2/gs/items?q=1');
    assert.equal(res.body.url, '/base/items?q=1');
    const bare = await get('/v2/gs');
    assert.equal(bare.body.url, '/base/');
  });

  test('the canonical path is what gets routed: dot-segments and double slashes', async () => {
    assert.equal((await get('/api/ac//a/./b/../c')).body.url, '/a/c');
    const escaped = await get('/api/ac/../gs/x');
    assert.equal(escaped.status, 404, 'cannot climb out of a prefix into another route');
    assert.equal((await get('/api/ac/sp%20ace/caf%C3%A9')).body.url, '/sp%20ace/caf%C3%A9');
  });

  test('a path that cannot be normalised is 400 in the JSON error shape', async () => {
    const res = await get('/api/ac/%zz');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'bad_path');
    assert.equal(res.body.error.requestId, res.headers['x-request-id']);
  });

  test('unknown service: 404 JSON error with the request id', async () => {
    const res = await get('/api/nope/x', { 'x-request-id': 'trace-abc-1' });
    assert.equal(res.status, 404);
    assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message', 'requestId']);
    assert.equal(res.body.error.code, 'not_found');
    assert.equal(res.body.error.requestId, 'trace-abc-1');
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  });

  test('x-request-id: a well-formed one is kept end to end, a malformed one replaced', async () => {
    const kept = await get('/api/ac/x', { 'x-request-id': 'req-123' });
    assert.equal(kept.headers['x-request-id'], 'req-123');
    assert.equal(kept.body.headers['x-request-id'], 'req-123');
    const replaced = await get('/api/ac/x', { 'x-request-id': 'has spaces <script>' });
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f]{32}$/);
    assert.equal(replaced.body.headers['x-request-id'], replaced.headers['x-request-id']);
  });

  test('upstreams get X-Forwarded-*, never hop-by-hop headers, and no client-supplied forwarding', async () => {
    // node:http, because undici rewrites the Connection header itself
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${gw.dataUrl}/api/ac/x`, {
        headers: {
          'x-forwarded-for': '6.6.6.6',
          'x-forwarded-proto': 'https',
          connection: 'keep-alive, x-secret-hop',
          'x-secret-hop': 'drop me',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          te: 'trailers',
          'x-keep': 'yes',
        },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    const h = JSON.parse(body).headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1', 'untrusted peer: its X-Forwarded-For is not believed');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.match(h['x-forwarded-host'], /^127\.0\.0\.1:\d+$/);
    assert.equal(h['x-secret-hop'], undefined);
    assert.equal(h['proxy-authorization'], undefined);
    assert.equal(h.te, undefined);
    assert.equal(h['x-keep'], 'yes');
    assert.equal(h['x-acgs-color'], 'blue');
  });

  test('behind a trusted proxy the client address comes from X-Forwarded-For', async () => {
    const res = await get(
      '/api/ac/x',
      {
        'x-forwarded-for': '198.51.100.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'api.example.com',
      },
      trustedGw.dataUrl,
    );
    const h = res.body.headers;
    assert.equal(h['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'api.example.com');
  });

  test('hop-by-hop headers from the upstream, and those it lists in Connection, are not passed on', async () => {
    const hoppy = await startUpstream('hoppy', (_req, res) => {
      res.writeHead(200, {
        connection: 'keep-alive, x-up-hop',
        'x-up-hop': 'private',
        'keep-alive': 'timeout=99',
        'x-end-to-end': 'yes',
      });
      res.end('{}');
    });
    const hgw = await startTestGateway({ ac: { blue: [hoppy.url], green: [hoppy.url] } });
    try {
      const res = await get('/api/ac/x', {}, hgw.dataUrl);
      assert.equal(res.headers['x-up-hop'], undefined);
      assert.notEqual(res.headers['keep-alive'], 'timeout=99');
      assert.equal(res.headers['x-end-to-end'], 'yes');
    } finally {
      await hgw.shutdown();
      await hoppy.close();
    }
  });

  test('request bodies and methods pass through', async () => {
    const res = await request(`${gw.dataUrl}/api/ac/things`, {
      method: 'POST',
      body: 'x'.repeat(5000),
      headers: { 'content-type': 'text/plain' },
    });
    const body = (await res.body.json()) as { method: string; bodyBytes: number };
    assert.equal(body.method, 'POST');
    assert.equal(body.bodyBytes, 5000);
  });

  test('/healthz and /readyz answer on the data port', async () => {
    assert.deepEqual((await get('/healthz')).body, { status: 'ok' });
    const ready = await get('/readyz');
    assert.equal(ready.status, 200);
  });
});

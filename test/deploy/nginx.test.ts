// The production nginx configuration (docker/nginx) in front of two real gateway replicas and real
// upstreams, all on loopback: what a client sees through TLS, what the services receive, and how nginx
// behaves when replicas go away. Also `nginx -t` on the production variant.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Gateway } from '../../gateway/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import {
  findBinary,
  freePort,
  nginxArgs,
  type RunningNginx,
  renderNginx,
  run,
  selfSignedCert,
  startNginx,
} from './helpers.js';

const NGINX = findBinary('nginx', ['/usr/sbin/nginx']);
const OPENSSL = findBinary('openssl');
const skip =
  NGINX === null ? 'nginx is not installed' : OPENSSL === null ? 'openssl is not installed' : false;

/** The client connects from another loopback address than nginx uses towards the gateways. */
const CLIENT_ADDRESS = '127.0.0.2';
const HOST = 'api.acgs.test';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function json(reply: Reply): Record<string, unknown> {
  return JSON.parse(reply.body) as Record<string, unknown>;
}

describe('nginx in front of two gateway replicas', { skip }, () => {
  let tmp: string;
  let nginx: RunningNginx;
  let httpPort: number;
  let httpsPort: number;
  let upstreamA: TestUpstream;
  let upstreamB: TestUpstream;
  let uploads: Server;
  let uploadReceived = 0;
  let replicaA: Gateway;
  let replicaB: Gateway;
  const agent = new Agent({ keepAlive: true, rejectUnauthorized: false, localAddress: CLIENT_ADDRESS });

  function https(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: httpsPort,
          method,
          path,
          agent,
          headers: { host: HOST, ...headers },
          timeout: 10_000,
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            data += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'acgs-nginx-'));
    await selfSignedCert(OPENSSL!, join(tmp, 'certs'));
    // Each replica routes `ac` to its own upstream, so an answer tells which replica served it.
    upstreamA = await startUpstream('a');
    upstreamB = await startUpstream('b');
    uploads = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        uploadReceived += chunk.length;
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ bodyBytes: bytes, transferEncoding: req.headers['transfer-encoding'] ?? null }),
        );
      });
    });
    await new Promise<void>((resolve) => uploads.listen(0, '127.0.0.1', () => resolve()));
    const uploadsUrl = `http://127.0.0.1:${(uploads.address() as AddressInfo).port}`;
    const extra = { server: { trustedProxies: ['127.0.0.1/32'] } };
    replicaA = await startTestGateway(
      {
        ac: { blue: [upstreamA.url], green: [upstreamA.url] },
        up: { blue: [uploadsUrl], green: [uploadsUrl] },
      },
      extra,
    );
    replicaB = await startTestGateway(
      {
        ac: { blue: [upstreamB.url], green: [upstreamB.url] },
        up: { blue: [uploadsUrl], green: [uploadsUrl] },
      },
      extra,
    );
    httpPort = await freePort();
    httpsPort = await freePort();
    const conf = renderNginx({
      prefix: tmp,
      upstreams: [new URL(replicaA.dataUrl).host, new URL(replicaB.dataUrl).host],
      httpPort,
      httpsPort,
    });
    nginx = await startNginx(NGINX!, tmp, conf, httpsPort);
  });

  after(async () => {
    agent.destroy();
    await nginx?.stop();
    await Promise.allSettled([replicaA?.shutdown('test'), replicaB?.shutdown('test')]);
    await Promise.allSettled([upstreamA?.close(), upstreamB?.close()]);
    uploads?.closeAllConnections();
    await new Promise<void>((resolve) => (uploads ? uploads.close(() => resolve()) : resolve()));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('requests over TLS are spread over both replicas and carry the gateway headers', async () => {
    const served = { a: 0, b: 0 };
    for (let i = 0; i < 20; i++) {
      const reply = await https('GET', `/api/ac/items/${i}?q=${i}`);
      assert.equal(reply.status, 200, reply.body);
      const body = json(reply);
      served[body.name as 'a' | 'b']++;
      assert.equal(body.url, `/items/${i}?q=${i}`);
      assert.match(String(reply.headers['x-acgs-color']), /^(blue|green)$/);
      assert.ok(reply.headers['x-request-id'], 'every proxied answer carries x-request-id');
      assert.match(String(reply.headers['strict-transport-security']), /max-age=\d+/);
    }
    assert.ok(served.a > 0 && served.b > 0, `both replicas serve: ${JSON.stringify(served)}`);
  });

  test('the service sees the real client address: nginx replaces X-Forwarded-For and the gateway trusts nginx', async () => {
    const seenBefore = { a: upstreamA.seen.length, b: upstreamB.seen.length };
    // A client-planted X-Forwarded-For must not survive the edge.
    const reply = await https('GET', '/api/ac/whoami', { 'x-forwarded-for': '203.0.113.7' });
    assert.equal(reply.status, 200);
    const seen = [...upstreamA.seen.slice(seenBefore.a), ...upstreamB.seen.slice(seenBefore.b)];
    assert.equal(seen.length, 1);
    const headers = seen[0]!.headers;
    // nginx wrote the client (127.0.0.2); the gateway kept it because its peer (nginx, 127.0.0.1) is a
    // trusted proxy, and appended nginx. An untrusted peer would have left only "127.0.0.1".
    assert.equal(headers['x-forwarded-for'], `${CLIENT_ADDRESS}, 127.0.0.1`);
    assert.doesNotMatch(String(headers['x-forwarded-for']), /203\.0\.113\.7/);
    assert.equal(headers['x-forwarded-proto'], 'https');
    assert.equal(headers['x-forwarded-host'], HOST);
  });

  test('x-request-id: made by nginx when missing, kept when well-formed, replaced when not', async () => {
    const fresh = await https('GET', '/api/ac/id');
    assert.match(
      String(fresh.headers['x-request-id']),
      /^[0-9a-f]{32}$/,
      'nginx $request_id, kept by the gateway',
    );
    const upstreamSaw = (json(fresh).headers as IncomingHttpHeaders)['x-request-id'];
    assert.equal(
      upstreamSaw,
      fresh.headers['x-request-id'],
      'nginx, the gateway and the service share one id',
    );

    const kept = await https('GET', '/api/ac/id', { 'x-request-id': 'trace-42.abc:def' });
    assert.equal(kept.headers['x-request-id'], 'trace-42.abc:def');
    assert.equal((json(kept).headers as IncomingHttpHeaders)['x-request-id'], 'trace-42.abc:def');

    const replaced = await https('GET', '/api/ac/id', { 'x-request-id': 'no spaces <allowed>' });
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f]{32}$/);
  });

  test('a large chunked upload streams through nginx and the gateway without being spooled', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    uploadReceived = 0;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: httpsPort,
          method: 'POST',
          path: '/api/up/upload',
          agent,
          headers: { host: HOST, 'content-type': 'application/octet-stream' },
          timeout: 30_000,
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            data += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('upload timed out')));
      req.on('error', reject);
      (async () => {
        req.write(chunk);
        // With request buffering, nothing would reach the service before the whole body had arrived.
        await waitFor(
          'the first bytes to reach the service while the upload is open',
          () => uploadReceived > 0,
          5000,
        );
        for (let sent = chunk.length; sent < total; sent += chunk.length) {
          if (!req.write(chunk)) await new Promise<void>((r) => req.once('drain', () => r()));
        }
        req.end();
      })().catch((err: Error) => req.destroy(err));
    });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(json(reply).bodyBytes, total);
    assert.doesNotMatch(nginx.errorLog(), /buffered to a temporary file/);
  });

  test('a body over the limit is refused by nginx with the gateway JSON error shape', async () => {
    // Announce 2 GiB and send nothing: nginx answers from the headers alone.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: httpsPort, rejectUnauthorized: false }, () => {
        socket.write(
          `POST /api/up/upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 2147483648\r\nX-Request-Id: big-1\r\n\r\n`,
        );
      });
      let data = '';
      const timer = setTimeout(() => socket.destroy(), 5000);
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        data += c;
        if (data.includes('}}')) socket.end();
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(data);
      });
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 413 /);
    assert.match(raw, /content-type: application\/json/i);
    const body = JSON.parse(raw.slice(raw.indexOf('{'))) as { error: Record<string, string> };
    assert.deepEqual(body.error, {
      code: 'payload_too_large',
      message: 'The request body exceeds the configured limit',
      requestId: 'big-1',
    });
  });

  test('plain HTTP redirects to HTTPS, except /healthz which passes through', async () => {
    const plain = (path: string) =>
      new Promise<Reply>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: httpPort,
            path,
            headers: { host: HOST },
            localAddress: CLIENT_ADDRESS,
            timeout: 5000,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end();
      });
    const redirect = await plain('/api/ac/items?x=1');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, `https://${HOST}/api/ac/items?x=1`);
    assert.equal((await plain('/healthz')).status, 200);
    assert.equal((await https('GET', '/healthz')).status, 200);
    assert.equal((await https('GET', '/readyz')).status, 200);
  });

  test('the admin plane is not reachable through nginx', async () => {
    for (const path of ['/admin/services', '/admin/audit', '/metrics']) {
      const reply = await https('GET', path, { authorization: 'Bearer test-operator-token-0123456789' });
      assert.equal(reply.status, 404, path);
      assert.equal((json(reply).error as Record<string, string>).code, 'not_found');
    }
  });

  test('when a replica goes away, nginx sends every request to the other one', async () => {
    await replicaB.shutdown('test');
    for (let i = 0; i < 10; i++) {
      const reply = await https('GET', `/api/ac/failover/${i}`);
      assert.equal(reply.status, 200, reply.body);
      assert.equal(json(reply).name, 'a');
    }
    const post = await https('POST', '/api/ac/failover', { 'content-type': 'application/json' }, '{"x":1}');
    assert.equal(post.status, 200, post.body);
  });

  test('with no replica left, nginx answers 502 in the gateway JSON shape', async () => {
    await replicaA.shutdown('test');
    const reply = await https('GET', '/api/ac/none', { 'x-request-id': 'down-1' });
    assert.equal(reply.status, 502);
    assert.deepEqual(json(reply).error, {
      code: 'bad_gateway',
      message: 'No gateway replica could be reached',
      requestId: 'down-1',
    });
    assert.equal(reply.headers['x-request-id'], 'down-1');
  });
});

describe('nginx -t on the production configuration', { skip }, () => {
  test('the production files pass nginx -t with only addresses and paths changed', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'acgs-nginx-t-'));
    try {
      await selfSignedCert(OPENSSL!, join(tmp, 'certs'));
      // Ports 80 and 443 as in production (nginx -t does not bind); the replica names resolve only
      // inside the compose network, so they become loopback addresses.
      const conf = renderNginx({
        prefix: tmp,
        upstreams: ['127.0.0.1:8080', '127.0.0.1:8081', '127.0.0.1:8082'],
      });
      const result = await run(NGINX!, ['-t', ...nginxArgs(tmp, conf)], { timeoutMs: 15_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /test is successful/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { ADMIN_AUTH, startTestGateway } from '../helpers/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// Regression tests for the defects of the "never falls over" issue, each as a client would meet it.

const execFileAsync = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const bundle = join(root, 'policies/build/bundle.tar.gz');

/** Opens a raw connection, writes `text`, and resolves with the socket once written. */
function rawSend(port: number, text: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text, () => resolve(socket)));
    socket.on('error', reject);
  });
}

/** Resolves with everything the server sent until it closed the connection (or `timeoutMs`). */
function readUntilClose(socket: Socket, timeoutMs: number): Promise<{ text: string; closedAfterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedAfterMs: Number.POSITIVE_INFINITY });
    }, timeoutMs);
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

async function metricsText(gw: { adminUrl: string }): Promise<string> {
  return (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
}

function series(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

describe('a client that leaves at any moment costs only its own request', () => {
  let upstream: TestUpstream;
  let gw: GatewayProcess;

  before(async () => {
    // Answers after 150 ms, then streams its body for another 300 ms: clients can leave before the
    // headers, between headers and body, or mid-body.
    upstream = await startUpstream('slow', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk;');
        setTimeout(() => res.end('last chunk'), 300);
      }, 150);
    });
    gw = await spawnGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  test('hanging up right after the request, while waiting, and mid-body never takes the process down', async () => {
    const port = portOf(gw.dataUrl);
    const line = 'GET /api/ac/x HTTP/1.1\r\nHost: x\r\n\r\n';
    const leaves: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      const leaveAfter = [0, 5, 100, 200, 300][i % 5]!; // before/after the upstream's headers, mid-body
      leaves.push(
        rawSend(port, line).then(async (socket) => {
          socket.on('error', () => {});
          if (leaveAfter > 0) await sleep(leaveAfter);
          socket.destroy();
        }),
      );
    }
    await Promise.all(leaves);
    await sleep(700); // every upstream answer has been started and finished or cut by now
    const health = await request(`${gw.dataUrl}/healthz`);
    assert.equal(health.statusCode, 200, gw.output());
    await health.body.text();
    assert.doesNotMatch(gw.output(), /Unhandled|uncaught|unexpected error|fatal/i);

    const text = await waitFor('30 client-closed requests to be counted', async () => {
      const t = await metricsText(gw);
      return series(t, /acgs_http_responses_total\{class="499"\} (\d+)/) === 30 ? t : null;
    });
    // A client leaving is not the upstream's failure: nothing against the colour or its breaker.
    assert.doesNotMatch(text, /acgs_upstream_errors_total\{[^}]*\} [1-9]/);
    assert.equal(series(text, /acgs_requests_total\{service="ac",color="blue",class="5xx"\} (\d+)/), 0);
    const received = series(text, /acgs_http_requests_received_total (\d+)/);
    const ended = [...text.matchAll(/acgs_http_responses_total\{class="[^"]+"\} (\d+)/g)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    assert.equal(ended, received, 'every received request ended exactly once');
  });
});

describe('pipelined requests and clients that stop reading', () => {
  let upstream: TestUpstream;
  let gw: Gateway;
  const cancelled: string[] = [];

  before(async () => {
    // /slow answers after 300 ms; /endless streams as fast as it is read, until it is cut (more than any
    // socket buffer can hold, so a client that stops reading really stops the flow).
    upstream = await startUpstream('pipelined', (req, res) => {
      res.on('close', () => {
        if (!res.writableFinished) cancelled.push(req.url ?? '');
      });
      if (req.url?.startsWith('/endless')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 120);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      setTimeout(() => res.end(`answer for ${req.url}`), 300);
    });
    gw = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { sendTimeout: '1s' }, proxy: { timeouts: { connect: '1s', headers: '2s', body: '1s' } } },
    );
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('a client that pipelines three requests and hangs up ends all three as 499 (node never closes queued responses)', async () => {
    const received = await metricValue(gw.metrics.registry, 'acgs_http_requests_received_total');
    const socket = await rawSend(
      portOf(gw.dataUrl),
      'GET /api/ac/slow/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /api/ac/slow/2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /api/ac/slow/3 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await sleep(100);
    socket.destroy();
    await waitFor('every pipelined request to end', async () => {
      const now = await metricValue(gw.metrics.registry, 'acgs_http_requests_received_total');
      const ended = await metricValue(gw.metrics.registry, 'acgs_http_responses_total', { class: '499' });
      return now === received + 3 && ended === 3;
    });
    // None of them keeps its upstream request: each is cancelled rather than waited for.
    await waitFor(
      'the upstream requests to be cancelled',
      () => cancelled.filter((u) => u.startsWith('/slow/')).length === 3,
    );
    const errors = await metricValue(gw.metrics.registry, 'acgs_upstream_errors_total');
    assert.equal(errors, 0, "a client hanging up is never the upstream colour's error");
  });

  test('a client that stops reading an endless response is cut after sendTimeout, as a 499', async () => {
    const before = await metricValue(gw.metrics.registry, 'acgs_http_responses_total', { class: '499' });
    const socket = await rawSend(portOf(gw.dataUrl), 'GET /api/ac/endless HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads: the kernel buffers fill and the gateway cannot send any more
    socket.on('error', () => {});
    const started = Date.now();
    // A paused client does not notice its connection closing (the close sits behind unread data), so
    // what is observed is the gateway's side: the request ends as a 499 within about sendTimeout.
    await waitFor(
      'the stalled response to be cut and counted as 499',
      async () =>
        (await metricValue(gw.metrics.registry, 'acgs_http_responses_total', { class: '499' })) ===
        before + 1,
      8000,
      50,
    );
    const after = Date.now() - started;
    assert.ok(after >= 900 && after < 6000, `cut after ${after} ms (sendTimeout 1s; body timeout 1s + 1s)`);
    await waitFor('the upstream stream to be cancelled', () => cancelled.includes('/endless'));
    socket.destroy();
  });
});

describe('Expect: 100-continue', () => {
  let upstream: TestUpstream;
  let gw: Gateway;
  let file: string;

  before(async () => {
    upstream = await startUpstream('uploads');
    gw = await startTestGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
    file = join(root, 'var', `upload-${process.pid}.bin`);
    await execFileAsync('mkdir', ['-p', join(root, 'var')]);
    writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 7));
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('a 2 MB `curl -T` upload (curl sends Expect itself) reaches the upstream whole', async () => {
    const { stdout } = await execFileAsync('curl', [
      '-sS',
      '-T',
      file,
      '-H',
      'Expect: 100-continue', // curl adds it past 1 MB anyway; explicit so the test does not depend on that
      '-w',
      '\n%{http_code}',
      `${gw.dataUrl}/api/ac/upload`,
    ]);
    const [body, status] = stdout.split('\n');
    assert.equal(status, '200', stdout);
    assert.equal(JSON.parse(body!).bodyBytes, 2 * 1024 * 1024);
    assert.equal(upstream.seen.at(-1)?.headers.expect, undefined, 'the upstream never sees Expect');
    const errors = await metricValue(gw.metrics.registry, 'acgs_upstream_errors_total');
    assert.equal(errors, 0);
  });

  test('a refused upload is refused before its body is asked for', async () => {
    const socket = await rawSend(
      portOf(gw.dataUrl),
      'PUT /api/nope/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n',
    );
    const { text } = await readUntilClose(socket, 3000);
    assert.match(text, /^HTTP\/1\.1 404 /);
    assert.doesNotMatch(text, /100 Continue/);
    assert.match(text, /connection: close/i);
  });
});

describe('identity and forwarding headers belong to the gateway', () => {
  let upstream: TestUpstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startUpstream('echo');
    // No auth section at all: the strip list must not depend on the JWT stage existing.
    gw = await startTestGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('spoofed identity and forwarding headers never reach the upstream, in any spelling', async () => {
    const socket = await rawSend(
      portOf(gw.dataUrl),
      'GET /api/ac/who HTTP/1.1\r\nHost: x\r\n' +
        'x-acgs-sub: root\r\nX-ACGS-Roles: admin\r\nx-acgs_sub: root\r\nX_ACGS_ROLES: admin\r\n' +
        'X-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\n' +
        'X-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /admin\r\nX-Forwarded-Host: evil\r\n' +
        'x_custom: 1\r\nConnection: close\r\n\r\n',
    );
    const { text } = await readUntilClose(socket, 3000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    const seen = upstream.seen.at(-1)!.headers;
    for (const name of Object.keys(seen)) {
      assert.ok(!name.startsWith('x-acgs-') || name === 'x-acgs-color', `${name} reached the upstream`);
      assert.ok(!name.includes('_'), `${name} reached the upstream`);
    }
    assert.equal(seen['x-real-ip'], '127.0.0.1');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.forwarded, 'for=127.0.0.1;proto=http');
    assert.equal(seen['x-forwarded-host'], 'x');
    assert.equal(seen['x-forwarded-port'], undefined);
    assert.equal(seen['x-forwarded-prefix'], undefined);
  });

  for (const [what, head, status, code] of [
    ['no Host on HTTP/1.1', 'GET /api/ac/x HTTP/1.1\r\n', 400, 'bad_request'],
    ['two Host headers', 'GET /api/ac/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n', 400, 'bad_request'],
    [
      'an Expect other than 100-continue',
      'GET /api/ac/x HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n',
      417,
      'expectation_failed',
    ],
  ] as const) {
    test(`${what}: ${status} in the JSON shape, nothing forwarded`, async () => {
      const before = upstream.seen.length;
      const socket = await rawSend(portOf(gw.dataUrl), `${head}Connection: close\r\n\r\n`);
      const { text } = await readUntilClose(socket, 3000);
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
      assert.equal(body.error.code, code);
      assert.equal(upstream.seen.length, before);
    });
  }

  test('two Authorization headers are a 400, and nothing is forwarded', async () => {
    const before = upstream.seen.length;
    const res = await request(`${gw.dataUrl}/api/ac/x`, {
      headers: ['authorization', 'Bearer a', 'authorization', 'Bearer b'],
    });
    assert.equal(res.statusCode, 400);
    const body = (await res.body.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'bad_request');
    assert.match(body.error.message, /more than one Authorization/);
    assert.equal(upstream.seen.length, before);
  });

  test('headersWithUnderscores: reject answers 400; allow forwards them but never as identity', async () => {
    const strict = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { headersWithUnderscores: 'reject' } },
    );
    const lax = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { headersWithUnderscores: 'allow' } },
    );
    try {
      const refused = await request(`${strict.dataUrl}/api/ac/x`, { headers: { x_custom: '1' } });
      assert.equal(refused.statusCode, 400);
      await refused.body.text();
      const allowed = await request(`${lax.dataUrl}/api/ac/x`, {
        headers: { x_custom: '1', 'x-acgs_sub': 'root' },
      });
      assert.equal(allowed.statusCode, 200);
      await allowed.body.text();
      const seen = upstream.seen.at(-1)!.headers;
      assert.equal(seen.x_custom, '1');
      assert.equal(seen['x-acgs_sub'], undefined);
    } finally {
      await strict.shutdown();
      await lax.shutdown();
    }
  });

  test('a trusted proxy in front may tell us the original request; the chain is extended', async () => {
    const behindProxy = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { trustedProxies: ['127.0.0.1/32'] } },
    );
    try {
      const res = await request(`${behindProxy.dataUrl}/api/ac/x`, {
        headers: {
          'x-forwarded-for': '198.51.100.7',
          'x-forwarded-prefix': '/edge',
          forwarded: 'for=198.51.100.7;proto=https',
          'x-forwarded-proto': 'https',
        },
      });
      assert.equal(res.statusCode, 200);
      await res.body.text();
      const seen = upstream.seen.at(-1)!.headers;
      assert.equal(seen['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
      assert.equal(seen['x-real-ip'], '198.51.100.7');
      assert.equal(seen['x-forwarded-prefix'], '/edge');
      assert.equal(seen.forwarded, 'for=198.51.100.7;proto=https, for=127.0.0.1;proto=https');
    } finally {
      await behindProxy.shutdown();
    }
  });
});

describe('what the policy judges is what the upstream receives', () => {
  let upstream: TestUpstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startUpstream('judged');
    gw = await startTestGateway(
      { gs: { blue: [upstream.url], green: [upstream.url] } },
      { policy: { bundle } },
    );
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('an attack in the second copy of a repeated Referer is screened, not forwarded', async () => {
    const before = upstream.seen.length;
    const res = await request(`${gw.dataUrl}/api/gs/items`, {
      headers: [
        'referer',
        'https://example.test/ok',
        'referer',
        "https://example.test/x?q=1' UNION SELECT password FROM users--",
      ],
    });
    assert.equal(res.statusCode, 403, await res.body.text());
    assert.equal(upstream.seen.length, before);
  });

  for (const [mode, expected] of [
    ['reject', { status: 400, url: null }],
    ['unescape', { status: 200, url: '/a/b' }],
    ['keep', { status: 200, url: '/a%2Fb' }],
  ] as const) {
    test(`escapedSlashes ${mode}: routing and upstream agree on /api/gs/a%2Fb`, async () => {
      const g = await startTestGateway(
        { gs: { blue: [upstream.url], green: [upstream.url] } },
        { server: { escapedSlashes: mode } },
      );
      try {
        const res = await request(`${g.dataUrl}/api/gs/a%2Fb`);
        assert.equal(res.statusCode, expected.status);
        await res.body.text();
        if (expected.url !== null) assert.equal(upstream.seen.at(-1)?.url, expected.url);
        // An encoded slash in the service prefix routes nowhere unless it is unescaped.
        const prefixed = await request(`${g.dataUrl}/api%2Fgs/x`);
        assert.equal(prefixed.statusCode, { reject: 400, unescape: 200, keep: 404 }[mode]);
        await prefixed.body.text();
      } finally {
        await g.shutdown();
      }
    });
  }
});

describe('slow and greedy clients are bounded', () => {
  let upstream: TestUpstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startUpstream('fast');
    gw = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { headersTimeout: '1s', requestTimeout: '2s', maxConnectionsPerClient: 4 } },
    );
  });
  after(async () => {
    await gw.shutdown();
    await upstream.close();
  });

  test('half-sent headers are cut within a second or two of headersTimeout; others are not delayed', async () => {
    const slow = await rawSend(portOf(gw.dataUrl), 'GET /api/ac/x HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const cut = readUntilClose(slow, 6000);
    const started = Date.now();
    const res = await request(`${gw.dataUrl}/api/ac/fast`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
    assert.ok(Date.now() - started < 500, 'a slow client does not delay another');
    const { text, closedAfterMs } = await cut;
    assert.ok(closedAfterMs >= 900 && closedAfterMs < 2600, `closed after ${closedAfterMs} ms`);
    assert.match(text, /^HTTP\/1\.1 408 /);
  });

  test('a body that trickles in is cut within a second or two of requestTimeout', async () => {
    const slow = await rawSend(
      portOf(gw.dataUrl),
      'POST /api/ac/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc',
    );
    const timer = setInterval(() => slow.write('d'), 300);
    try {
      const { closedAfterMs } = await readUntilClose(slow, 8000);
      assert.ok(closedAfterMs >= 1500 && closedAfterMs < 4000, `closed after ${closedAfterMs} ms`);
    } finally {
      clearInterval(timer);
    }
    const health = await request(`${gw.dataUrl}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.text();
  });

  test('one address may hold at most maxConnectionsPerClient connections', async () => {
    // Its own gateway: no keep-alive connection of another test may count against the cap here.
    const capped = await startTestGateway(
      { ac: { blue: [upstream.url], green: [upstream.url] } },
      { server: { maxConnectionsPerClient: 4 } },
    );
    const port = portOf(capped.dataUrl);
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await rawSend(port, ''));
      const fifth = await rawSend(port, '');
      const { closedAfterMs } = await readUntilClose(fifth, 2000);
      assert.ok(Number.isFinite(closedAfterMs), 'the fifth connection is closed at once');
      const refused = await metricValue(capped.metrics.registry, 'acgs_connections_refused_total', {
        reason: 'per_client',
      });
      assert.equal(refused, 1);
      // Freeing one lets a new one in.
      held.pop()!.destroy();
      await sleep(50);
      const again = await rawSend(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const { text } = await readUntilClose(again, 2000);
      assert.match(text, /^HTTP\/1\.1 200 /);
    } finally {
      for (const socket of held) socket.destroy();
      await capped.shutdown();
    }
  });
});

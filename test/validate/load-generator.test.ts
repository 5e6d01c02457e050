// The load generator against real HTTP servers on loopback: the rate cap, one identity per user,
// the refusal to hammer a target that answers 429, Ctrl-C, and the end of a run not cutting requests.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { VirtualIdentity } from '../../release/validate/identities.js';
import { runLoad } from '../../release/validate/load-generator.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const servers: TestUpstream[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const users = (n: number) => Array.from({ length: n }, () => new VirtualIdentity(null));
const base = { healthEveryMs: 100, max429Rate: 0.05, signal: new AbortController().signal };

describe('load generator', () => {
  test('closed loop under the global cap; each cookie user keeps the cookie it was given', async () => {
    const cookieOf = new Map<string, number>();
    const server = await startUpstream('app', (req, res) => {
      const cookie = /uid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (cookie) cookieOf.set(cookie, (cookieOf.get(cookie) ?? 0) + 1);
      res.writeHead(
        200,
        cookie
          ? { 'x-acgs-color': 'blue' }
          : { 'set-cookie': `uid=${randomUUID()}; Path=/`, 'x-acgs-color': 'blue' },
      );
      res.end('{}');
    });
    servers.push(server);
    const result = await runLoad({
      ...base,
      target: server.url,
      paths: [{ service: 'ac', path: '/api/ac/' }],
      identities: users(20),
      durationMs: 2000,
      maxRps: 100,
      healthUrls: [`${server.url}/healthz`],
    });
    const requests = result.completions.length;
    // 100 req/s for 2 s; the cap is a hard ceiling (one slot may be in flight at the end).
    assert.ok(requests <= 202 && requests >= 150, `${requests} requests`);
    assert.equal(result.stopped, null);
    assert.equal(result.distinctIdentities, 20);
    // 20 users, 20 cookies, each sent back only by the user it was given to.
    assert.equal(cookieOf.size, 20);
    assert.equal(
      [...cookieOf.values()].reduce((a, b) => a + b, 0),
      requests - 20,
    );
    assert.ok(result.health.length >= 10 && result.health.every((h) => h.ok));
  });

  test('a target that answers mostly 429 is left alone after the first seconds', async () => {
    const server = await startUpstream('limited', (_req, res) => {
      res.writeHead(429, { 'retry-after': '10' });
      res.end();
    });
    servers.push(server);
    const started = Date.now();
    const result = await runLoad({
      ...base,
      target: server.url,
      paths: [{ service: 'ac', path: '/' }],
      identities: users(10),
      durationMs: 20_000,
      maxRps: 200,
      earlyAfterMs: 1000,
      healthUrls: [],
    });
    assert.equal(result.stopped, 'rate_limited');
    assert.ok(Date.now() - started < 5000, 'stopped within seconds, not after the 20 s run');
    const sent = server.seen.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(server.seen.length, sent, 'no request after the stop');
  });

  test('Ctrl-C stops at once; the end of a run lets in-flight requests finish', async () => {
    let aborted = 0;
    const slow = await startUpstream('slow', (req, res) => {
      req.socket.once('close', () => {
        if (!res.writableEnded) aborted++;
      });
      setTimeout(() => {
        res.writeHead(200);
        res.end('{}');
      }, 400);
    });
    servers.push(slow);
    const plan = {
      ...base,
      target: slow.url,
      paths: [{ service: 'ac', path: '/' }],
      identities: users(5),
      maxRps: 1000,
      healthUrls: [],
    };
    // A natural end: the last requests started before the 1 s mark still get their answers.
    const ended = await runLoad({ ...plan, durationMs: 1000 });
    assert.equal(ended.stopped, null);
    assert.ok(
      ended.completions.every((c) => c.status === 200),
      'no request was cut off',
    );
    assert.equal(aborted, 0);
    // Ctrl-C: everything in flight is abandoned now.
    const ctrlC = new AbortController();
    const started = Date.now();
    setTimeout(() => ctrlC.abort(), 600);
    const interrupted = await runLoad({ ...plan, durationMs: 30_000, signal: ctrlC.signal });
    assert.equal(interrupted.stopped, 'interrupted');
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assert.ok(interrupted.completions.length >= 5);
  });
});

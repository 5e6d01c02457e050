// The stage on its own behind a real node:http server: what it tells the policy about the body (read
// and inspected, or streamed and why), and what it leaves for the proxy (ctx.body).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { buildPolicyInput, type PolicyScreening } from '../../gateway/policy/input.js';
import { screeningConfigSchema } from '../../gateway/screening/config.js';
import { ScreeningEngine } from '../../gateway/screening/engine.js';
import { screeningMetrics } from '../../gateway/screening/metrics.js';
import { buildRuleset } from '../../gateway/screening/ruleset-loader.js';
import { createScreeningStage } from '../../gateway/screening/stage.js';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';
import { requestContext } from '../helpers/context.js';

interface Answer {
  screening: PolicyScreening;
  body: number | null;
}

describe('screening stage', () => {
  let server: Server;
  let url: string;
  let engine: ScreeningEngine;

  before(async () => {
    engine = new ScreeningEngine(
      buildRuleset(readFileSync(join(PACKAGE_ROOT, 'policies/screening-rules.json'), 'utf8')),
    );
    const stage = createScreeningStage({
      config: screeningConfigSchema.parse({ enabled: true, maxBodyBytes: 1024, budgetUs: 500_000 }),
      engine,
      metrics: screeningMetrics(new Registry()),
    });
    server = createServer(async (req, res) => {
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const lines: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        if (req.rawHeaders[i]!.toLowerCase() !== 'host')
          lines.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      const ctx = requestContext({
        method: req.method ?? 'GET',
        headers: req.headers,
        clientHeaders: lines,
        path: q === -1 ? raw : raw.slice(0, q),
        query: q === -1 ? '' : raw.slice(q + 1),
      });
      await stage.run(ctx, req, res);
      req.resume(); // whatever the stage left unread streams away, as it would to the upstream
      const answer: Answer = { screening: buildPolicyInput(ctx).screening!, body: ctx.body?.length ?? null };
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    engine.close();
  });

  const send = async (path: string, init: Parameters<typeof request>[1] = {}) => {
    const res = await request(`${url}${path}`, init);
    return (await res.body.json()) as Answer;
  };

  it('reports no body and no match for a plain GET', async () => {
    const a = await send('/api/ac/items?q=hello');
    assert.deepEqual(a.screening, {
      matches: [],
      categories: [],
      body_inspected: false,
      body_skipped: null,
      timed_out: false,
      truncated: false,
    });
    assert.equal(a.body, null);
  });

  it('reads and inspects a small JSON body, and keeps it for the proxy', async () => {
    const a = await send('/api/ac/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ user: { bio: '<svg onload=alert(1)>' } }),
    });
    assert.equal(a.screening.body_inspected, true);
    assert.deepEqual(a.screening.categories, ['xss']);
    assert.ok(a.screening.matches.every((m) => m.where === 'body' && m.key === 'user.bio'));
    assert.equal(a.body, Buffer.byteLength(JSON.stringify({ user: { bio: '<svg onload=alert(1)>' } })));
  });

  it('says why a body was not inspected: too large, another type, compressed, or of unknown length', async () => {
    const big = await send('/api/ac/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'y'.repeat(2000) }),
    });
    assert.equal(big.screening.body_inspected, false);
    assert.equal(big.screening.body_skipped, 'too_large');
    assert.equal(big.body, null);
    const binary = await send('/api/ac/items', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from('<script>'),
    });
    assert.equal(binary.screening.body_skipped, 'content_type');
    const gzip = await send('/api/ac/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{"a": "<script>alert(1)</script>"}'),
    });
    assert.equal(gzip.screening.body_skipped, 'encoding');
    const chunked = await send('/api/ac/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from([Buffer.from('{"a": '), Buffer.from('"b"}')]),
    });
    assert.equal(chunked.screening.body_skipped, 'unknown_length');
  });

  it('screens form bodies by field, and query names, cookies and the path', async () => {
    const form = await send('/api/ac/items', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=O%27Brien&cmd=%3B+cat+%2Fetc%2Fpasswd',
    });
    assert.ok(form.screening.matches.some((m) => m.category === 'command_injection' && m.key === 'cmd'));
    assert.ok(!form.screening.matches.some((m) => m.key === 'name'));
    const name = await send(`/api/ac/items?${encodeURIComponent('<script>alert(1)</script>')}=1`);
    assert.ok(name.screening.matches.some((m) => m.where === 'query' && m.category === 'xss'));
    const cookie = await send('/api/ac/items', { headers: { cookie: "a=1; session=x' OR '1'='1" } });
    assert.ok(cookie.screening.matches.some((m) => m.where === 'cookie' && m.key === 'session'));
    const path = await send('/api/ac/items/..%252f..%252fetc%252fpasswd');
    assert.ok(path.screening.matches.some((m) => m.where === 'path' && m.category === 'path_traversal'));
  });

  it('does not screen credentials: authorization is skipped', async () => {
    const a = await send('/api/ac/items', { headers: { authorization: "Basic ' OR 1=1 --" } });
    assert.deepEqual(a.screening.matches, []);
  });
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { resolveConfig } from '../../gateway/config/load.js';
import { type Gateway, startGateway } from '../../gateway/gateway.js';
import { ADMIN_AUTH, ADMIN_TOKEN, startTestGateway, testConfigDoc } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('admin plane', () => {
  let blue: TestUpstream;
  let green: TestUpstream;
  let gw: Gateway;
  before(async () => {
    blue = await startUpstream('blue');
    green = await startUpstream('green');
    gw = await startTestGateway({
      ac: { blue: [blue.url], green: [green.url] },
      gs: { blue: [blue.url], green: [green.url] },
    });
  });
  after(async () => {
    await gw.shutdown();
    await blue.close();
    await green.close();
  });

  async function admin(
    method: 'GET' | 'PUT',
    path: string,
    body?: unknown,
    headers: Record<string, string> = ADMIN_AUTH,
  ) {
    const res = await request(`${gw.adminUrl}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      body: text.startsWith('{') ? JSON.parse(text) : text,
    };
  }

  test('401 without a token, with a wrong token, and with a non-bearer scheme', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: `Basic ${ADMIN_TOKEN}` },
    ];
    for (const headers of attempts) {
      const res = await admin('GET', '/admin/services', undefined, headers);
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'unauthorized');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    assert.equal((await admin('GET', '/metrics', undefined, {})).status, 401);
  });

  test('GET /admin/services lists pools, weights, stable colour and breaker states', async () => {
    const res = await admin('GET', '/admin/services');
    assert.equal(res.status, 200);
    const ac = res.body.services.find((s: { name: string }) => s.name === 'ac');
    assert.equal(ac.stable, 'blue');
    assert.deepEqual(ac.weights, { blue: 100, green: 0 });
    assert.deepEqual(ac.colors.blue.upstreams, [{ url: blue.url, breaker: 'closed' }]);
    assert.equal((await admin('GET', '/admin/services/nope')).status, 404);
  });

  test('PUT weights: 400 with a clear message on anything but {"green": 0..100}', async () => {
    for (const bad of [
      { green: 101 },
      { green: -1 },
      { green: 12.5 },
      { green: '50' },
      { blue: 50 },
      { green: 10, extra: 1 },
      [],
      'not json',
    ]) {
      const res = await admin('PUT', '/admin/services/ac/weights', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.body.error.code, 'bad_request');
    }
    const res = await admin('PUT', '/admin/services/ac/weights', { green: 10, extra: 1 });
    assert.match(res.body.error.message, /"green": <integer 0\.\.100>/);
    assert.equal((await admin('PUT', '/admin/services/nope/weights', { green: 1 })).status, 404);
  });

  test('a weight change takes effect on the next request and is audited', async () => {
    const res = await admin('PUT', '/admin/services/gs/weights', { green: 100 });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.weights, { blue: 0, green: 100 });
    const next = await request(`${gw.dataUrl}/api/gs/x`);
    await next.body.dump();
    assert.equal(next.headers['x-acgs-color'], 'green');

    const audit = await admin('GET', '/admin/audit?limit=5');
    const entry = audit.body.entries[0];
    assert.equal(entry.action, 'weights.set');
    assert.equal(entry.target, 'gs');
    assert.equal(entry.actor, 'ops');
    assert.deepEqual(entry.before, { green: 0, stable: 'blue' });
    assert.deepEqual(entry.after, { green: 100, stable: 'blue' });
    assert.equal((await admin('GET', '/admin/audit?limit=0')).status, 400);

    const metrics = await admin('GET', '/metrics');
    assert.match(metrics.body, /acgs_traffic_weight_percent\{service="gs",color="green"\} 100/);
    assert.match(metrics.body, /acgs_requests_total\{service="gs",color="green",class="2xx"\} 1/);
    assert.match(metrics.body, /process_cpu_seconds_total/);
  });
});

describe('audit log file', () => {
  test('survives a restart: entries written by one run are listed by the next', async () => {
    const upstream = await startUpstream('x');
    const doc = testConfigDoc({ ac: { blue: [upstream.url], green: [upstream.url] } });
    const env = { ADMIN_TOKENS: `alice:${ADMIN_TOKEN}` };
    const first = await startGateway(resolveConfig(doc, { env }), { logger: pino({ level: 'silent' }) });
    const put = await request(`${first.adminUrl}/admin/services/ac/weights`, {
      method: 'PUT',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: '{"green":40}',
    });
    assert.equal(put.statusCode, 200);
    await put.body.dump();
    await first.shutdown();

    const file = (doc.admin as { auditLog: string }).auditLog;
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).actor, 'alice');

    const second = await startGateway(resolveConfig(doc, { env }), { logger: pino({ level: 'silent' }) });
    try {
      const res = await request(`${second.adminUrl}/admin/audit`, { headers: ADMIN_AUTH });
      const body = (await res.body.json()) as { entries: { actor: string; after: { green: number } }[] };
      assert.equal(body.entries[0]!.actor, 'alice');
      assert.equal(body.entries[0]!.after.green, 40);
    } finally {
      await second.shutdown();
      await upstream.close();
    }
  });
});

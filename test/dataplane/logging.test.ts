import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from 'undici';
import { resolveConfig } from '../../gateway/config/load.js';
import { startGateway } from '../../gateway/gateway.js';
import { ADMIN_AUTH, ADMIN_TOKEN, testConfigDoc } from '../helpers/gateway.js';
import { capturingLogger } from '../helpers/logger.js';
import { startUpstream } from '../helpers/upstream.js';

async function run(accessLog: boolean) {
  const upstream = await startUpstream('x');
  const { logger, lines } = capturingLogger('info');
  const doc = testConfigDoc(
    { ac: { blue: [upstream.url], green: [upstream.url] } },
    { server: { accessLog } },
  );
  const gw = await startGateway(resolveConfig(doc, { env: { ADMIN_TOKENS: `ops:${ADMIN_TOKEN}` } }), {
    logger,
  });
  for (let i = 0; i < 5; i++) await (await request(`${gw.dataUrl}/api/ac/item/${i}`)).body.dump();
  await (await request(`${gw.dataUrl}/api/nope`)).body.dump();
  const put = await request(`${gw.adminUrl}/admin/services/ac/weights`, {
    method: 'PUT',
    headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
    body: '{"green":30}',
  });
  await put.body.dump();
  await gw.shutdown();
  await upstream.close();
  return lines;
}

describe('logs', () => {
  test('no per-request line at info by default; start, admin changes and stop are logged', async () => {
    const lines = await run(false);
    assert.equal(lines.filter((l) => l.msg === 'access').length, 0);
    const messages = lines.map((l) => String(l.msg));
    assert.ok(messages.includes('gateway started'));
    assert.ok(messages.some((m) => m.startsWith('admin change: weights.set ac by ops')));
    assert.ok(messages.includes('gateway stopped'));
  });

  test('with server.accessLog on, one access line per request with status, colour and timing', async () => {
    const access = (await run(true)).filter((l) => l.msg === 'access');
    assert.equal(access.length, 6);
    const first = access[0]!;
    assert.equal(first.method, 'GET');
    assert.equal(first.path, '/api/ac/item/0');
    assert.equal(first.service, 'ac');
    assert.equal(first.status, 200);
    assert.equal(first.color, 'blue');
    assert.equal(typeof first.ms, 'number');
    assert.equal(access[5]!.status, 404);
  });
});

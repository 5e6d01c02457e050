import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { Pool, request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { buildPolicyBundle } from '../helpers/bundle.js';
import { ADMIN_AUTH, startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

// The whole pipeline at once: rate limit → JWT → rate limit by subject → OPA decision → sticky split → proxy,
// with the default policy built from policies/ by the real opa.

const root = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'acgs-pipeline-'));

describe('the full request pipeline', () => {
  let blue: TestUpstream;
  let green: TestUpstream;
  let gw: Gateway;
  let sign: (claims: Record<string, unknown>, opts?: { expSec?: number; alg?: string }) => Promise<string>;
  const bundle = join(work, 'bundle.tar.gz');

  before(async () => {
    buildPolicyBundle(join(root, 'policies'), bundle);
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const pem = await exportSPKI(publicKey);
    sign = async (claims, opts = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSec ?? 600))
        .sign(privateKey);
    blue = await startUpstream('blue');
    green = await startUpstream('green');
    gw = await startTestGateway(
      {
        ac: { blue: [blue.url], green: [green.url], auth: 'required' },
        gs: { blue: [blue.url], green: [green.url], auth: 'optional' },
        fv: { blue: [blue.url], green: [green.url], weights: { green: 50 } },
        pgc: { blue: [blue.url], green: [green.url] },
      },
      {
        auth: { keys: [{ kid: 'k1', algorithms: ['ES256'], publicKey: pem }] },
        rateLimit: {
          limits: [{ name: 'pgc-per-address', limit: 5, window: '1m', match: { service: 'pgc' } }],
        },
        policy: { bundle },
      },
    );
  });
  after(async () => {
    await gw.shutdown();
    await blue.close();
    await green.close();
  });

  async function call(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) {
    const res = await request(`${gw.dataUrl}${path}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers ?? {},
      body: init.body ?? null,
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      body: text.startsWith('{') ? JSON.parse(text) : text,
    };
  }

  test('a required token: 401 without one, 401 with the specific reason for a bad one, 200 with a good one', async () => {
    const none = await call('/api/ac/x');
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'unauthorized');
    assert.match(String(none.headers['www-authenticate']), /^Bearer realm=/);

    const expired = await call('/api/ac/x', {
      headers: { authorization: `Bearer ${await sign({ sub: 'u1' }, { expSec: -120 })}` },
    });
    assert.equal(expired.status, 401);
    assert.equal(
      expired.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="token expired"',
    );

    const ok = await call('/api/ac/x', { headers: { authorization: `Bearer ${await sign({ sub: 'u1' })}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.headers['x-acgs-sub'], 'u1');
  });

  test('identity headers sent by a client are stripped; only verified identity reaches the upstream', async () => {
    const spoof = { 'x-acgs-sub': 'root', 'x-acgs-roles': 'admin' };
    const anonymous = await call('/api/gs/x', { headers: spoof });
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.body.headers['x-acgs-sub'], undefined);
    assert.equal(anonymous.body.headers['x-acgs-roles'], undefined);
    const token = await sign({ sub: 'alice', roles: ['reader'] });
    const verified = await call('/api/gs/x', { headers: { ...spoof, authorization: `Bearer ${token}` } });
    assert.equal(verified.body.headers['x-acgs-sub'], 'alice');
    assert.equal(verified.body.headers['x-acgs-roles'], 'reader');
    assert.equal(verified.body.headers.authorization, `Bearer ${token}`, 'the token itself is forwarded');
  });

  test('policy: writes need the service role; reads are public', async () => {
    assert.equal((await call('/api/gs/items')).status, 200);
    const anonymous = await call('/api/gs/items', { method: 'POST', body: '{}' });
    assert.equal(anonymous.status, 401, 'a token would change the answer');
    assert.equal(anonymous.body.error.code, 'unauthorized');
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="acgs"');
    const reader = await sign({ sub: 'bob', roles: ['reader'] });
    assert.equal(
      (
        await call('/api/gs/items', {
          method: 'POST',
          body: '{}',
          headers: { authorization: `Bearer ${reader}` },
        })
      ).status,
      403,
    );
    const writer = await sign({ sub: 'carol', roles: ['gs.writer'] });
    assert.equal(
      (
        await call('/api/gs/items', {
          method: 'POST',
          body: '{}',
          headers: { authorization: `Bearer ${writer}` },
        })
      ).status,
      200,
    );
  });

  test('policy: injection payloads are refused, look-alike ordinary text passes', async () => {
    const attacks = [
      "/api/gs/search?q=1'%20OR%201=1%20--",
      '/api/gs/search?q=1%20UNION%20SELECT%20password%20FROM%20users',
      '/api/gs/search?q=%3Cscript%3Ealert(1)%3C/script%3E',
      '/api/gs/search?next=javascript:alert(1)',
      '/api/gs/run?cmd=x;%20cat%20/etc/passwd',
      '/api/gs/run?cmd=$(id)',
      '/api/gs/files?name=..%2F..%2Fetc%2Fpasswd',
    ];
    for (const path of attacks) {
      const res = await call(path);
      assert.equal(res.status, 403, path);
      assert.ok(res.body.error.message.length > 0);
    }
    const benign = [
      "/api/gs/search?q=O'Brien",
      '/api/gs/search?q=select%20a%20plan',
      '/api/gs/search?q=rock%20%26%20roll',
      '/api/gs/search?q=1%20%2B%201%20%3D%202',
    ];
    for (const path of benign) assert.equal((await call(path)).status, 200, path);
  });

  test('the colour override is honoured only when the policy allows it', async () => {
    const anonymous = await call('/api/gs/x', { headers: { 'x-acgs-color': 'green' } });
    assert.equal(anonymous.headers['x-acgs-color'], 'blue');
    assert.equal(anonymous.headers['x-acgs-color-override'], 'refused');
    const tester = await sign({ sub: 'tess', roles: ['tester'] });
    const allowed = await call('/api/gs/x', {
      headers: { 'x-acgs-color': 'green', authorization: `Bearer ${tester}` },
    });
    assert.equal(allowed.headers['x-acgs-color'], 'green');
    assert.equal(allowed.body.name, 'green');
  });

  test('the verified sub is the sticky key: one user, one colour, no cookie needed', async () => {
    for (const sub of ['u-1', 'u-2', 'u-3', 'u-4']) {
      const token = await sign({ sub });
      const colors = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const res = await call('/api/fv/x', { headers: { authorization: `Bearer ${token}` } });
        colors.add(String(res.headers['x-acgs-color']));
        assert.equal(res.headers['set-cookie'], undefined);
      }
      assert.equal(colors.size, 1, `${sub} saw ${[...colors].join(',')}`);
    }
  });

  test('rate limit: RateLimit-* on every limited response, then 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | null = null;
    for (let i = 0; i < 7; i++) {
      last = await call('/api/pgc/x');
      statuses.push(last.status);
      if (last.status === 200) {
        assert.equal(last.headers['ratelimit-limit'], '5');
        assert.equal(last.headers['ratelimit-remaining'], String(4 - i));
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    assert.equal(last!.body.error.code, 'rate_limited');
    assert.ok(Number(last!.headers['retry-after']) >= 1);
    assert.equal(last!.headers['ratelimit-remaining'], '0');
    assert.equal(
      (await call('/api/gs/x')).headers['ratelimit-limit'],
      undefined,
      'unlimited routes carry no RateLimit headers',
    );
  });

  test('admin JWTs: an operator may set weights but not push bundles; other roles are not admins', async () => {
    const admin = async (
      method: 'GET' | 'PUT',
      path: string,
      token: string,
      body?: string,
      type = 'application/json',
    ) => {
      const res = await request(`${gw.adminUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body: body ?? null,
      });
      const json = (await res.body.json()) as { error?: { code: string } };
      return { status: res.statusCode, json };
    };
    const operator = await sign({ sub: 'olga', roles: ['operator'] });
    assert.equal((await admin('GET', '/admin/services', operator)).status, 200);
    assert.equal((await admin('PUT', '/admin/services/pgc/weights', operator, '{"green":5}')).status, 200);
    const push = await admin('PUT', '/admin/policy', operator, 'x', 'application/gzip');
    assert.equal(push.status, 403);
    assert.equal(push.json.error?.code, 'forbidden');
    const audit = await request(`${gw.adminUrl}/admin/audit?target=pgc`, { headers: ADMIN_AUTH });
    const entries = ((await audit.body.json()) as { entries: { actor: string }[] }).entries;
    assert.equal(entries[0]!.actor, 'jwt:olga');

    const user = await sign({ sub: 'ursula', roles: ['gs.writer'] });
    assert.equal((await admin('GET', '/admin/services', user)).status, 401);
    const expired = await sign({ sub: 'olga', roles: ['operator'] }, { expSec: -120 });
    assert.equal((await admin('GET', '/admin/services', expired)).status, 401);
  });

  test('a bad bundle upload is refused with the reason and the active policy stays', async () => {
    const before = await request(`${gw.adminUrl}/admin/policy`, { headers: ADMIN_AUTH });
    const active = ((await before.body.json()) as { revision: string }).revision;
    const upload = async (body: Buffer) => {
      const res = await request(`${gw.adminUrl}/admin/policy`, {
        method: 'PUT',
        headers: { ...ADMIN_AUTH, 'content-type': 'application/gzip' },
        body,
      });
      return { status: res.statusCode, body: (await res.body.json()) as { error: { message: string } } };
    };
    const corrupt = await upload(Buffer.from('definitely not a gzip stream'));
    assert.equal(corrupt.status, 400);
    const after = await request(`${gw.adminUrl}/admin/policy`, { headers: ADMIN_AUTH });
    const state = (await after.body.json()) as { revision: string; lastError: unknown };
    assert.equal(state.revision, active);
    assert.ok(state.lastError);
    assert.equal((await call('/api/gs/x')).status, 200);
  });

  test('hot swap under load: a new bundle goes live with zero failed requests', async () => {
    // A second bundle that differs in data: ac.writer may now also PATCH via a new role.
    const dir = join(work, 'policies-v2');
    cpSync(join(root, 'policies'), dir, { recursive: true, filter: (src) => !src.includes('/build') });
    const data = JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8'));
    data.acgs.config.services.gs.roles['gs.editor'] = ['PATCH'];
    writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
    const v2 = join(work, 'bundle-v2.tar.gz');
    buildPolicyBundle(dir, v2);

    const pool = new Pool(gw.dataUrl, { connections: 16 });
    let ok = 0;
    const failed: string[] = [];
    let stop = false;
    const worker = async (n: number) => {
      for (let i = 0; !stop && i < 5000; i++) {
        try {
          const res = await pool.request({ path: `/api/gs/load/${n}/${i}?q=ok`, method: 'GET' });
          await res.body.dump();
          if (res.statusCode === 200) ok++;
          else failed.push(String(res.statusCode));
        } catch (err) {
          failed.push((err as Error).message);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, n) => worker(n)));
    const until = async (count: number) => {
      for (let waited = 0; ok < count && waited < 30_000; waited += 20)
        await new Promise((r) => setTimeout(r, 20));
    };
    await until(100);
    const res = await request(`${gw.adminUrl}/admin/policy`, {
      method: 'PUT',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/gzip' },
      body: readFileSync(v2),
    });
    const swapped = (await res.body.json()) as { revision: string };
    assert.equal(res.statusCode, 200, JSON.stringify(swapped));
    await until(ok + 100);
    stop = true;
    await load;
    await pool.close();
    assert.ok(ok >= 200, `${ok} requests answered around the swap`);
    assert.deepEqual(failed, []);

    const editor = await sign({ sub: 'ed', roles: ['gs.editor'] });
    assert.equal(
      (
        await call('/api/gs/doc', {
          method: 'PATCH',
          body: '{}',
          headers: { authorization: `Bearer ${editor}` },
        })
      ).status,
      200,
    );
    const audit = await request(`${gw.adminUrl}/admin/audit?action=policy`, { headers: ADMIN_AUTH });
    const entries = ((await audit.body.json()) as { entries: { action: string }[] }).entries;
    assert.ok(entries.length >= 1);
  });
});

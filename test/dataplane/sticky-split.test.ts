import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { BUCKETS, bucketOf, isGreenBucket } from '../../gateway/routing/sticky.js';
import { newStickyId, readCookie } from '../../gateway/routing/sticky-cookie.js';
import { ADMIN_AUTH, startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('sticky split (pure)', () => {
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}@example.com`);

  test('10 000 distinct users at 25 % land within ±1 % of 25 %', () => {
    const green = users.filter((u) => isGreenBucket(bucketOf(u), 25)).length;
    assert.ok(Math.abs(green / users.length - 0.25) <= 0.01, `green share ${green / users.length}`);
  });

  test('every weight from 0 to 100 is within ±1 %', () => {
    for (let w = 0; w <= 100; w += 5) {
      const share = users.filter((u) => isGreenBucket(bucketOf(u), w)).length / users.length;
      assert.ok(Math.abs(share - w / 100) <= 0.01, `weight ${w}: share ${share}`);
    }
  });

  test('raising the weight moves users only from blue to green', () => {
    const steps = [0, 10, 25, 50, 75, 100];
    for (let i = 1; i < steps.length; i++) {
      for (const u of users) {
        if (isGreenBucket(bucketOf(u), steps[i - 1]!))
          assert.ok(isGreenBucket(bucketOf(u), steps[i]!), `${u} moved back to blue`);
      }
    }
  });

  test('sticky ids: 16 random bytes each, URL-safe, never repeated across pool refills', () => {
    const ids = Array.from({ length: 2000 }, () => newStickyId()); // ~8 refills of the 256-id pool
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) {
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(readCookie(`a=1; acgs_uid=${id}`, 'acgs_uid'), id);
    }
    // Random, not a counter: the bytes of the ids are spread over all values.
    const bytes = Buffer.concat(ids.map((id) => Buffer.from(id, 'base64url')));
    const seen = new Set(bytes);
    assert.equal(seen.size, 256);
  });

  test('buckets are in range and stable', () => {
    for (const u of users.slice(0, 100)) {
      const b = bucketOf(u);
      assert.ok(b >= 0 && b < BUCKETS);
      assert.equal(bucketOf(u), b);
    }
  });
});

describe('sticky split through the gateway', () => {
  let blue: TestUpstream;
  let green: TestUpstream;
  let gw: Gateway;
  before(async () => {
    blue = await startUpstream('blue');
    green = await startUpstream('green');
    gw = await startTestGateway({ ac: { blue: [blue.url], green: [green.url], weights: { green: 25 } } });
  });
  after(async () => {
    await gw.shutdown();
    await blue.close();
    await green.close();
  });

  async function colorFor(cookie: string | null): Promise<{ color: string; setCookie: string | undefined }> {
    const res = await request(`${gw.dataUrl}/api/ac/x`, { headers: cookie ? { cookie } : {} });
    await res.body.dump();
    return {
      color: String(res.headers['x-acgs-color']),
      setCookie: res.headers['set-cookie'] as string | undefined,
    };
  }

  test('a first visit gets a sticky cookie and keeps its colour on every later request', async () => {
    const first = await colorFor(null);
    assert.match(
      String(first.setCookie),
      /^acgs_uid=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/,
    );
    const cookie = String(first.setCookie).split(';')[0]!;
    for (let i = 0; i < 10; i++) {
      const next = await colorFor(cookie);
      assert.equal(next.color, first.color);
      assert.equal(next.setCookie, undefined);
    }
  });

  test('over 2 000 cookie users the gateway assigns exactly the hashed buckets, and raising the weight moves nobody back to blue', async () => {
    const cookies = Array.from({ length: 2000 }, (_, i) => `acgs_uid=user${String(i).padStart(8, '0')}`);
    const at25 = new Map<string, string>();
    for (let i = 0; i < cookies.length; i += 50) {
      const batch = cookies.slice(i, i + 50);
      const colors = await Promise.all(batch.map((c) => colorFor(c)));
      batch.forEach((c, j) => {
        at25.set(c, colors[j]!.color);
      });
    }
    const greens = [...at25.values()].filter((c) => c === 'green').length;
    const expected = cookies.filter((c) => isGreenBucket(bucketOf(c.slice(9)), 25)).length;
    assert.equal(greens, expected, 'the gateway assigns exactly the buckets the hash says');
    assert.ok(Math.abs(greens / cookies.length - 0.25) <= 0.03, `share ${greens / cookies.length}`);

    const res = await request(`${gw.adminUrl}/admin/services/ac/weights`, {
      method: 'PUT',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ green: 50 }),
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    for (let i = 0; i < cookies.length; i += 50) {
      const batch = cookies.slice(i, i + 50);
      const colors = await Promise.all(batch.map((c) => colorFor(c)));
      batch.forEach((c, j) => {
        if (at25.get(c) === 'green') assert.equal(colors[j]!.color, 'green', `${c} moved green → blue`);
      });
    }
  });
});

// Keys published by an identity provider through a JWKS URL (a real HTTP server on 127.0.0.1): rotation
// is picked up, a flood of unknown kids cannot hammer the provider, and an outage keeps the last good set.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import {
  admit,
  bearer,
  claims,
  createClock,
  ecKeyPair,
  type JwksServer,
  makeStage,
  refusalReason,
  rsaKeyPair,
  sign,
  startJwksServer,
} from './helpers.js';

const keyA = ecKeyPair();
const keyB = ecKeyPair();
const COOLDOWN = 30_000;

const servers: JwksServer[] = [];
const stages: { close(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(stages.map((s) => s.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function setup(initial: Parameters<typeof startJwksServer>[0], extra: object = {}) {
  const server = await startJwksServer(initial);
  servers.push(server);
  const clock = createClock();
  const fixture = makeStage(
    { jwksUrl: server.url, jwksCooldownMs: COOLDOWN, ...extra },
    { ac: 'required' },
    clock,
  );
  stages.push(fixture.stage);
  await fixture.stage.ready();
  return { server, ...fixture };
}

/** Each call a distinct token (distinct jti), so the verified-token cache never answers for it. */
const tokenFrom = (key: ReturnType<typeof ecKeyPair>, kid: string | undefined, sub = 'user-1') =>
  sign(claims({ sub, jti: randomUUID() }), key.privateKey, { alg: 'ES256', ...(kid ? { kid } : {}) });

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'condition not reached');
}

describe('JWKS rotation', () => {
  test('a new kid is picked up, a dropped kid stops working at the next refetch', async () => {
    const { server, clock, stage } = await setup([{ kid: 'a', publicKey: keyA.publicKey }]);
    assert.equal(server.requests, 1);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');

    // The provider publishes B next to A; a token signed with B triggers one refetch.
    await server.setKeys([
      { kid: 'a', publicKey: keyA.publicKey },
      { kid: 'b', publicKey: keyB.publicKey },
    ]);
    clock.advance(COOLDOWN);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyB, 'b', 'user-b')))).claims?.sub, 'user-b');
    assert.equal(server.requests, 2);
    // Old keys keep working as long as the set has them.
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');

    // The provider drops A. Until the gateway refetches, A still verifies; afterwards it does not.
    await server.setKeys([{ kid: 'b', publicKey: keyB.publicKey }]);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
    clock.advance(COOLDOWN);
    assert.equal(
      await refusalReason(stage, await tokenFrom(keyA, 'unknown-kid')),
      'no key matches the token kid',
    );
    assert.equal(server.requests, 3);
    assert.equal(await refusalReason(stage, await tokenFrom(keyA, 'a')), 'no key matches the token kid');
    assert.equal((await admit(stage, bearer(await tokenFrom(keyB, 'b', 'user-b')))).claims?.sub, 'user-b');
  });

  test('a new kid inside the cooldown is refused without a fetch', async () => {
    const { server, stage } = await setup([{ kid: 'a', publicKey: keyA.publicKey }]);
    await server.setKeys([{ kid: 'b', publicKey: keyB.publicKey }]);
    assert.equal(await refusalReason(stage, await tokenFrom(keyB, 'b')), 'no key matches the token kid');
    assert.equal(server.requests, 1);
  });

  test('the set is refreshed in the background once older than its max age', async () => {
    const { server, clock, stage } = await setup([{ kid: 'a', publicKey: keyA.publicKey }], {
      jwksCacheMaxAgeMs: 60_000,
    });
    await server.setKeys([{ kid: 'b', publicKey: keyB.publicKey }]);
    clock.advance(61_000);
    // The stale set still answers this request; the refresh runs behind it.
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
    await until(() => server.requests === 2);
    // Kid b is found either in the installed new set or by joining the refresh still in flight.
    assert.equal((await admit(stage, bearer(await tokenFrom(keyB, 'b', 'user-b')))).claims?.sub, 'user-b');
  });

  test('tokens without kid are checked against every key of the set', async () => {
    const { stage } = await setup([
      { kid: 'a', publicKey: keyA.publicKey },
      { kid: 'b', publicKey: keyB.publicKey },
    ]);
    assert.equal(
      (await admit(stage, bearer(await tokenFrom(keyB, undefined, 'no-kid')))).claims?.sub,
      'no-kid',
    );
  });

  test("a JWK's alg narrows what its key may verify", async () => {
    const rsa = rsaKeyPair();
    const { stage } = await setup([{ kid: 'r', publicKey: rsa.publicKey, alg: 'RS256' }]);
    const ps = await sign(claims(), rsa.privateKey, { alg: 'PS256', kid: 'r' });
    assert.equal(await refusalReason(stage, ps), 'algorithm not allowed');
    const rs = await sign(claims(), rsa.privateKey, { alg: 'RS256', kid: 'r' });
    assert.equal((await admit(stage, bearer(rs))).claims?.sub, 'user-1');
  });
});

describe('a flood of unknown kids', () => {
  test('50 random kids cause at most one refetch per cooldown interval', async () => {
    const { server, clock, stage } = await setup([{ kid: 'a', publicKey: keyA.publicKey }]);
    const flood = async () => {
      const tokens = await Promise.all(Array.from({ length: 50 }, () => tokenFrom(keyA, randomUUID())));
      const reasons = await Promise.all(tokens.map((token) => refusalReason(stage, token)));
      assert.ok(reasons.every((reason) => reason === 'no key matches the token kid'));
    };

    await flood(); // inside the cooldown of the first fetch
    assert.equal(server.requests, 1);
    clock.advance(COOLDOWN);
    await flood();
    assert.equal(server.requests, 2);
    await flood(); // same interval: nothing more
    assert.equal(server.requests, 2);
    clock.advance(COOLDOWN - 1);
    await flood();
    assert.equal(server.requests, 2);
    clock.advance(1);
    await flood();
    assert.equal(server.requests, 3);
    // Valid traffic was never disturbed.
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
  });
});

describe('JWKS outage', () => {
  test('the JWKS server going down keeps the last good set', async () => {
    const { server, clock, stage } = await setup([{ kid: 'a', publicKey: keyA.publicKey }]);
    server.setDown(true);
    clock.advance(COOLDOWN);
    assert.equal(await refusalReason(stage, await tokenFrom(keyA, 'gone')), 'no key matches the token kid');
    assert.equal(server.requests, 2);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
    // Past the max age too: the refresh fails in the background, the old keys still verify.
    clock.advance(700_000);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
    await until(() => server.requests === 3);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
  });

  test('a set that is down at start is fetched once it is back (on the next unknown kid past the cooldown)', async () => {
    const server = await startJwksServer([{ kid: 'a', publicKey: keyA.publicKey }]);
    servers.push(server);
    server.setDown(true);
    const clock = createClock();
    const { stage } = makeStage({ jwksUrl: server.url, jwksCooldownMs: COOLDOWN }, { ac: 'required' }, clock);
    stages.push(stage);
    await stage.ready();
    assert.equal(await refusalReason(stage, await tokenFrom(keyA, 'a')), 'no key matches the token kid');
    server.setDown(false);
    clock.advance(COOLDOWN);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
    assert.equal(server.requests, 2);
  });

  test('an empty key set is treated as a failed fetch', async () => {
    const { server, clock, stage } = await setup([{ kid: 'a', publicKey: keyA.publicKey }]);
    await server.setKeys([]);
    clock.advance(COOLDOWN);
    await refusalReason(stage, await tokenFrom(keyA, 'other'));
    assert.equal(server.requests, 2);
    assert.equal((await admit(stage, bearer(await tokenFrom(keyA, 'a')))).claims?.sub, 'user-1');
  });
});

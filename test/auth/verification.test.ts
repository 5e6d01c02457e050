// A client presents a bearer token on a route that requires one. Each way a token can be wrong is refused
// with 401 invalid_token and its own error_description; each supported algorithm family is accepted.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CompactEncrypt, type JWTPayload } from 'jose';
import {
  admit,
  bearer,
  claims,
  ecKeyPair,
  ed25519KeyPair,
  HS_SECRET,
  handmadeHs256,
  makeStage,
  refusal,
  refusalReason,
  rsaKeyPair,
  secretBytes,
  sign,
  T0,
  unsecured,
} from './helpers.js';

const rsa = rsaKeyPair();
const otherRsa = rsaKeyPair();
const ec = ecKeyPair();
const ed = ed25519KeyPair();

const { stage } = makeStage({
  keys: [
    { kid: 'hs', secret: HS_SECRET, algorithms: ['HS256', 'HS384', 'HS512'] },
    { kid: 'rsa', publicKey: rsa.publicPem, algorithms: ['RS256', 'PS256'] },
    { kid: 'ec', publicKey: ec.publicPem, algorithms: ['ES256'] },
    { kid: 'ed', publicKey: ed.publicPem, algorithms: ['EdDSA'] },
  ],
  issuer: 'https://issuer.example',
  audience: ['acgs', 'acgs-admin'],
});

const good = (extra = {}) => claims({ iss: 'https://issuer.example', aud: 'acgs', ...extra });

describe('a valid token of every algorithm family is accepted', () => {
  const cases = [
    ['HS256', () => sign(good(), secretBytes(), { alg: 'HS256', kid: 'hs' })],
    ['HS512', () => sign(good(), secretBytes(), { alg: 'HS512', kid: 'hs' })],
    ['RS256', () => sign(good(), rsa.privateKey, { alg: 'RS256', kid: 'rsa' })],
    ['PS256', () => sign(good(), rsa.privateKey, { alg: 'PS256', kid: 'rsa' })],
    ['ES256', () => sign(good(), ec.privateKey, { alg: 'ES256', kid: 'ec' })],
    ['EdDSA', () => sign(good(), ed.privateKey, { alg: 'EdDSA', kid: 'ed' })],
  ] as const;
  for (const [alg, makeToken] of cases) {
    test(alg, async () => {
      const ctx = await admit(stage, bearer(await makeToken()));
      assert.equal(ctx.claims?.sub, 'user-1');
      assert.equal(ctx.claims?.sub, 'user-1');
    });
  }

  test('a token without kid is matched against every key allowing its alg', async () => {
    const ctx = await admit(stage, bearer(await sign(good(), ec.privateKey, { alg: 'ES256' })));
    assert.equal(ctx.claims?.sub, 'user-1');
  });

  test('the audience may be any of the configured ones, and aud may be a list', async () => {
    const token = await sign(good({ aud: ['other', 'acgs-admin'] }), ec.privateKey, {
      alg: 'ES256',
      kid: 'ec',
    });
    assert.equal((await admit(stage, bearer(token))).claims?.sub, 'user-1');
  });
});

describe('every rejection reason has its own answer', () => {
  test('expired', async () => {
    const token = await sign(good({ exp: T0 - 60 }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    assert.equal(await refusalReason(stage, token), 'token expired');
  });

  test('not yet valid (nbf beyond the tolerance)', async () => {
    const token = await sign(good({ nbf: T0 + 31 }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    assert.equal(await refusalReason(stage, token), 'token is not yet valid');
  });

  test('bad signature (signed by a different RSA key under the same kid)', async () => {
    const token = await sign(good(), otherRsa.privateKey, { alg: 'RS256', kid: 'rsa' });
    assert.equal(await refusalReason(stage, token), 'bad signature');
  });

  test('bad signature (payload altered after signing)', async () => {
    const token = await sign(good(), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify(good({ sub: 'admin' }))).toString('base64url');
    assert.equal(await refusalReason(stage, `${h}.${forged}.${s}`), 'bad signature');
  });

  test('wrong issuer', async () => {
    const token = await sign(good({ iss: 'https://evil.example' }), ec.privateKey, {
      alg: 'ES256',
      kid: 'ec',
    });
    assert.equal(await refusalReason(stage, token), 'wrong issuer');
  });

  test('missing issuer counts as wrong issuer', async () => {
    const token = await sign(good({ iss: undefined }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    assert.equal(await refusalReason(stage, token), 'wrong issuer');
  });

  test('wrong audience', async () => {
    const token = await sign(good({ aud: 'billing' }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    assert.equal(await refusalReason(stage, token), 'wrong audience');
  });

  test('algorithm not allowed for the key (RS512 on a key allowing RS256 and PS256)', async () => {
    const token = await sign(good(), rsa.privateKey, { alg: 'RS512', kid: 'rsa' });
    assert.equal(await refusalReason(stage, token), 'algorithm not allowed');
  });

  test('alg: none is never allowed', async () => {
    assert.equal(await refusalReason(stage, unsecured(good())), 'algorithm not allowed');
  });

  test('HS256 keyed with the RSA public key PEM is refused (key confusion)', async () => {
    const { stage: rsaOnly } = makeStage({ keys: [{ publicKey: rsa.publicPem, algorithms: ['RS256'] }] });
    const forged = handmadeHs256({ alg: 'HS256', typ: 'JWT' }, claims({ sub: 'admin' }), rsa.publicPem);
    assert.equal(await refusalReason(rsaOnly, forged), 'algorithm not allowed');
    const withKid = handmadeHs256({ alg: 'HS256', kid: 'rsa' }, good({ sub: 'admin' }), rsa.publicPem);
    assert.equal(await refusalReason(stage, withKid), 'algorithm not allowed');
  });

  test('malformed: not three parts, bad base64, header not JSON, empty token', async () => {
    assert.equal(await refusalReason(stage, 'not-a-jwt'), 'token is malformed');
    assert.equal(await refusalReason(stage, 'a.b'), 'token is malformed');
    assert.equal(await refusalReason(stage, '!!!.???.***'), 'token is malformed');
    const notJson = `${Buffer.from('hello').toString('base64url')}.e30.c2ln`;
    assert.equal(await refusalReason(stage, notJson), 'token is malformed');
    assert.equal(await refusalReason(stage, ''), 'token is malformed');
  });

  test('malformed: correctly signed claims that are not a JSON object', async () => {
    const token = handmadeHs256({ alg: 'HS256', kid: 'hs' }, [1, 2] as unknown as JWTPayload, HS_SECRET);
    assert.equal(await refusalReason(stage, token), 'token is malformed');
  });

  test('malformed: a non-numeric exp', async () => {
    const token = handmadeHs256(
      { alg: 'HS256', kid: 'hs' },
      good({ exp: 'tomorrow' as unknown as number }),
      HS_SECRET,
    );
    assert.equal(await refusalReason(stage, token), 'token is malformed');
  });

  test('a JWE (five parts) is not a compact JWS', async () => {
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(good())))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(new Uint8Array(32));
    assert.equal(jwe.split('.').length, 5);
    assert.equal(await refusalReason(stage, jwe), 'token is not a compact JWS');
  });

  test('a token over the maximum length', async () => {
    const { stage: small } = makeStage({
      keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }],
      maxTokenLength: 256,
    });
    const token = await sign(claims({ pad: 'x'.repeat(300) }), secretBytes(), { alg: 'HS256' });
    assert.equal(await refusalReason(small, token), 'token is too long');
    const short = await sign(claims(), secretBytes(), { alg: 'HS256' });
    assert.equal((await admit(small, bearer(short))).claims?.sub, 'user-1');
  });

  test('an unknown crit header parameter', async () => {
    const token = handmadeHs256(
      { alg: 'HS256', kid: 'hs', crit: ['exp-ext'], 'exp-ext': 1 },
      good(),
      HS_SECRET,
    );
    assert.equal(await refusalReason(stage, token), 'unsupported critical header parameter');
  });

  test('an unknown kid', async () => {
    const token = await sign(good(), ec.privateKey, { alg: 'ES256', kid: 'nobody' });
    assert.equal(await refusalReason(stage, token), 'no key matches the token kid');
  });

  test('a non-string sub', async () => {
    const token = handmadeHs256(
      { alg: 'HS256', kid: 'hs' },
      good({ sub: 42 as unknown as string }),
      HS_SECRET,
    );
    assert.equal(await refusalReason(stage, token), 'token is malformed');
  });

  test('every refusal is a 401 invalid_token with the RFC 6750 challenge', async () => {
    const token = await sign(good({ exp: T0 - 60 }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    const answer = await refusal(stage, bearer(token));
    assert.equal(answer.status, 401);
    assert.equal(answer.code, 'invalid_token');
    assert.equal(answer.challenge, 'Bearer error="invalid_token", error_description="token expired"');
    assert.match(answer.message, /token expired/);
  });
});

describe('clock tolerance boundary (30 s by default)', () => {
  const es = (extra: object) => sign(good(extra), ec.privateKey, { alg: 'ES256', kid: 'ec' });

  test('exp 29 s ago is still accepted, 30 s ago is expired', async () => {
    assert.equal((await admit(stage, bearer(await es({ exp: T0 - 29 })))).claims?.sub, 'user-1');
    assert.equal(await refusalReason(stage, await es({ exp: T0 - 30 })), 'token expired');
  });

  test('nbf 30 s ahead is accepted, 31 s ahead is not yet valid', async () => {
    assert.equal((await admit(stage, bearer(await es({ nbf: T0 + 30 })))).claims?.sub, 'user-1');
    assert.equal(await refusalReason(stage, await es({ nbf: T0 + 31 })), 'token is not yet valid');
  });

  test('a tolerance of 0 refuses a token expiring this very second', async () => {
    const { stage: strict } = makeStage({
      keys: [{ kid: 'ec', publicKey: ec.publicPem, algorithms: ['ES256'] }],
      clockToleranceSec: 0,
    });
    const token = await sign(claims({ exp: T0 }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    assert.equal(await refusalReason(strict, token), 'token expired');
    const later = await sign(claims({ exp: T0 + 1 }), ec.privateKey, { alg: 'ES256', kid: 'ec' });
    assert.equal((await admit(strict, bearer(later))).claims?.sub, 'user-1');
  });
});

describe('key rotation with static keys', () => {
  test('two HS keys without kid: a token from either is accepted, from neither is a bad signature', async () => {
    const oldSecret = 'old-secret-old-secret-old-secret-old-secret';
    const newSecret = 'new-secret-new-secret-new-secret-new-secret';
    const { stage: rotating } = makeStage({
      keys: [
        { secret: newSecret, algorithms: ['HS256'] },
        { secret: oldSecret, algorithms: ['HS256'] },
      ],
    });
    for (const secret of [oldSecret, newSecret]) {
      const token = await sign(claims(), secretBytes(secret), { alg: 'HS256' });
      assert.equal((await admit(rotating, bearer(token))).claims?.sub, 'user-1');
    }
    const stranger = await sign(claims(), secretBytes('x'.repeat(40)), { alg: 'HS256' });
    assert.equal(await refusalReason(rotating, stranger), 'bad signature');
  });
});

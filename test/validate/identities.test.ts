// The identities of the load (tokens file, minted tokens, cookie jars) and the forged tokens of the JWT
// probes: each must be exactly the attack it is named after, or the jwt score means nothing.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import {
  buildIdentities,
  readTokens,
  signingFromEnv,
  tokenSource,
  VirtualIdentity,
} from '../../release/validate/identities.js';
import { probeToken } from '../../release/validate/probe-tokens.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signer = tokenSource({
  key: pem,
  alg: 'RS256',
  kid: 'k1',
  issuer: 'https://idp.test',
  audience: 'acgs',
});
const now = () => Math.floor(Date.now() / 1000);

describe('validate identities and probe tokens', () => {
  test('signing settings come from the environment; a PEM key needs its algorithm', () => {
    assert.equal(signingFromEnv({}), null);
    assert.equal(
      signingFromEnv({ VALIDATE_JWT_KEY: 'a-long-enough-shared-secret-for-hs256!!' })!.alg,
      'HS256',
    );
    assert.throws(() => signingFromEnv({ VALIDATE_JWT_KEY: pem }), /VALIDATE_JWT_ALG/);
    assert.equal(signingFromEnv({ VALIDATE_JWT_KEY: pem, VALIDATE_JWT_ALG: 'RS256' })!.alg, 'RS256');
  });

  test('every minted user is its own subject, verifiable with the public key', async () => {
    const users = await buildIdentities(3, { tokens: null, signer });
    const key = await importSPKI(publicPem, 'RS256');
    const subs = [];
    for (const u of users) {
      const token = u.headers().authorization!.slice('Bearer '.length);
      const { payload } = await jwtVerify(token, key, { issuer: 'https://idp.test', audience: 'acgs' });
      subs.push(payload.sub);
    }
    assert.deepEqual(subs, ['validate-user-1', 'validate-user-2', 'validate-user-3']);
  });

  test('a tokens file is used round robin; without tokens each user is a cookie jar', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'acgs-tokens-')), 'tokens.txt');
    writeFileSync(file, '# one per line\ntok-a\n\n tok-b \n');
    const tokens = await readTokens(file);
    assert.deepEqual(tokens, ['tok-a', 'tok-b']);
    const users = await buildIdentities(3, { tokens, signer: null });
    assert.deepEqual(
      users.map((u) => u.headers().authorization),
      ['Bearer tok-a', 'Bearer tok-b', 'Bearer tok-a'],
    );
    const jar = new VirtualIdentity(null);
    assert.deepEqual(jar.headers(), {});
    jar.remember(['acgs_uid=u1; Path=/; HttpOnly', 'theme=dark']);
    jar.remember('acgs_uid=u2; Max-Age=60');
    assert.deepEqual(jar.headers(), { cookie: 'acgs_uid=u2; theme=dark' });
  });

  test('each forged token is the attack it is named after', async () => {
    const none = (await probeToken('alg_none', signer))!;
    assert.equal(decodeProtectedHeader(none).alg, 'none');
    assert.ok(none.endsWith('.'), 'no signature');
    assert.equal(decodeProtectedHeader((await probeToken('alg_none_case', signer))!).alg, 'None');

    // Algorithm confusion: a valid HS256 MAC whose key is the RSA public key's PEM text.
    const confused = (await probeToken('hs_confusion', signer))!;
    const [h, p, sig] = confused.split('.');
    assert.equal(decodeProtectedHeader(confused).alg, 'HS256');
    assert.equal(createHmac('sha256', publicPem).update(`${h}.${p}`).digest('base64url'), sig);

    const key = await importSPKI(publicPem, 'RS256');
    const rejected = async (kind: Parameters<typeof probeToken>[0], why: RegExp) => {
      const token = (await probeToken(kind, signer))!;
      await assert.rejects(
        jwtVerify(token, key, { issuer: 'https://idp.test', audience: 'acgs' }),
        why,
        kind,
      );
      return token;
    };
    await rejected('bad_signature', /signature verification failed/);
    await rejected('foreign_key', /signature verification failed/);
    await rejected('tampered_claims', /signature verification failed/);
    assert.deepEqual(decodeJwt((await probeToken('tampered_claims', signer))!).roles, ['admin']);
    assert.ok(decodeJwt(await rejected('expired', /"exp" claim timestamp check failed/)).exp! < now());
    assert.ok(decodeJwt(await rejected('not_yet_valid', /"nbf" claim timestamp check failed/)).nbf! > now());
    await rejected('wrong_issuer', /unexpected "iss" claim value/);
    await rejected('wrong_audience', /unexpected "aud" claim value/);
    assert.ok((await probeToken('oversized', signer))!.length > 64 * 1024);
    assert.equal(
      decodeProtectedHeader((await probeToken('jku_header', signer))!).jku,
      'http://127.0.0.1:1/jwks.json',
    );
    // Without the signing key, the probes that need it are skipped, not faked.
    assert.equal(await probeToken('expired', null), null);
    assert.equal(await probeToken('bad_signature', null), null);
    assert.notEqual(await probeToken('alg_none', null), null);
  });
});

// An operator configures the JWT stage through the `auth:` section and JWT_* environment variables; a
// mistake stops the start with a message naming where it is.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { authConfigSchema, serviceAuthSchema } from '../../gateway/auth/config.js';
import { createAuthModeResolver } from '../../gateway/auth/modes.js';
import { ConfigError } from '../../gateway/config/errors.js';
import { resolveConfig } from '../../gateway/config/load.js';
import { ecKeyPair, ed25519KeyPair, HS_SECRET, rsaKeyPair } from './helpers.js';

const rsa = rsaKeyPair();
const ec = ecKeyPair();
const ec384 = ecKeyPair('P-384');
const ed = ed25519KeyPair();

/** "path: message" lines of a failed parse, as the start-up error would list them. */
function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof z.ZodError, String(err));
    return err.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  }
  assert.fail('expected the configuration to be refused');
}

describe('auth: section', () => {
  test('an empty section parses with the documented defaults', () => {
    const config = authConfigSchema.parse({});
    assert.deepEqual(config.keys, []);
    assert.equal(config.jwksCooldownMs, 30_000);
    assert.equal(config.clockToleranceSec, 30);
    assert.equal(config.maxTokenLength, 8192);
    assert.equal(config.cache.maxEntries, 10_000);
    assert.deepEqual(config.forwardHeaders, { sub: 'x-acgs-sub', roles: 'x-acgs-roles' });
    assert.equal(config.rolesClaim, 'roles');
    assert.equal(config.defaultMode, 'optional');
  });

  test('a key needs exactly one of secret or publicKey and a non-empty algorithm list', () => {
    const found = problems(() =>
      authConfigSchema.parse({
        keys: [
          { secret: HS_SECRET, publicKey: rsa.publicPem, algorithms: ['HS256'] },
          { secret: HS_SECRET, algorithms: [] },
          { algorithms: ['HS256'] },
        ],
      }),
    );
    assert.ok(found.includes('keys.0: needs exactly one of secret or publicKey'), found.join('\n'));
    assert.ok(found.includes('keys.1.algorithms: must list at least one algorithm'), found.join('\n'));
    assert.ok(found.includes('keys.2: needs exactly one of secret or publicKey'), found.join('\n'));
  });

  test('algorithms must fit the key (no RS256 on a secret, no HS256 on a public key, no ES384 on P-256)', () => {
    const found = problems(() =>
      authConfigSchema.parse({
        keys: [
          { secret: HS_SECRET, algorithms: ['HS256', 'RS256'] },
          { publicKey: rsa.publicPem, algorithms: ['HS256'] },
          { publicKey: ec.publicPem, algorithms: ['ES384'] },
        ],
      }),
    );
    assert.deepEqual(found, [
      'keys.0.algorithms.1: RS256 cannot be used with a secret',
      'keys.1.algorithms.0: HS256 cannot be used with this key (it allows RS256, RS384, RS512, PS256, PS384, PS512)',
      'keys.2.algorithms.0: ES384 cannot be used with this key (it allows ES256)',
    ]);
  });

  test('a secret shorter than the hash (RFC 7518 §3.2) and a private key PEM are refused', () => {
    const privatePem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const found = problems(() =>
      authConfigSchema.parse({
        keys: [
          { secret: 'short', algorithms: ['HS256'] },
          { secret: 'x'.repeat(40), algorithms: ['HS512'] },
          { publicKey: privatePem, algorithms: ['ES256'] },
          { publicKey: 'not a pem', algorithms: ['ES256'] },
        ],
      }),
    );
    assert.deepEqual(found, [
      'keys.0.secret: HS256 needs a secret of at least 32 bytes (got 5)',
      'keys.1.secret: HS512 needs a secret of at least 64 bytes (got 40)',
      'keys.2.publicKey: is a private key: configure the public key only',
      'keys.3.publicKey: must be a PEM public key (SPKI or PKCS#1)',
    ]);
  });

  test('forwarded header names are validated, lower-cased, and may not be reserved names', () => {
    assert.deepEqual(authConfigSchema.parse({ forwardHeaders: { sub: 'X-User' } }).forwardHeaders, {
      sub: 'x-user',
    });
    const found = problems(() =>
      authConfigSchema.parse({ forwardHeaders: { sub: 'Authorization', roles: 'bad name' } }),
    );
    assert.equal(found.length, 2);
  });

  test('unknown keys are refused (typos do not pass silently)', () => {
    assert.deepEqual(
      problems(() => authConfigSchema.parse({ jwksUrl: 'https://idp.example/jwks', issure: 'x' })),
      [': Unrecognized key: "issure"'],
    );
  });
});

describe('per-service modes', () => {
  test('a mode or a mode with route overrides', () => {
    assert.equal(serviceAuthSchema.parse('off'), 'off');
    assert.deepEqual(serviceAuthSchema.parse({ mode: 'required' }), { mode: 'required', routes: [] });
    assert.equal(serviceAuthSchema.safeParse('sometimes').success, false);
    assert.equal(
      serviceAuthSchema.safeParse({ mode: 'off', routes: [{ prefix: 'no-slash', mode: 'off' }] }).success,
      false,
    );
  });

  test('the resolver picks the longest matching prefix', () => {
    const resolve = createAuthModeResolver(
      {
        ac: {
          mode: 'required',
          routes: [
            { prefix: '/a', mode: 'optional' },
            { prefix: '/a/b', mode: 'off' },
          ],
        },
      },
      'optional',
    );
    assert.equal(resolve('ac', '/a/b/c'), 'off');
    assert.equal(resolve('ac', '/a/bc'), 'optional');
    assert.equal(resolve('ac', '/a'), 'optional');
    assert.equal(resolve('ac', '/ab'), 'required');
    assert.equal(resolve('gs', '/'), 'optional');
  });
});

const SERVICES = {
  ac: { blue: { upstreams: ['http://127.0.0.1:1'] }, green: { upstreams: ['http://127.0.0.1:2'] } },
};

/** The auth section as the one config loader resolves it from a file section and the environment. */
function authConfigFromEnv(env: NodeJS.ProcessEnv, section: Record<string, unknown> | undefined) {
  const config = resolveConfig({ services: SERVICES, ...(section ? { auth: section } : {}) }, { env });
  assert.ok(config.auth, 'the auth module is on');
  return config.auth;
}

/** The start-up problems of a refused configuration. */
function startProblems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('expected the configuration to be refused');
}

describe('environment (through the one config loader)', () => {
  test('JWT_SECRET adds an HS key for every HS algorithm its length allows', () => {
    const config = authConfigFromEnv({ JWT_SECRET: 's'.repeat(48) }, {});
    assert.deepEqual(config.keys, [{ secret: 's'.repeat(48), algorithms: ['HS256', 'HS384'] }]);
    assert.deepEqual(authConfigFromEnv({ JWT_SECRET: HS_SECRET }, {}).keys[0]?.algorithms, [
      'HS256',
      'HS384',
      'HS512',
    ]);
  });

  test('JWT_PUBLIC_KEY derives the algorithms from the key type', () => {
    const algs = (pem: string) => authConfigFromEnv({ JWT_PUBLIC_KEY: pem }, {}).keys[0]?.algorithms;
    assert.deepEqual(algs(rsa.publicPem), ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
    assert.deepEqual(algs(ec.publicPem), ['ES256']);
    assert.deepEqual(algs(ec384.publicPem), ['ES384']);
    assert.deepEqual(algs(ed.publicPem), ['EdDSA', 'Ed25519']);
    // A PEM flattened onto one line with \n escapes, as env files carry it.
    assert.deepEqual(algs(ec.publicPem.replace(/\n/g, '\\n')), ['ES256']);
  });

  test('JWT_ALGORITHMS narrows the env keys; keys from the file come first and are kept', () => {
    const config = authConfigFromEnv(
      { JWT_PUBLIC_KEY: rsa.publicPem, JWT_ALGORITHMS: 'PS256, PS512' },
      { keys: [{ kid: 'file', publicKey: ec.publicPem, algorithms: ['ES256'] }] },
    );
    assert.deepEqual(
      config.keys.map((k) => [k.kid, k.algorithms]),
      [
        ['file', ['ES256']],
        [undefined, ['PS256', 'PS512']],
      ],
    );
  });

  test('JWKS_URL, JWT_ISSUER and JWT_AUDIENCE override the file', () => {
    const config = authConfigFromEnv(
      {
        JWKS_URL: 'https://idp.example/jwks.json',
        JWT_ISSUER: 'https://idp.example',
        JWT_AUDIENCE: 'acgs, admin',
      },
      { issuer: 'from-file', clockToleranceSec: 5 },
    );
    assert.equal(config.jwksUrl, 'https://idp.example/jwks.json');
    assert.equal(config.issuer, 'https://idp.example');
    assert.deepEqual(config.audience, ['acgs', 'admin']);
    assert.equal(config.clockToleranceSec, 5);
    assert.equal(authConfigFromEnv({ JWT_AUDIENCE: 'acgs' }, {}).audience, 'acgs');
  });

  test('blank variables count as unset: no key source, no auth module', () => {
    assert.equal(
      resolveConfig({ services: SERVICES }, { env: { JWT_SECRET: '', JWKS_URL: '  ' } }).auth,
      null,
    );
    assert.deepEqual(authConfigFromEnv({ JWT_SECRET: '', JWKS_URL: '  ' }, {}), authConfigSchema.parse({}));
  });

  test('durations are accepted the same way as everywhere else', () => {
    const config = authConfigFromEnv({}, { jwksCooldownMs: '10s', cache: { maxTtlMs: '1m' } });
    assert.equal(config.jwksCooldownMs, 10_000);
    assert.equal(config.cache.maxTtlMs, 60_000);
  });

  test('every problem is listed, named by its variable', () => {
    const found = startProblems(() =>
      authConfigFromEnv(
        {
          JWT_SECRET: 'short',
          JWT_PUBLIC_KEY: 'nonsense',
          JWT_ALGORITHMS: 'HS256,XS999',
          JWKS_URL: 'ftp://x',
        },
        { clockToleranceSec: -1 },
      ),
    );
    assert.ok(
      found.includes(
        'JWT_ALGORITHMS: unknown algorithm XS999 (expected one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519)',
      ),
      found.join('\n'),
    );
    assert.ok(
      found.includes('JWT_SECRET: must be at least 32 bytes for an allowed HS* algorithm'),
      found.join('\n'),
    );
    assert.ok(found.includes('JWT_PUBLIC_KEY: must be a PEM public key (SPKI or PKCS#1)'), found.join('\n'));
    assert.ok(
      found.some((line) => line.startsWith('JWKS_URL: ')),
      found.join('\n'),
    );
    assert.ok(
      found.some((line) => line.startsWith('auth.clockToleranceSec: ')),
      found.join('\n'),
    );
  });
});

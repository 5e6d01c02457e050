import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../gateway/config/errors.js';
import { resolveConfig } from '../../gateway/config/load.js';
import { buildPolicyInput, parseQuery } from '../../gateway/policy/input.js';
import { makeCtx } from './helpers.js';

const SERVICES = {
  ac: { blue: { upstreams: ['http://127.0.0.1:1'] }, green: { upstreams: ['http://127.0.0.1:2'] } },
};

/** The policy section as the one config loader resolves it (file section, then the environment). */
function policyConfigFromEnv(env: NodeJS.ProcessEnv, section: Record<string, unknown> | undefined) {
  const config = resolveConfig({ services: SERVICES, ...(section ? { policy: section } : {}) }, { env });
  assert.ok(config.policy, 'the policy module is on');
  return config.policy;
}

describe('policy config', () => {
  test('defaults', () => {
    assert.equal(resolveConfig({ services: SERVICES }, { env: {} }).policy, null, 'no section: module off');
    const c = policyConfigFromEnv({}, {});
    // A relative bundle path is relative to the configuration (inline here: the working directory).
    assert.equal(c.bundle, `${process.cwd()}/policies/build/bundle.tar.gz`);
    assert.equal(c.pollIntervalMs, 30_000);
    assert.deepEqual(c.decisionLog, { enabled: false, sampleRate: 1 });
    assert.equal(c.verificationKey, undefined);
  });

  test('environment overrides the file; PEM newlines may be escaped', () => {
    const c = policyConfigFromEnv(
      {
        POLICY_BUNDLE: 'https://bundles.example/acgs.tar.gz',
        POLICY_VERIFICATION_KEY: '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----',
        POLICY_DECISION_LOG: 'true',
        POLICY_DECISION_LOG_SAMPLE_RATE: '0.25',
      },
      { bundle: 'file.tar.gz', pollIntervalMs: '5s', decisionLog: { sampleRate: 0.5 } },
    );
    assert.equal(c.bundle, 'https://bundles.example/acgs.tar.gz');
    assert.equal(c.pollIntervalMs, 5000);
    assert.equal(c.verificationKey, '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----');
    assert.deepEqual(c.decisionLog, { enabled: true, sampleRate: 0.25 });
  });

  test('every problem is reported, by path or by variable', () => {
    assert.throws(
      () =>
        policyConfigFromEnv(
          { POLICY_MAX_MEMORY_PAGES: 'many' },
          { pollIntervalMs: 5, pollJitter: 2, extra: 1 },
        ),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.length === 4 &&
        e.problems.some((p) => p.startsWith('policy.pollIntervalMs: ')) &&
        e.problems.some((p) => p.startsWith('POLICY_MAX_MEMORY_PAGES: ')),
    );
  });
});

describe('policy input', () => {
  test('the document of policies/README.md', () => {
    const input = buildPolicyInput(
      makeCtx({
        method: 'POST',
        path: '/api/ac/items/42',
        query: 'tag=a&tag=b+c&empty=',
        headers: { authorization: 'Bearer x', cookie: 'c', 'content-type': 'application/json' },
        claims: { sub: 'u1', roles: ['ac.writer'] },
        rest: '/items/42',
        colorOverride: 'green',
      }),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(input)), {
      method: 'POST',
      path: '/api/ac/items/42',
      segments: ['api', 'ac', 'items', '42'],
      query: { tag: ['a', 'b c'], empty: [''] },
      headers: { 'content-type': 'application/json' },
      client_ip: '203.0.113.9',
      claims: { sub: 'u1', roles: ['ac.writer'] },
      service: 'ac',
      rest: '/items/42',
      color_override: 'green',
      screening: null,
    });
  });

  test('a parameter named __proto__ is data', () => {
    const q = parseQuery('__proto__=x&constructor=y');
    assert.deepEqual(Object.keys(q).sort(), ['__proto__', 'constructor']);
    assert.deepEqual(JSON.parse(JSON.stringify(q)), { ['__proto__']: ['x'], constructor: ['y'] });
  });
});

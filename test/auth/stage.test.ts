// What a client and an upstream see from the JWT stage: auth modes per service and route prefix, the
// RFC 6750 challenges, the verified identity handed on, and the identity headers sent upstream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceAuthConfig } from '../../gateway/auth/config.js';
import { createDemoSigner } from '../../gateway/auth/demo-signer.js';
import {
  admit,
  bearer,
  claims,
  HS_SECRET,
  makeContext,
  makeStage,
  refusal,
  secretBytes,
  sign,
  T0,
} from './helpers.js';

const token = (extra = {}) => sign(claims(extra), secretBytes(), { alg: 'HS256' });

describe('a route that requires a token', () => {
  const { stage } = makeStage({ keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }] });

  test('no Authorization header: 401 unauthorized with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    const answer = await refusal(stage);
    assert.equal(answer.status, 401);
    assert.equal(answer.code, 'unauthorized');
    assert.equal(answer.challenge, 'Bearer realm="acgs"');
  });

  test('another scheme (Basic) counts as no bearer credentials', async () => {
    const answer = await refusal(stage, 'Basic dXNlcjpwYXNz');
    assert.equal(answer.code, 'unauthorized');
  });

  test('"Bearer" with no token is a malformed token', async () => {
    const answer = await refusal(stage, 'Bearer');
    assert.equal(answer.code, 'invalid_token');
    assert.equal(answer.challenge, 'Bearer error="invalid_token", error_description="token is malformed"');
  });

  test('the scheme is case-insensitive and extra blanks are tolerated', async () => {
    const t = await token();
    assert.equal((await admit(stage, `bearer ${t}`)).claims?.sub, 'user-1');
    assert.equal((await admit(stage, `BEARER   ${t}  `)).claims?.sub, 'user-1');
  });

  test('a valid token hands its claims on', async () => {
    const ctx = await admit(stage, bearer(await token({ sub: 'alice', tenant: 't1' })));
    assert.equal(ctx.claims?.sub, 'alice');
    assert.equal(ctx.claims?.tenant, 't1');
  });

  test('a token with an empty sub is accepted (the split then keys on the cookie or address)', async () => {
    const ctx = await admit(stage, bearer(await token({ sub: '' })));
    assert.equal(ctx.claims?.sub, '');
  });
});

describe('identity forwarded upstream', () => {
  test('default headers: x-acgs-sub and x-acgs-roles (roles joined by ",")', async () => {
    const { stage } = makeStage({ keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }] });
    assert.deepEqual(stage.identityHeaderNames, ['x-acgs-sub', 'x-acgs-roles']);
    const ctx = await admit(stage, bearer(await token({ sub: 'alice', roles: ['reader', 'writer'] })));
    assert.deepEqual(ctx.upstreamHeaders, ['x-acgs-sub', 'alice', 'x-acgs-roles', 'reader,writer']);
  });

  test('the same headers come from the cache on a repeated token', async () => {
    const { stage } = makeStage({ keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }] });
    const t = await token({ sub: 'alice', roles: ['reader'] });
    await admit(stage, bearer(t));
    const again = await admit(stage, bearer(t));
    assert.deepEqual(again.upstreamHeaders, ['x-acgs-sub', 'alice', 'x-acgs-roles', 'reader']);
  });

  test('configurable names and roles claim; absent claims send no header', async () => {
    const { stage } = makeStage({
      keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }],
      forwardHeaders: { sub: 'X-User', roles: 'x-groups', tenant: 'x-tenant' },
      rolesClaim: 'groups',
    });
    assert.deepEqual(stage.identityHeaderNames, ['x-user', 'x-groups', 'x-tenant']);
    const ctx = await admit(stage, bearer(await token({ sub: 'bob', groups: ['ops'], roles: ['ignored'] })));
    assert.deepEqual(ctx.upstreamHeaders, ['x-user', 'bob', 'x-groups', 'ops']);
  });

  test('a claim that cannot be a safe header value (CR/LF) is not forwarded', async () => {
    const { stage } = makeStage({ keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }] });
    const ctx = await admit(stage, bearer(await token({ sub: 'eve\r\nx-acgs-roles: admin' })));
    assert.deepEqual(ctx.upstreamHeaders, []);
  });

  test('no token on an optional route: nothing forwarded, identity untouched', async () => {
    const { stage } = makeStage({ keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }] }, { ac: 'optional' });
    const ctx = makeContext({ headers: { 'x-acgs-sub': 'spoofed' } });
    await stage.run(ctx);
    assert.deepEqual(ctx.upstreamHeaders, []);
    assert.equal(ctx.claims, null);
  });
});

describe('auth modes', () => {
  const services: Record<string, ServiceAuthConfig> = {
    ac: 'required',
    gs: 'optional',
    fv: 'off',
    pgc: {
      mode: 'required',
      routes: [
        { prefix: '/public', mode: 'off' },
        { prefix: '/public/private', mode: 'required' },
        { prefix: '/maybe/', mode: 'optional' },
      ],
    },
  };
  const { stage } = makeStage({ keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }] }, services);
  const at = (service: string | null, rest: string) => ({ service, rest });

  test('required: no token is 401', async () => {
    assert.equal((await refusal(stage, undefined, at('ac', '/x'))).code, 'unauthorized');
  });

  test('optional: no token passes, a valid token is used, a bad token is 401', async () => {
    const ctx = makeContext(at('gs', '/x'));
    assert.equal(stage.run(ctx), undefined);
    assert.equal(ctx.claims, null);
    assert.equal((await admit(stage, bearer(await token()), at('gs', '/x'))).claims?.sub, 'user-1');
    const expired = await token({ exp: T0 - 3600 });
    const answer = await refusal(stage, bearer(expired), at('gs', '/x'));
    assert.equal(answer.code, 'invalid_token');
    assert.equal(answer.challenge, 'Bearer error="invalid_token", error_description="token expired"');
  });

  test('off: the token is not even parsed', async () => {
    const ctx = makeContext({ ...at('fv', '/x'), authorization: 'Bearer garbage' });
    assert.equal(stage.run(ctx), undefined);
    assert.equal(ctx.claims, null);
  });

  test('route prefixes: the longest matching prefix wins, on segment boundaries', async () => {
    const open = (rest: string) => stage.run(makeContext(at('pgc', rest)));
    assert.equal(open('/public'), undefined);
    assert.equal(open('/public/docs'), undefined);
    assert.equal((await refusal(stage, undefined, at('pgc', '/publicity'))).code, 'unauthorized');
    assert.equal((await refusal(stage, undefined, at('pgc', '/public/private/x'))).code, 'unauthorized');
    assert.equal((await refusal(stage, undefined, at('pgc', '/other'))).code, 'unauthorized');
    assert.equal(open('/maybe/x'), undefined);
  });

  test('services without an entry (and unmatched requests) use defaultMode, optional by default', async () => {
    assert.equal(stage.run(makeContext(at('integrity', '/x'))), undefined);
    assert.equal(stage.run(makeContext(at(null, '/nowhere'))), undefined);
    const { stage: strict } = makeStage(
      { keys: [{ secret: HS_SECRET, algorithms: ['HS256'] }], defaultMode: 'required' },
      {},
    );
    assert.equal((await refusal(strict, undefined, at('integrity', '/x'))).code, 'unauthorized');
  });
});

describe('demo signer (embedded default)', () => {
  test('its token verifies with the config fragment it provides', async () => {
    const demo = createDemoSigner();
    assert.deepEqual(demo.key.algorithms, ['ES256']);
    const { stage } = makeStage(
      demo.authConfig,
      { ac: 'required' },
      { ms: Date.now(), now: Date.now, advance() {} },
    );
    const signed = await demo.sign({ sub: 'demo-user', roles: ['demo'] }, 3600);
    const ctx = await admit(stage, bearer(signed));
    assert.equal(ctx.claims?.sub, 'demo-user');
    assert.deepEqual(ctx.upstreamHeaders, ['x-acgs-sub', 'demo-user', 'x-acgs-roles', 'demo']);
  });
});

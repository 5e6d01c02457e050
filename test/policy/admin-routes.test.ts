// PUT/GET /admin/policy through fastify's inject, mounted on the real admin server: its token
// authentication, the policy's admin decision and the one responder.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import pino from 'pino';
import { AdminTokenAuthenticator } from '../../gateway/admin/admin-auth.js';
import { createAdminServer } from '../../gateway/admin/admin-server.js';
import { type AuditInput, AuditLog } from '../../gateway/admin/audit-log.js';
import { Responder } from '../../gateway/http/responder.js';
import { GatewayMetrics } from '../../gateway/metrics/gateway-metrics.js';
import { createAdminAuthorizer } from '../../gateway/policy/admin-authorizer.js';
import { registerPolicyRoutes } from '../../gateway/policy/admin-routes.js';
import { PolicyManager } from '../../gateway/policy/manager.js';
import { parseVerificationKey } from '../../gateway/policy/signature.js';
import { buildBundle, type KeyFiles, type TempDir, tempDir, writeKeyPair } from './helpers.js';

describe('admin policy routes', () => {
  let dir: TempDir;
  let unsigned: Buffer;
  let signed: Buffer;
  let key: KeyFiles;
  before(async () => {
    dir = await tempDir();
    key = await writeKeyPair(dir.path, 'ES256');
    [unsigned, signed] = await Promise.all([
      buildBundle(dir.path, 'admin-unsigned'),
      buildBundle(dir.path, 'admin-signed', { signingKey: key.privatePath, signingAlg: 'ES256' }),
    ]);
  });
  after(() => dir.remove());

  const ADMIN = 'admin-token-0123456789';
  /** The bearer token each test server's client uses. */
  const tokens = new Map<FastifyInstance, string>();
  const auth = (f: FastifyInstance) => ({ authorization: `Bearer ${tokens.get(f)}` });
  const put = (f: FastifyInstance, body: Buffer, type = 'application/gzip') =>
    f.inject({
      method: 'PUT',
      url: '/admin/policy',
      headers: { 'content-type': type, ...auth(f) },
      payload: body,
    });
  const get = (f: FastifyInstance) => f.inject({ method: 'GET', url: '/admin/policy', headers: auth(f) });
  const JWT_KEY = new TextEncoder().encode('admin-jwt-test-secret-0123456789abcdef');
  const operatorJwt = () =>
    new SignJWT({ sub: 'op', roles: ['operator'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(JWT_KEY);

  async function app(
    opts: { verify?: boolean; token?: string; bodyLimit?: number } = {},
  ): Promise<{ fastify: FastifyInstance; manager: PolicyManager; audit: AuditInput[] }> {
    const manager = new PolicyManager(
      opts.verify ? { verificationKey: parseVerificationKey(key.publicPem) } : {},
    );
    const logger = pino({ level: 'silent' });
    const auditLog = new AuditLog(join(mkdtempSync(join(tmpdir(), 'acgs-audit-')), 'audit.jsonl'), logger);
    await auditLog.open();
    const audit: AuditInput[] = [];
    const fastify = createAdminServer({
      // Static tokens are admins; an operator signs in with an admin JWT carrying its role.
      authenticator: new AdminTokenAuthenticator([{ name: 'admin', token: ADMIN }], {
        verify: async (token) => (await jwtVerify(token, JWT_KEY, { algorithms: ['HS256'] })).payload,
        rolesClaim: 'roles',
        roles: ['admin', 'operator', 'release'],
      }),
      registry: new GatewayMetrics(undefined, { defaultMetrics: false }).registry,
      audit: auditLog,
      logger,
      responder: new Responder(new GatewayMetrics(undefined, { defaultMetrics: false })),
      authorize: createAdminAuthorizer(manager),
    });
    registerPolicyRoutes(fastify, {
      manager,
      audit: {
        append: async (entry) => {
          audit.push(entry);
          return { ...entry, at: new Date().toISOString() };
        },
      },
      ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    });
    await fastify.ready();
    tokens.set(fastify, opts.token ?? ADMIN);
    return { fastify, manager, audit };
  }

  test('upload activates the bundle, GET shows it, the audit log records it', async () => {
    const { fastify, audit } = await app();
    const res = await put(fastify, unsigned);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.revision, 'admin-unsigned');
    assert.ok(!Number.isNaN(Date.parse(body.loadedAt)));
    const state = (await get(fastify)).json();
    assert.equal(state.revision, 'admin-unsigned');
    assert.equal(state.loadedAt, body.loadedAt);
    assert.deepEqual(state.entrypoints, ['acgs/gateway/admin_decision', 'acgs/gateway/decision']);
    assert.equal(state.lastError, null);
    assert.deepEqual(audit, [
      {
        actor: 'admin',
        action: 'policy.put',
        target: 'policy',
        before: { revision: null },
        after: { revision: 'admin-unsigned' },
      },
    ]);
    assert.equal((await put(fastify, signed, 'application/octet-stream')).statusCode, 200);
    await fastify.close();
  });

  test('a corrupt bundle is 400, an unacceptable one 422, in the gateway error shape; the old one stays', async () => {
    const { fastify, audit } = await app({ verify: true });
    assert.equal((await put(fastify, signed)).statusCode, 200);
    const corrupt = await put(fastify, Buffer.from('garbage'));
    assert.equal(corrupt.statusCode, 400);
    const err = corrupt.json().error;
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, /gzip/);
    assert.equal(typeof err.requestId, 'string');
    const unsignedRes = await put(fastify, unsigned);
    assert.equal(unsignedRes.statusCode, 422);
    assert.equal(unsignedRes.json().error.code, 'unprocessable');
    assert.match(unsignedRes.json().error.message, /not signed/);
    const state = (await get(fastify)).json();
    assert.equal(state.revision, 'admin-signed');
    assert.match(state.lastError.message, /not signed/);
    assert.equal(audit.length, 3);
    assert.equal((audit[2]!.after as { refused: boolean }).refused, true);
    await fastify.close();
  });

  test('wrong content type is 415 and an oversized body 413, both in the gateway error shape', async () => {
    const { fastify } = await app();
    const res = await put(fastify, unsigned, 'text/plain');
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().error.code, 'unsupported_media_type');
    const { fastify: small } = await app({ bodyLimit: 1024 });
    const big = await put(small, unsigned);
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error.code, 'payload_too_large');
    await Promise.all([fastify.close(), small.close()]);
  });

  test('without a valid admin token nothing is reachable', async () => {
    const { fastify } = await app({ token: 'not-a-token-at-all-000' });
    const res = await get(fastify);
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'unauthorized');
    await fastify.close();
  });

  test('the admin_decision of the active policy decides who may push bundles', async () => {
    const { fastify, manager } = await app({ token: await operatorJwt() });
    // Bootstrap: with no policy active an authenticated admin may push the first bundle.
    assert.equal((await put(fastify, unsigned)).statusCode, 200);
    const refused = await put(fastify, unsigned);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().error.message, 'principal jwt:op may not policy.put');
    assert.equal((await get(fastify)).statusCode, 200, 'read is open');
    assert.equal(manager.engine?.revision, 'admin-unsigned');
    await fastify.close();
  });
});

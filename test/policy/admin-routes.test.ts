// PUT/GET /admin/policy through fastify's inject, as the admin plane will mount them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { authorizationHook } from '../../gateway/admin/admin-server.js';
import { createAdminAuthorizer } from '../../gateway/policy/admin-authorizer.js';
import { type AuditEntry, registerPolicyRoutes } from '../../gateway/policy/admin-routes.js';
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

  async function app(opts: { verify?: boolean; principal?: { name: string; roles?: string[] } } = {}) {
    const manager = new PolicyManager(
      opts.verify ? { verificationKey: parseVerificationKey(key.publicPem) } : {},
    );
    const audit: AuditEntry[] = [];
    const fastify: FastifyInstance = Fastify();
    // Stands in for the admin plane's authentication.
    fastify.addHook('onRequest', async (request) => {
      (request as unknown as { adminPrincipal: unknown }).adminPrincipal = opts.principal ?? {
        name: 'admin',
      };
    });
    // …and its authorisation: the same hook and the same policy question as on the admin server.
    fastify.addHook('preHandler', authorizationHook(createAdminAuthorizer(manager)));
    registerPolicyRoutes(fastify, { manager, audit: async (e) => void audit.push(e) });
    await fastify.ready();
    return { fastify, manager, audit };
  }

  const put = (f: FastifyInstance, body: Buffer, type = 'application/gzip') =>
    f.inject({ method: 'PUT', url: '/admin/policy', headers: { 'content-type': type }, payload: body });

  test('upload activates the bundle, GET shows it, the audit log records it', async () => {
    const { fastify, audit } = await app();
    const res = await put(fastify, unsigned);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.revision, 'admin-unsigned');
    assert.ok(!Number.isNaN(Date.parse(body.loadedAt)));
    const state = (await fastify.inject({ method: 'GET', url: '/admin/policy' })).json();
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
    assert.equal(err.requestId, 'req-2');
    const unsignedRes = await put(fastify, unsigned);
    assert.equal(unsignedRes.statusCode, 422);
    assert.equal(unsignedRes.json().error.code, 'unprocessable');
    assert.match(unsignedRes.json().error.message, /not signed/);
    const state = (await fastify.inject({ method: 'GET', url: '/admin/policy' })).json();
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
    const small = Fastify();
    registerPolicyRoutes(small, { manager: new PolicyManager(), audit: async () => {}, bodyLimit: 1024 });
    const big = await put(small, unsigned);
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error.code, 'payload_too_large');
    await Promise.all([fastify.close(), small.close()]);
  });

  test('the admin_decision of the active policy decides who may push bundles', async () => {
    const { fastify, manager } = await app({ principal: { name: 'op', roles: ['operator'] } });
    // Bootstrap: with no policy active an authenticated admin may push the first bundle.
    assert.equal((await put(fastify, unsigned)).statusCode, 200);
    const refused = await put(fastify, unsigned);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().error.message, 'principal op may not policy.put');
    assert.equal(
      (await fastify.inject({ method: 'GET', url: '/admin/policy' })).statusCode,
      200,
      'read is open',
    );
    assert.equal(manager.engine?.revision, 'admin-unsigned');
    await fastify.close();
  });
});

// PUT /admin/policy (upload a bundle) and GET /admin/policy (what is active, what last failed).
// An encapsulated plugin: its gzip body parser and error shape do not leak into the admin app.
import type { FastifyInstance } from 'fastify';
import { Errors, GatewayError } from '../../core/errors.js';
import type { AuditLog } from '../admin/audit-log.js';
import { BundleError } from './bundle-error.js';
import { errorMessage } from './engine.js';
import type { PolicyManager } from './manager.js';

export const POLICY_BODY_LIMIT = 10 * 1024 * 1024;
const BUNDLE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

export interface PolicyRouteDeps {
  readonly manager: PolicyManager;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly bodyLimit?: number;
}

export function registerPolicyRoutes(app: FastifyInstance, deps: PolicyRouteDeps): void {
  app.register(async (scope) => {
    const bodyLimit = deps.bodyLimit ?? POLICY_BODY_LIMIT;
    scope.addContentTypeParser(BUNDLE_TYPES, { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
      done(null, body),
    );

    scope.get('/admin/policy', async (_request, reply) => {
      return reply.send(deps.manager.state());
    });

    scope.put('/admin/policy', { bodyLimit, config: { action: 'policy.put' } }, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new GatewayError(Errors.UNSUPPORTED_MEDIA_TYPE, 'send the bundle as application/gzip');
      }
      const actor = request.adminPrincipal.name;
      const before = { revision: deps.manager.engine?.revision ?? null };
      try {
        const result = await deps.manager.load(body, `upload by ${actor}`);
        await deps.audit.append({
          actor,
          action: 'policy.put',
          target: 'policy',
          before,
          after: { revision: result.revision },
        });
        return reply.send(result);
      } catch (err) {
        const bundleErr = err instanceof BundleError ? err : null;
        const message = bundleErr?.message ?? errorMessage(err);
        await deps.audit.append({
          actor,
          action: 'policy.put',
          target: 'policy',
          before,
          after: { refused: true, reason: bundleErr?.kind ?? 'internal', message, revision: before.revision },
        });
        throw err; // the admin server's responder maps a BundleError to 400/422, anything else to 500
      }
    });
  });
}

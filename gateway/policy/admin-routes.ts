// PUT /admin/policy (upload a bundle) and GET /admin/policy (what is active, what last failed).
// An encapsulated plugin: its gzip body parser and error shape do not leak into the admin app.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorSpec, Errors, errorBody } from '../core/errors.js';
import { BundleError } from './bundle-error.js';
import { errorMessage } from './engine.js';
import type { PolicyManager } from './manager.js';

export const POLICY_BODY_LIMIT = 10 * 1024 * 1024;
const BUNDLE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export interface PolicyRouteDeps {
  readonly manager: PolicyManager;
  readonly audit: (entry: AuditEntry) => Promise<void>;
  readonly bodyLimit?: number;
}

interface AdminPrincipal {
  readonly name: string;
  readonly roles?: readonly string[];
}

export function registerPolicyRoutes(app: FastifyInstance, deps: PolicyRouteDeps): void {
  app.register(async (scope) => {
    const bodyLimit = deps.bodyLimit ?? POLICY_BODY_LIMIT;
    scope.addContentTypeParser(BUNDLE_TYPES, { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
      done(null, body),
    );

    // Fastify's own errors (415, 413, ...) answered in the gateway's JSON error shape.
    scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
      const status = err.statusCode ?? 500;
      const spec =
        status === 413
          ? Errors.PAYLOAD_TOO_LARGE
          : status === 415
            ? Errors.UNSUPPORTED_MEDIA_TYPE
            : status < 500
              ? Errors.BAD_REQUEST
              : Errors.INTERNAL;
      sendError(reply, request, spec, status < 500 ? err.message : spec.message, spec.status);
    });

    scope.get('/admin/policy', async (_request, reply) => {
      return reply.send(deps.manager.state());
    });

    scope.put('/admin/policy', { bodyLimit }, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        sendError(reply, request, Errors.UNSUPPORTED_MEDIA_TYPE, 'send the bundle as application/gzip');
        return reply;
      }
      const actor = principal(request)?.name ?? 'unknown';
      const before = { revision: deps.manager.engine?.revision ?? null };
      try {
        const result = await deps.manager.load(body, `upload by ${actor}`);
        await deps.audit({
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
        await deps.audit({
          actor,
          action: 'policy.put',
          target: 'policy',
          before,
          after: { refused: true, reason: bundleErr?.kind ?? 'internal', message, revision: before.revision },
        });
        const spec =
          bundleErr?.status === 400 ? Errors.BAD_REQUEST : bundleErr ? Errors.UNPROCESSABLE : Errors.INTERNAL;
        sendError(reply, request, spec, message);
        return reply;
      }
    });
  });
}

function principal(request: FastifyRequest): AdminPrincipal | undefined {
  return (request as FastifyRequest & { adminPrincipal?: AdminPrincipal }).adminPrincipal;
}

function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  spec: ErrorSpec,
  message = spec.message,
  status = spec.status,
): void {
  reply
    .code(status)
    .type('application/json')
    .send(errorBody(spec.code, message, String(request.id)));
}

import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Errors } from '../core/errors.js';
import { requestIdFor } from '../identity/request-id.js';
import type { AdminPrincipal, AdminTokenAuthenticator } from './admin-auth.js';
import { replyError } from './admin-errors.js';
import type { AuditLog } from './audit-log.js';

export interface AdminAuthorization {
  readonly allow: boolean;
  readonly reason?: string | undefined;
  /** The decision could not be made (policy error): answered 503, never taken as an allow. */
  readonly failed?: boolean;
}

/** Asked before every admin action (the policy's admin decision when a bundle is loaded). */
export type AdminAuthorizer = (
  principal: AdminPrincipal,
  action: string,
  target: string | null,
) => AdminAuthorization | Promise<AdminAuthorization>;

/**
 * The one place admin actions are authorised: a preHandler asking `authorize` with the action of the
 * matched route. Exported so a plugin tested on its own is guarded exactly as on the admin server.
 */
export function authorizationHook(authorize: AdminAuthorizer) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const action = adminAction(request.method, request.routeOptions.url);
    const target = (request.params as { name?: string } | undefined)?.name ?? null;
    const decision = await authorize(request.adminPrincipal, action, target);
    if (decision.failed) return replyError(request, reply, Errors.POLICY_ERROR);
    if (!decision.allow) {
      return replyError(
        request,
        reply,
        Errors.FORBIDDEN,
        decision.reason ?? `${action} is not allowed for ${request.adminPrincipal.name}`,
      );
    }
  };
}

export interface AdminServerOptions {
  readonly authenticator: AdminTokenAuthenticator;
  readonly registry: Registry;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly authorize?: AdminAuthorizer | undefined;
  readonly bodyLimit?: number;
}

/** Maps a method and route to the action name the admin policy decides on. */
export function adminAction(method: string, routeUrl: string | undefined): string {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (!routeUrl) return 'unknown';
  if (routeUrl.endsWith('/weights')) return 'weights.set';
  if (routeUrl === '/admin/policy') return 'policy.put';
  if (routeUrl === '/admin/screening/rules') return 'screening.put';
  const rollout = /\/rollout(?:\/(\w+))?$/.exec(routeUrl);
  if (rollout) return `rollout.${rollout[1] ?? 'start'}`;
  return 'unknown';
}

/**
 * The operators' listener. Every route needs `Authorization: Bearer <token>`; a configured admin policy
 * may further restrict which principal does what. Errors use the data plane's JSON shape.
 */
export function createAdminServer(options: AdminServerOptions): FastifyInstance {
  const app = Fastify({
    // fastify logs every request at info; ours are audit entries instead, so its own logger starts at warn.
    loggerInstance: options.logger.child({ plane: 'admin' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: (req) => requestIdFor(req.headers['x-request-id']),
    return503OnClosing: true,
  });
  app.decorateRequest('adminPrincipal', null as unknown as AdminPrincipal);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const principal = await options.authenticator.authenticate(request.headers.authorization);
    if (principal === null) {
      return replyError(request, reply, Errors.UNAUTHORIZED, 'a valid admin bearer token is required', {
        'www-authenticate': 'Bearer realm="acgs-admin"',
      });
    }
    request.adminPrincipal = principal;
  });

  if (options.authorize) app.addHook('preHandler', authorizationHook(options.authorize));

  app.setNotFoundHandler((request, reply) =>
    replyError(request, reply, Errors.NOT_FOUND, `no admin route ${request.method} ${request.url}`),
  );
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) return replyError(request, reply, Errors.PAYLOAD_TOO_LARGE);
    if (status === 415) return replyError(request, reply, Errors.UNSUPPORTED_MEDIA_TYPE, error.message);
    if (status >= 400 && status < 500) return replyError(request, reply, Errors.BAD_REQUEST, error.message);
    request.log.error({ err: error }, 'admin request failed');
    return replyError(request, reply, Errors.INTERNAL);
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });

  app.get<{ Querystring: { limit?: string; target?: string; action?: string } }>(
    '/admin/audit',
    async (request, reply) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        return replyError(request, reply, Errors.BAD_REQUEST, 'limit must be an integer between 1 and 10000');
      }
      const filter: { target?: string; action?: string } = {};
      if (request.query.target) filter.target = request.query.target;
      if (request.query.action) filter.action = request.query.action;
      return { entries: options.audit.list(limit, filter) };
    },
  );

  return app;
}

import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Errors, GatewayError } from '../../core/errors.js';
import type { Responder } from '../http/responder.js';
import { requestIdFor } from '../identity/request-id.js';
import type { AdminPrincipal, AdminTokenAuthenticator } from './admin-auth.js';
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

/** The action a route declared (`config.action`); reads are 'read'. */
export function actionOf(request: FastifyRequest): string {
  return request.routeOptions.config?.action ?? 'read';
}

/**
 * The one place admin actions are authorised: a preHandler asking `authorize` with the action the
 * matched route declared. Exported so a plugin tested on its own is guarded exactly as on the admin server.
 */
export function authorizationHook(authorize: AdminAuthorizer) {
  return async (request: FastifyRequest) => {
    const action = actionOf(request);
    const target = (request.params as { name?: string } | undefined)?.name ?? null;
    const decision = await authorize(request.adminPrincipal, action, target);
    if (decision.failed) throw new GatewayError(Errors.POLICY_ERROR);
    if (!decision.allow) {
      throw new GatewayError(
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
  readonly responder: Responder;
  readonly authorize?: AdminAuthorizer | undefined;
  readonly bodyLimit?: number;
}

/**
 * The operators' listener. Every route needs `Authorization: Bearer <token>`; a configured admin policy
 * may further restrict which principal does what. Routes throw (GatewayError or a domain error) and the
 * responder answers in the data plane's JSON shape. A route that changes something must declare its
 * action, or registering it fails: a new route can never silently become an unaudited 'unknown'.
 */
export function createAdminServer(options: AdminServerOptions): FastifyInstance {
  const { responder } = options;
  const app = Fastify({
    // fastify logs every request at info; ours are audit entries instead, so its own logger starts at warn.
    loggerInstance: options.logger.child({ plane: 'admin' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: (req) => requestIdFor(req.headers['x-request-id']),
    return503OnClosing: true,
  });
  app.decorateRequest('adminPrincipal', null as unknown as AdminPrincipal);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const reads = methods.every((m) => m === 'GET' || m === 'HEAD');
    if (!reads && !route.config?.action) {
      throw new Error(`admin route ${methods.join(',')} ${route.url} must declare config.action`);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const principal = await options.authenticator.authenticate(request.headers.authorization);
    if (principal === null) {
      throw new GatewayError(Errors.UNAUTHORIZED, 'a valid admin bearer token is required', {
        'www-authenticate': 'Bearer realm="acgs-admin"',
      });
    }
    request.adminPrincipal = principal;
  });

  if (options.authorize) app.addHook('preHandler', authorizationHook(options.authorize));

  app.setNotFoundHandler((request, reply) =>
    responder.adminError(
      request,
      reply,
      new GatewayError(Errors.NOT_FOUND, `no admin route ${request.method} ${request.url}`),
    ),
  );
  app.setErrorHandler(responder.adminErrorHandler);

  app.get('/metrics', async (_request, reply: FastifyReply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });

  app.get<{ Querystring: { limit?: string; target?: string; action?: string } }>(
    '/admin/audit',
    async (request) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new GatewayError(Errors.BAD_REQUEST, 'limit must be an integer between 1 and 10000');
      }
      const filter: { target?: string; action?: string } = {};
      if (request.query.target) filter.target = request.query.target;
      if (request.query.action) filter.action = request.query.action;
      return { entries: options.audit.list(limit, filter) };
    },
  );

  return app;
}

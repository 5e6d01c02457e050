import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RolloutManager } from '../../rollout/manager.js';

export interface RolloutRoutesDeps {
  readonly manager: RolloutManager;
}

type Params = { name: string };

const ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;

/** The optional free-text reason operators may give with any action. */
function reasonOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError(Errors.BAD_REQUEST, 'the body must be a JSON object');
  }
  const { reason } = body as { reason?: unknown };
  if (reason === undefined) return undefined;
  if (typeof reason !== 'string' || reason.length > 500) {
    throw new GatewayError(Errors.BAD_REQUEST, 'reason must be a string of at most 500 characters');
  }
  return reason;
}

const actor = (request: FastifyRequest) => request.adminPrincipal.name;

/**
 * The rollout routes of the admin plane. The manager throws the rollout domain's errors (not found,
 * conflict, invalid parameters); the admin server's responder maps them to 404/409/400. The audit log is
 * the manager's onTransition.
 */
export function registerRolloutRoutes(app: FastifyInstance, deps: RolloutRoutesDeps): void {
  const { manager } = deps;

  app.post<{ Params: Params }>(
    '/admin/services/:name/rollout',
    { config: { action: 'rollout.start' } },
    async (request, reply) => {
      const body = request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) {
        throw new GatewayError(Errors.BAD_REQUEST, 'the body must be a JSON object');
      }
      const { reason: _reason, ...params } = body as Record<string, unknown>;
      const status = await manager.start(request.params.name, params, actor(request), reasonOf(body));
      return reply.code(201).send(status);
    },
  );

  app.get<{ Params: Params }>('/admin/services/:name/rollout', (request) =>
    manager.status(request.params.name),
  );

  for (const action of ACTIONS) {
    app.post<{ Params: Params }>(
      `/admin/services/:name/rollout/${action}`,
      { config: { action: `rollout.${action}` } },
      (request) => manager[action](request.params.name, actor(request), reasonOf(request.body)),
    );
  }
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RolloutManager, RolloutStatus } from '../../rollout/manager.js';
import { Errors, errorBody, GatewayError } from '../core/errors.js';

export interface RolloutRoutesDeps {
  readonly manager: RolloutManager;
}

/** Set by the admin server's authentication hook. */
type AdminRequest = FastifyRequest & { adminPrincipal?: { name: string } };
type Params = { name: string };

const ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;
type Action = (typeof ACTIONS)[number];

function actorOf(request: FastifyRequest): string {
  return (request as AdminRequest).adminPrincipal?.name ?? 'unknown';
}

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

async function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  run: () => Promise<RolloutStatus>,
): Promise<FastifyReply> {
  try {
    return reply.code(status).send(await run());
  } catch (error) {
    const known = error instanceof GatewayError;
    if (!known) request.log.error({ err: error }, 'rollout route failed');
    const code = known ? error.code : Errors.INTERNAL.code;
    const message = known ? error.message : Errors.INTERNAL.message;
    return reply
      .code(known ? error.status : Errors.INTERNAL.status)
      .type('application/json; charset=utf-8')
      .send(errorBody(code, message, request.id));
  }
}

/**
 * The rollout routes of the admin plane (DESIGN.md). Authentication and the audit log are the admin
 * server's: it sets request.adminPrincipal and wires the manager's onTransition into the audit log.
 */
export function registerRolloutRoutes(app: FastifyInstance, deps: RolloutRoutesDeps): void {
  const { manager } = deps;

  app.post<{ Params: Params }>('/admin/services/:name/rollout', (request, reply) =>
    answer(request, reply, 201, async () => {
      const body = request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) {
        throw new GatewayError(Errors.BAD_REQUEST, 'the body must be a JSON object');
      }
      const { reason: _reason, ...params } = body as Record<string, unknown>;
      return manager.start(request.params.name, params, actorOf(request), reasonOf(body));
    }),
  );

  app.get<{ Params: Params }>('/admin/services/:name/rollout', (request, reply) =>
    answer(request, reply, 200, () => manager.status(request.params.name)),
  );

  for (const action of ACTIONS) {
    app.post<{ Params: Params }>(`/admin/services/:name/rollout/${action}`, (request, reply) =>
      answer(request, reply, 200, async () => {
        const reason = reasonOf(request.body);
        return manager[action satisfies Action](request.params.name, actorOf(request), reason);
      }),
    );
  }
}

import type { FastifyInstance } from 'fastify';
import { Errors, GatewayError } from '../../core/errors.js';
import { COLORS } from '../../core/types.js';
import type { WeightStore } from '../../core/weight-store.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { AuditLog } from './audit-log.js';

export interface WindowSummarySource {
  /** Live window of one service colour over the last `seconds` (requests, error rate, latency percentiles). */
  summary(service: string, color: 'blue' | 'green', seconds: number): unknown;
}

export interface ServiceRoutesDeps {
  readonly runtimes: ReadonlyMap<string, ServiceRuntime>;
  readonly weights: WeightStore;
  readonly audit: AuditLog;
  /** True while a rollout drives the service's weights; manual changes then answer 409. */
  readonly isRolloutActive: (service: string) => boolean | Promise<boolean>;
  readonly windows?: WindowSummarySource | undefined;
}

async function describe(runtime: ServiceRuntime, deps: ServiceRoutesDeps, detailed: boolean) {
  const weights = deps.weights.get(runtime.name);
  const colors: Record<string, unknown> = {};
  for (const color of COLORS) {
    colors[color] = {
      weight: color === 'green' ? weights.green : 100 - weights.green,
      upstreams: runtime.pools[color].upstreams.map((u) => ({ url: u.url, breaker: u.state })),
      ...(detailed && deps.windows ? { window: deps.windows.summary(runtime.name, color, 60) } : {}),
    };
  }
  return {
    name: runtime.name,
    prefix: runtime.config.prefix,
    stable: weights.stable,
    weights: { blue: 100 - weights.green, green: weights.green },
    revision: weights.revision,
    failover: runtime.config.failover,
    rolloutActive: await deps.isRolloutActive(runtime.name),
    colors,
  };
}

export async function registerServiceRoutes(app: FastifyInstance, deps: ServiceRoutesDeps): Promise<void> {
  app.get('/admin/services', async () => ({
    services: await Promise.all([...deps.runtimes.values()].map((r) => describe(r, deps, false))),
  }));

  const runtimeOf = (name: string): ServiceRuntime => {
    const runtime = deps.runtimes.get(name);
    if (!runtime) throw new GatewayError(Errors.NOT_FOUND, `no service named '${name}'`);
    return runtime;
  };

  app.get<{ Params: { name: string } }>('/admin/services/:name', async (request) =>
    describe(runtimeOf(request.params.name), deps, true),
  );

  app.put<{ Params: { name: string }; Body: unknown }>(
    '/admin/services/:name/weights',
    { config: { action: 'weights.set' } },
    async (request) => {
      const name = request.params.name;
      runtimeOf(name);
      const body = request.body as { green?: unknown } | null | undefined;
      const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
      const green = body?.green;
      if (
        keys.length !== 1 ||
        keys[0] !== 'green' ||
        typeof green !== 'number' ||
        !Number.isInteger(green) ||
        green < 0 ||
        green > 100
      ) {
        throw new GatewayError(
          Errors.BAD_REQUEST,
          'body must be exactly {"green": <integer 0..100>} (the share of users on green)',
        );
      }
      if (await deps.isRolloutActive(name)) {
        throw new GatewayError(
          Errors.CONFLICT,
          `a rollout is running on ${name}; pause, promote or abort it before setting weights by hand`,
        );
      }
      const before = deps.weights.get(name);
      const after = await deps.weights.set(name, { green });
      await deps.audit.append({
        actor: request.adminPrincipal.name,
        action: 'weights.set',
        target: name,
        before: { green: before.green, stable: before.stable },
        after: { green: after.green, stable: after.stable },
        requestId: request.id,
      });
      return {
        name,
        weights: { blue: 100 - after.green, green: after.green },
        stable: after.stable,
        revision: after.revision,
      };
    },
  );
}

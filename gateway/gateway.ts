import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Closeable, ReadinessCheck } from '../core/types.js';
import type { WeightStore } from '../core/weight-store.js';
import type { RolloutManager } from '../rollout/manager.js';
import { AdminTokenAuthenticator } from './admin/admin-auth.js';
import { createAdminServer } from './admin/admin-server.js';
import { AuditLog } from './admin/audit-log.js';
import { registerRolloutRoutes } from './admin/rollout-routes.js';
import { registerServiceRoutes } from './admin/service-routes.js';
import { demoSignerOf } from './auth/module.js';
import type { ResolvedConfig } from './config/load.js';
import { type DemoUpstream, startDemoUpstreams, stopDemoUpstreams } from './demo/demo-upstreams.js';
import { Responder } from './http/responder.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { DATA_PLANE_MODULES } from './modules.js';
import { DataPlane } from './pipeline/data-plane.js';
import { provisionChain } from './provision.js';
import { ServiceRuntime } from './proxy/service-runtime.js';
import { RedisConnections } from './redis.js';
import { wireRollout } from './rollout.js';
import { ServiceTable } from './routing/service-table.js';
import { drainAndClose, startDataServer, urlOf } from './servers.js';

export interface GatewayOptions {
  readonly logger?: Logger;
}

export interface Gateway {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** e.g. http://127.0.0.1:8080 */
  readonly dataUrl: string;
  readonly adminUrl: string;
  /** Set when ADMIN_TOKENS was empty: the token made for this run (name 'local'). */
  readonly generatedAdminToken: string | null;
  readonly demo: readonly DemoUpstream[];
  /** In the embedded default: a ready ES256 token for sub 'demo-user' (valid 24 h). */
  readonly demoToken: string | null;
  /** The data plane's stage modules that are on, in request order. */
  readonly modules: readonly string[];
  readonly metrics: GatewayMetrics;
  readonly weights: WeightStore;
  readonly audit: AuditLog;
  readonly rollouts: RolloutManager;
  /** Stop accepting, let in-flight requests finish (up to drainTimeout), then release everything. */
  shutdown(reason?: string): Promise<void>;
}

/**
 * Starts what the configuration asks for: shared parts (metrics, Redis, services, audit log, release
 * machinery), the data plane's stage modules in table order, the two listeners, and the shutdown.
 */
export async function startGateway(config: ResolvedConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? pino({ level: config.logging.level, name: 'acgs-gateway' });
  const closers: Closeable[] = []; // closed in reverse order
  const closeAll = async () => {
    for (const closer of closers.reverse()) await closer.close().catch(() => {});
  };
  // Listeners that are up when a later step fails (the admin port taken, say). They close before the
  // modules do: left open, they kept the process alive and answered every request with a 500 from a
  // closed module, behind a /readyz that still said 200.
  let dataServer: Server | null = null;
  let adminServer: FastifyInstance | null = null;
  try {
    // Shared parts.
    const metrics = new GatewayMetrics();
    const responder = new Responder(metrics);
    const demo = config.demo.enabled ? await startDemoUpstreams(config.services) : [];
    closers.push({ close: () => stopDemoUpstreams(demo) });
    const redis = config.redis.url ? await RedisConnections.open(config.redis.url, logger) : null;
    if (redis) closers.push(redis);
    const table = new ServiceTable(config.services);
    const runtimes = new Map(
      config.services.map((s) => [s.name, new ServiceRuntime(s, config.proxy, metrics)]),
    );
    closers.push({
      close: async () => void (await Promise.all([...runtimes.values()].map((r) => r.close()))),
    });
    const audit = new AuditLog(config.admin.auditLog, logger);
    await audit.open();
    closers.push(audit);
    const release = await wireRollout(config, redis?.background ?? null, metrics.registry, audit, logger);
    closers.push(...release.closers);
    publishWeights(release.weights, metrics, config);

    // The data plane: every enabled module of the table, in order.
    const readiness: ReadinessCheck[] = redis ? [redis.readiness] : [];
    const memo = new Map<string, unknown>();
    let plane: DataPlane | null = null;
    const chain = await provisionChain(DATA_PLANE_MODULES, {
      config,
      logger,
      registry: metrics.registry,
      metrics,
      responder,
      redis: redis?.hot ?? null,
      table,
      runtimes,
      weights: release.weights,
      windows: release.windows,
      audit,
      readiness: () => readiness,
      draining: () => plane?.draining ?? false,
      shared: <T>(key: string, make: () => T): T => {
        if (!memo.has(key)) memo.set(key, make());
        return memo.get(key) as T;
      },
    });
    closers.push(...chain.closers);
    readiness.push(...chain.readiness);
    plane = new DataPlane({ stages: chain.stages, responder, metrics, logger });
    const server = await startDataServer(config, plane, responder, metrics);
    dataServer = server;

    // The admin plane. With no ADMIN_TOKENS (allowed only on a loopback admin address) a one-off token is
    // made and printed, so the admin plane is never open, not even on a developer's machine.
    const generatedAdminToken =
      config.adminTokens.length === 0 ? randomBytes(24).toString('base64url') : null;
    const admin = createAdminServer({
      authenticator: new AdminTokenAuthenticator(
        generatedAdminToken ? [{ name: 'local', token: generatedAdminToken }] : config.adminTokens,
        chain.adminJwt,
      ),
      registry: metrics.registry,
      audit,
      logger,
      responder,
      authorize: chain.authorizeAdmin ?? undefined,
    });
    adminServer = admin;
    for (const register of chain.adminRoutes) await register(admin);
    await registerServiceRoutes(admin, {
      runtimes,
      weights: release.weights,
      audit,
      isRolloutActive: (service) => release.manager.isRolloutActive(service),
      windows: release.windows,
    });
    registerRolloutRoutes(admin, { manager: release.manager });
    await admin.listen({ port: config.admin.port, host: config.admin.host });

    const dataUrl = urlOf(server);
    const adminUrl = urlOf(admin.server);
    logger.info(
      {
        data: dataUrl,
        admin: adminUrl,
        config: config.source,
        services: table.names,
        modules: chain.modules,
      },
      'gateway started',
    );

    let shuttingDown: Promise<void> | null = null;
    const shutdown = (reason = 'shutdown') => {
      shuttingDown ??= drainAndClose(server, admin, plane!, config.server.drainTimeout, logger, reason)
        .then(closeAll)
        .then(() => logger.info('gateway stopped'));
      return shuttingDown;
    };
    const signer = demoSignerOf({
      shared: (key, make) => (memo.has(key) ? (memo.get(key) as never) : make()),
    });
    return {
      config,
      logger,
      dataUrl,
      adminUrl,
      generatedAdminToken,
      demoToken: signer ? await signer.sign({ sub: 'demo-user', roles: ['demo'] }, 24 * 3600) : null,
      demo,
      modules: chain.modules,
      metrics,
      weights: release.weights,
      audit,
      rollouts: release.manager,
      shutdown,
    };
  } catch (err) {
    await closeListeners(dataServer, adminServer);
    await closeAll();
    throw err;
  }
}

/** A failed start's listeners: nothing was served through them yet worth draining for. */
async function closeListeners(data: Server | null, admin: FastifyInstance | null): Promise<void> {
  if (data !== null) {
    const closed = new Promise<void>((resolve) => data.close(() => resolve()));
    data.closeAllConnections();
    await closed;
  }
  await admin?.close().catch(() => {});
}

/** The weight gauges follow the store (this replica's writes and the fleet's). */
function publishWeights(weights: WeightStore, metrics: GatewayMetrics, config: ResolvedConfig): void {
  const publish = (service: string) => {
    const w = weights.get(service);
    metrics.weight.labels(service, 'green').set(w.green);
    metrics.weight.labels(service, 'blue').set(100 - w.green);
  };
  for (const service of config.services) publish(service.name);
  weights.subscribe(publish);
}

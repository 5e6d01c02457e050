import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import type { RolloutManager } from '../rollout/manager.js';
import { AdminTokenAuthenticator } from './admin/admin-auth.js';
import { createAdminServer } from './admin/admin-server.js';
import { AuditLog } from './admin/audit-log.js';
import { registerRolloutRoutes } from './admin/rollout-routes.js';
import { registerServiceRoutes } from './admin/service-routes.js';
import type { ResolvedConfig } from './config/load.js';
import type { Closeable } from './core/types.js';
import { type DemoUpstream, startDemoUpstreams, stopDemoUpstreams } from './demo/demo-upstreams.js';
import { isTrusted, normalizeAddress } from './identity/client-address.js';
import { reservedHeaderNames } from './identity/request-headers.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { answerClientError } from './pipeline/client-errors.js';
import { applyConnectionLimits } from './pipeline/connection-limits.js';
import { DataPlane, type ReadinessCheck } from './pipeline/data-plane.js';
import { Forwarder } from './proxy/forwarder.js';
import { ServiceRuntime } from './proxy/service-runtime.js';
import { recommendedRedisOptions } from './ratelimit/redis-store.js';
import { ServiceTable } from './routing/service-table.js';
import type { WeightStore } from './routing/weight-store.js';
import { wireRollout } from './wiring/rollout.js';
import { wireStages } from './wiring/stages.js';

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
  readonly metrics: GatewayMetrics;
  readonly weights: WeightStore;
  readonly audit: AuditLog;
  readonly rollouts: RolloutManager;
  /** Stop accepting, let in-flight requests finish (up to drainTimeout), then release everything. */
  shutdown(reason?: string): Promise<void>;
}

/** Builds and starts everything the configuration asks for. */
export async function startGateway(config: ResolvedConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? pino({ level: config.logging.level, name: 'acgs-gateway' });
  const closers: Closeable[] = [];
  const metrics = new GatewayMetrics();
  const demo = config.demo.enabled ? await startDemoUpstreams(config.services) : [];

  try {
    const table = new ServiceTable(config.services);
    const runtimes = new Map<string, ServiceRuntime>();
    for (const service of config.services)
      runtimes.set(service.name, new ServiceRuntime(service, config.proxy, metrics));
    closers.push({
      close: async () => void (await Promise.all([...runtimes.values()].map((r) => r.close()))),
    });

    const audit = new AuditLog(config.admin.auditLog, logger);
    await audit.open();
    closers.push(audit);
    const readiness: ReadinessCheck[] = [];

    const rollout = await wireRollout(config, metrics.registry, audit, logger);
    closers.push(...rollout.closers);
    const { weights, manager, windows } = rollout;

    const publishWeights = (service: string) => {
      const w = weights.get(service);
      metrics.weight.labels(service, 'green').set(w.green);
      metrics.weight.labels(service, 'blue').set(100 - w.green);
    };
    for (const service of config.services) publishWeights(service.name);
    weights.subscribe((service) => publishWeights(service));

    const redis = config.redis.url ? await connectRedis(config.redis.url, logger) : null;
    if (redis) {
      closers.push({ close: async () => void redis.disconnect() });
      readiness.push(() => (redis.status === 'ready' ? null : `redis is ${redis.status}`));
    }

    const { stages, identityHeaders, adminJwt, policy, demoSigner, screening, ...wired } = await wireStages(
      config,
      redis,
      metrics.registry,
      logger,
      audit,
    );
    closers.push(...wired.closers);
    readiness.push(...wired.readiness);

    let plane: DataPlane | null = null;
    const forwarder = new Forwarder({
      metrics,
      recorder: windows,
      logger,
      maxBodyBytes: config.server.maxBodyBytes,
      keepEscapedSlashes: config.server.escapedSlashes === 'keep',
      sendError: (res, ctx, error, color) => plane!.sendError(res, ctx, error, color),
    });
    plane = new DataPlane({
      config,
      table,
      runtimes,
      weights,
      stages,
      forwarder,
      headerRules: {
        underscores: config.server.headersWithUnderscores,
        reserved: reservedHeaderNames(identityHeaders),
      },
      metrics,
      logger,
      readiness,
    });

    const { requestTimeout, headersTimeout } = config.server;
    const server = createServer(
      {
        maxHeaderSize: config.server.maxHeaderBytes,
        requestTimeout,
        // node refuses a headersTimeout above a non-zero requestTimeout.
        headersTimeout: requestTimeout > 0 ? Math.min(headersTimeout, requestTimeout) : headersTimeout,
        keepAliveTimeout: config.server.keepAliveTimeout,
        // node checks the two timeouts above only this often (default 30 s): a slow client would hold its
        // connection up to 30 s past its deadline.
        connectionsCheckingInterval: 1000,
      },
      plane.handle,
    );
    server.on('checkContinue', plane.handleExpectContinue);
    server.on('clientError', answerClientError);
    applyConnectionLimits(
      server,
      {
        maxConnections: config.server.maxConnections,
        perClient: config.server.maxConnectionsPerClient,
        exempt: (peer) => config.server.trustedProxies.length > 0 && isTrusted(config.trustedProxies, peer),
        normalize: normalizeAddress,
      },
      metrics,
    );
    await listen(server, config.server.port, config.server.host);

    // With no ADMIN_TOKENS (allowed only on a loopback admin address) a one-off token is made and printed,
    // so the admin plane is never open, not even on a developer's machine.
    const generatedAdminToken =
      config.adminTokens.length === 0 ? randomBytes(24).toString('base64url') : null;
    const adminTokens = generatedAdminToken
      ? [{ name: 'local', token: generatedAdminToken }]
      : config.adminTokens;
    const admin = createAdminServer({
      authenticator: new AdminTokenAuthenticator(adminTokens, adminJwt),
      registry: metrics.registry,
      audit,
      logger,
      authorize: policy?.authorize,
    });
    policy?.registerRoutes(admin, audit);
    screening?.registerRoutes(admin);
    await registerServiceRoutes(admin, {
      runtimes,
      weights,
      audit,
      isRolloutActive: (service) => manager.isRolloutActive(service),
      windows,
    });
    await registerRolloutRoutes(admin, { manager });
    await admin.listen({ port: config.admin.port, host: config.admin.host });

    const dataUrl = urlOf(server);
    const adminUrl = urlOf(admin.server);
    logger.info(
      { data: dataUrl, admin: adminUrl, config: config.source, services: table.names },
      'gateway started',
    );

    let shuttingDown: Promise<void> | null = null;
    const shutdown = (reason = 'shutdown') => {
      shuttingDown ??= drainAndClose(server, admin, plane!, config.server.drainTimeout, logger, reason).then(
        async () => {
          for (const closer of closers.reverse()) await closer.close();
          await stopDemoUpstreams(demo);
          logger.info('gateway stopped');
        },
      );
      return shuttingDown;
    };
    const demoToken = demoSigner
      ? await demoSigner.sign({ sub: 'demo-user', roles: ['demo'] }, 24 * 3600)
      : null;
    return {
      config,
      logger,
      dataUrl,
      adminUrl,
      generatedAdminToken,
      demoToken,
      demo,
      metrics,
      weights,
      audit,
      rollouts: manager,
      shutdown,
    };
  } catch (err) {
    for (const closer of closers.reverse()) await closer.close().catch(() => {});
    await stopDemoUpstreams(demo);
    throw err;
  }
}

async function drainAndClose(
  server: Server,
  admin: FastifyInstance,
  plane: DataPlane,
  drainTimeout: number,
  logger: Logger,
  reason: string,
): Promise<void> {
  logger.info(
    { reason, inFlight: plane.inFlight, drainTimeout },
    'draining: no new connections, finishing requests in flight',
  );
  // net.Server's close, not http.Server's: since Node 19 the latter also drops idle keep-alive connections
  // at once, which is exactly the race the grace below avoids. The callback runs when the last one ends.
  const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
  const started = Date.now();
  // Every answer from now on carries `Connection: close`. Busy keep-alive connections learn it on their next
  // response; closing idle ones at once would race a client that is just sending on one (ECONNRESET for a
  // request it believes was delivered), so they get a short grace in which their requests are still served.
  const grace = Math.min(1000, drainTimeout);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), drainTimeout);
  });
  await new Promise((resolve) => setTimeout(resolve, grace));
  const expired = await Promise.race([plane.drain().then(() => false), timedOut]);
  clearTimeout(timer);
  if (expired)
    logger.warn({ inFlight: plane.inFlight }, 'drain timeout reached; closing remaining connections');
  else logger.info({ ms: Date.now() - started }, 'drained');
  server.closeIdleConnections();
  server.closeAllConnections();
  await closed;
  await admin.close();
}

/** One shared client for rate limiting (auto-pipelined, bounded waits); start waits briefly for it. */
async function connectRedis(url: string, logger: Logger): Promise<Redis> {
  const redis = new Redis(url, { ...recommendedRedisOptions, lazyConnect: true });
  let lastError = '';
  redis.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn({ err: err.message }, 'redis connection problem');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError !== '') logger.info('redis connection restored');
    lastError = '';
  });
  // Not ready within 3 s: start anyway; /readyz says so and each limit's failMode decides meanwhile.
  await Promise.race([redis.connect().catch(() => {}), new Promise((r) => setTimeout(r, 3000).unref())]);
  return redis;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
}

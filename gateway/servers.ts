// The two listeners: opening them with the configured limits, and draining and closing them on shutdown.
import { createServer, type Server } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import type { Responder } from './http/responder.js';
import { isTrusted, normalizeAddress } from './identity/client-address.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import { applyConnectionLimits } from './pipeline/connection-limits.js';
import type { DataPlane } from './pipeline/data-plane.js';

/** The data-plane listener: node's parser limits, slow-client timeouts, connection caps, 100-continue. */
export async function startDataServer(
  config: ResolvedConfig,
  plane: DataPlane,
  responder: Responder,
  metrics: GatewayMetrics,
): Promise<Server> {
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
      // Checked by the identity stage, which answers in the JSON shape (node's own 400 has no body).
      requireHostHeader: false,
    },
    plane.handle,
  );
  server.on('checkContinue', plane.handleExpectContinue);
  // Any other Expect value: the identity stage answers 417 in the JSON shape (node's own has no body).
  server.on('checkExpectation', plane.handle);
  server.on('clientError', responder.parserError);
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * Drains the data plane: no new connections, every answer from now on says `Connection: close`, requests
 * in flight may finish within drainTimeout; then both listeners close.
 */
export async function drainAndClose(
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
  // Busy keep-alive connections learn `Connection: close` on their next response; closing idle ones at
  // once would race a client that is just sending on one (ECONNRESET for a request it believes was
  // delivered), so they get a short grace in which their requests are still served.
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

/** e.g. http://127.0.0.1:8080 (a wildcard bind is reported as loopback, which is where it answers). */
export function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
}

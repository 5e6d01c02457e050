import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';

export interface ConnectionLimits {
  /** Open connections in total (node's server.maxConnections: further ones are closed at accept). */
  readonly maxConnections: number;
  /** Open connections per peer address; 0 = no cap. */
  readonly perClient: number;
  /** Peers exempt from the per-address cap (trusted proxies carry many clients). */
  readonly exempt: (peerIp: string) => boolean;
  readonly normalize: (address: string | undefined) => string;
}

/**
 * Caps connections so one greedy client cannot hold the process's file descriptors: a total cap (node
 * drops the socket at accept) and a per-address cap, checked on 'connection' with one map entry per
 * address that has open connections. Over the cap, the socket is closed before anything is read.
 */
export function applyConnectionLimits(
  server: Server,
  limits: ConnectionLimits,
  metrics: GatewayMetrics,
): void {
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => metrics.connectionRefused('max_connections'));
  if (limits.perClient <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const peer = limits.normalize(socket.remoteAddress);
    if (limits.exempt(peer)) return;
    const count = (open.get(peer) ?? 0) + 1;
    if (count > limits.perClient) {
      metrics.connectionRefused('per_client');
      socket.destroy();
      return;
    }
    open.set(peer, count);
    socket.once('close', () => {
      const left = (open.get(peer) ?? 1) - 1;
      if (left <= 0) open.delete(peer);
      else open.set(peer, left);
    });
  });
}

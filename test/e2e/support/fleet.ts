// Two (or more) real `acgs-gateway start` processes sharing one Redis key prefix: the fleet of the e2e tests.
import { Redis } from 'ioredis';
import type { ServiceSpec } from '../../helpers/gateway.js';
import { type GatewayProcess, spawnGateway } from '../../helpers/process.js';
import { type DemoColor, demoService, REDIS_URL } from './rollout-e2e.js';

export interface FleetOptions {
  readonly prefix: string;
  readonly service: string;
  readonly green?: DemoColor;
  /** Extra config sections (rollout, rateLimit, ...), the same for every replica. */
  readonly extra?: Record<string, unknown>;
}

/**
 * Starts one replica. Each replica runs its own in-process demo upstreams, so each needs its own ports;
 * the service (name, prefix, demo behaviour) is the same everywhere, as in a real fleet.
 */
export async function startReplica(options: FleetOptions): Promise<GatewayProcess> {
  // The demo upstreams' ports are picked free before the start; a parallel test may take one in between,
  // so such a start is retried on new ports.
  for (let attempt = 1; ; attempt++) {
    const services: Record<string, ServiceSpec> = {
      [options.service]: await demoService(options.green ?? {}),
    };
    try {
      return await spawnGateway(services, {
        demo: { enabled: true },
        redis: { url: REDIS_URL, keyPrefix: options.prefix },
        ...options.extra,
      });
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

/** The leader lease of a prefix: `hostname:pid:random` of the replica that holds it, or null. */
export async function leaderOf(redis: Redis, prefix: string): Promise<string | null> {
  return redis.get(`${prefix}{rollout}:leader`);
}

export function pidOfHolder(holder: string | null): number | null {
  if (holder === null) return null;
  const parts = holder.split(':');
  return parts.length >= 3 ? Number(parts[parts.length - 2]) : null;
}

export function newRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
}

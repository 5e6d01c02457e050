// Two (or more) real `acgs-gateway start` processes sharing one Redis key prefix: the fleet of the e2e tests.
import { Redis } from 'ioredis';
import { type GatewayProcess, spawnGateway } from '../../helpers/process.js';
import { type DemoColor, demoService, REDIS_URL, retryOnPortClash } from './rollout-e2e.js';

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
  return retryOnPortClash(async () =>
    spawnGateway(
      { [options.service]: await demoService(options.green ?? {}) },
      {
        demo: { enabled: true },
        redis: { url: REDIS_URL, keyPrefix: options.prefix },
        ...options.extra,
      },
    ),
  );
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

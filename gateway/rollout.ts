import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Closeable } from '../core/types.js';
import type { WeightStore } from '../core/weight-store.js';
import { defaultParams } from '../rollout/config.js';
import { RedisFleetWindows } from '../rollout/fleet-windows.js';
import { type Leadership, LocalLeadership, RedisLeaderLease } from '../rollout/leader.js';
import { LiveWindows } from '../rollout/live-windows.js';
import { RolloutManager } from '../rollout/manager.js';
import { RedisRolloutStore } from '../rollout/redis-rollout-store.js';
import { MemoryRolloutStore } from '../rollout/rollout-store.js';
import { LocalWindowSource, type WindowSource } from '../rollout/window-source.js';
import type { AuditLog } from './admin/audit-log.js';
import type { ResolvedConfig } from './config/load.js';
import { MemoryWeightStore } from './routing/memory-weight-store.js';
import { RedisWeightStore } from './routing/redis-weight-store.js';

export interface RolloutWiring {
  readonly windows: LiveWindows;
  readonly weights: WeightStore;
  readonly manager: RolloutManager;
  /** In reverse order of creation: close the manager before the stores it writes to. */
  readonly closers: Closeable[];
}

/**
 * The release machinery: live windows fed by the proxy, the weight store the router reads, and the
 * rollout manager. With Redis the fleet shares weights, rollout state and windows, and one leader drives;
 * without, the same interfaces run in memory for a single replica.
 */
export async function wireRollout(
  config: ResolvedConfig,
  redis: Redis | null,
  registry: Registry,
  audit: AuditLog,
  logger: Logger,
): Promise<RolloutWiring> {
  const services = config.services.map((s) => s.name);
  const initial = Object.fromEntries(
    config.services.map((s) => [s.name, { green: s.weights.green, stable: s.stable }]),
  );
  const windows = new LiveWindows({ services, seconds: config.rollout.windowSeconds });
  const closers: Closeable[] = [];

  let weights: WeightStore;
  let store: MemoryRolloutStore | RedisRolloutStore;
  let source: WindowSource;
  let leadership: Leadership;
  if (redis) {
    // The background connection (RedisConnections): this work may queue while Redis blips.
    const prefix = config.redis.keyPrefix;
    weights = await RedisWeightStore.open({
      redis,
      prefix,
      services: initial,
      rereadMs: config.rollout.weightRereadMs,
    });
    closers.push(weights);
    store = new RedisRolloutStore({ redis, prefix });
    const fleet = new RedisFleetWindows({
      redis,
      prefix,
      local: windows,
      flushIntervalMs: config.rollout.flushIntervalMs,
    });
    fleet.start();
    closers.push(fleet);
    source = fleet;
    const lease = new RedisLeaderLease({
      redis,
      prefix,
      id: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      ttlMs: config.rollout.leaseTtlMs,
      onChange: (leader, fence) =>
        logger.info({ leader, fence }, leader ? 'rollout leadership acquired' : 'rollout leadership lost'),
    });
    await lease.start();
    closers.push(lease);
    leadership = lease;
  } else {
    weights = new MemoryWeightStore(Object.entries(initial));
    closers.push(weights);
    store = new MemoryRolloutStore();
    source = new LocalWindowSource(windows);
    leadership = new LocalLeadership();
  }

  const manager = new RolloutManager({
    services,
    weights,
    store,
    windows: source,
    leadership,
    defaults: defaultParams(config.rollout),
    tickMs: config.rollout.tickMs,
    windowSeconds: config.rollout.windowSeconds,
    registry,
    onTransition: async ({ service, rolloutId, transition }) => {
      await audit.append({
        actor: transition.actor,
        action: `rollout.${transition.to}`,
        target: service,
        before: { state: transition.from },
        after: { state: transition.to, weight: transition.weight, rolloutId },
        reason: transition.reason,
      });
    },
    onError: (err, service) => logger.warn({ err, service }, 'rollout controller problem'),
  });
  manager.run();
  closers.push(manager);
  return { windows, weights, manager, closers };
}

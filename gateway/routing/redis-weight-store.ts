import type { Redis, Result } from 'ioredis';
import type { Color } from '../../core/types.js';
import {
  type ServiceWeights,
  StaleFenceError,
  type WeightStore,
  type WeightUpdate,
} from '../../core/weight-store.js';
import { type RolloutKeys, rolloutKeys } from '../../rollout/keys.js';

// KEYS[1] the service's hash {green, stable, revision, fence}; KEYS[2] the leader's fencing counter.
// ARGV: green, stable ('' keeps it), fence ('' for an operator's unfenced write), channel, service,
// the writer's known revision (the new revision is always above it: a Redis that lost its data, as one
// restarted without persistence does, would otherwise count from 1 again, and every replica would ignore
// the "older" writes until the count caught up).
const SET_WEIGHTS = `
local fence = tonumber(ARGV[3])
if fence then
  local newest = tonumber(redis.call('GET', KEYS[2]) or '0')        -- the newest token ever issued
  local seen = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0') -- the newest that wrote here
  if seen > newest then newest = seen end
  if fence < newest then return {0, newest} end                      -- a deposed leader: refuse
  redis.call('HSET', KEYS[1], 'fence', fence)
end
local stable = ARGV[2]
if stable == '' then stable = redis.call('HGET', KEYS[1], 'stable') or 'blue' end
local revision = redis.call('HINCRBY', KEYS[1], 'revision', 1)      -- orders writes for the replicas
local known = tonumber(ARGV[6]) or 0
if revision <= known then
  revision = known + 1
  redis.call('HSET', KEYS[1], 'revision', revision)
end
redis.call('HSET', KEYS[1], 'green', ARGV[1], 'stable', stable)
redis.call('PUBLISH', ARGV[4], cjson.encode({service = ARGV[5], green = tonumber(ARGV[1]), stable = stable, revision = revision}))
return {1, revision}
`;

// KEYS[1] the service's hash; ARGV: initial green, initial stable, initial revision (default 0).
// Creates it only when missing.
const INIT_WEIGHTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'green', ARGV[1], 'stable', ARGV[2], 'revision', tonumber(ARGV[3]) or 0, 'fence', 0)
end
return redis.call('HMGET', KEYS[1], 'green', 'stable', 'revision')
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    acgsSetWeights(
      key: string,
      fenceKey: string,
      green: string,
      stable: string,
      fence: string,
      channel: string,
      service: string,
      knownRevision: string,
    ): Result<[number, number], Context>;
    acgsInitWeights(
      key: string,
      green: string,
      stable: string,
      revision?: string,
    ): Result<(string | null)[], Context>;
  }
}

export interface RedisWeightStoreOptions {
  /** Used for commands; not closed by the store. A duplicate is made (and closed) for SUBSCRIBE. */
  readonly redis: Redis;
  readonly prefix: string;
  /** Every service, with the split to create when Redis has none yet. */
  readonly services: Readonly<Record<string, { readonly green: number; readonly stable: Color }>>;
  /** Periodic re-read of every service, healing a missed pub/sub message. */
  readonly rereadMs?: number;
}

function parseWeights(fields: (string | null)[]): ServiceWeights | null {
  const [green, stable, revision] = fields;
  if (green == null || (stable !== 'blue' && stable !== 'green') || revision == null) return null;
  return { green: Number(green), stable, revision: Number(revision) };
}

/**
 * The fleet's weights: one Redis hash per service, written only through SET_WEIGHTS (fencing check,
 * revision bump and PUBLISH in one step). Each replica keeps a local copy that `get` reads without I/O,
 * updated by the pub/sub message and by a re-read every `rereadMs`; a copy only moves to a higher
 * revision, so a late re-read reply never undoes a newer message.
 */
export class RedisWeightStore implements WeightStore {
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #keys: RolloutKeys;
  readonly #local = new Map<string, ServiceWeights>();
  readonly #listeners = new Set<(service: string, weights: ServiceWeights) => void>();
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: RedisWeightStoreOptions) {
    this.#redis = options.redis;
    this.#keys = rolloutKeys(options.prefix);
    this.#sub = options.redis.duplicate();
    if (typeof this.#redis.acgsSetWeights !== 'function') {
      this.#redis.defineCommand('acgsSetWeights', { numberOfKeys: 2, lua: SET_WEIGHTS });
      this.#redis.defineCommand('acgsInitWeights', { numberOfKeys: 1, lua: INIT_WEIGHTS });
    }
  }

  /** Creates missing hashes, loads every service and subscribes before resolving. */
  static async open(options: RedisWeightStoreOptions): Promise<RedisWeightStore> {
    const store = new RedisWeightStore(options);
    try {
      store.#sub.on('message', (_channel: string, message: string) => store.#onMessage(message));
      await store.#sub.subscribe(store.#keys.weightsChannel);
      for (const [service, initial] of Object.entries(options.services)) {
        const fields = await store.#redis.acgsInitWeights(
          store.#keys.weights(service),
          String(initial.green),
          initial.stable,
        );
        const weights = parseWeights(fields);
        if (!weights) throw new Error(`weights of ${service} in Redis are malformed`);
        store.#local.set(service, weights);
      }
    } catch (error) {
      store.#sub.disconnect();
      throw error;
    }
    const rereadMs = options.rereadMs ?? 1000;
    store.#timer = setInterval(() => {
      store.reread().catch(() => {
        // Redis unreachable: keep serving the last known split; the next re-read retries.
      });
    }, rereadMs);
    store.#timer.unref();
    return store;
  }

  get(service: string): ServiceWeights {
    const weights = this.#local.get(service);
    if (!weights) throw new Error(`unknown service ${service}`);
    return weights;
  }

  async set(service: string, update: WeightUpdate, fence?: number): Promise<ServiceWeights> {
    const current = this.get(service);
    if (!Number.isInteger(update.green) || update.green < 0 || update.green > 100) {
      throw new RangeError(`green must be an integer 0..100, got ${update.green}`);
    }
    const [ok, value] = await this.#redis.acgsSetWeights(
      this.#keys.weights(service),
      this.#keys.fence,
      String(update.green),
      update.stable ?? '',
      fence === undefined ? '' : String(fence),
      this.#keys.weightsChannel,
      service,
      String(current.revision),
    );
    if (ok === 0) throw new StaleFenceError(fence ?? 0, value);
    const weights = { green: update.green, stable: update.stable ?? current.stable, revision: value };
    this.#adopt(service, weights);
    return this.get(service);
  }

  subscribe(listener: (service: string, weights: ServiceWeights) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads every service from Redis (pipelined); the timer calls it, tests may too. */
  async reread(): Promise<void> {
    const services = [...this.#local.keys()];
    const pipeline = this.#redis.pipeline();
    for (const service of services)
      pipeline.hmget(this.#keys.weights(service), 'green', 'stable', 'revision');
    const replies = (await pipeline.exec()) ?? [];
    const lost: string[] = [];
    replies.forEach(([error, fields], i) => {
      if (error) return;
      const weights = parseWeights(fields as (string | null)[]);
      if (weights) this.#adopt(services[i]!, weights);
      else if ((fields as (string | null)[]).every((f) => f === null)) lost.push(services[i]!);
    });
    // The hash is gone (a Redis restarted without its data): put back the last known split, so a replica
    // starting now reads what the fleet serves instead of its configured initial weights.
    for (const service of lost) {
      const known = this.#local.get(service)!;
      await this.#redis.acgsInitWeights(
        this.#keys.weights(service),
        String(known.green),
        known.stable,
        String(known.revision),
      );
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#listeners.clear();
    this.#sub.disconnect();
  }

  #onMessage(message: string): void {
    try {
      const { service, green, stable, revision } = JSON.parse(message) as Record<string, unknown>;
      if (typeof service !== 'string' || !this.#local.has(service)) return;
      if (
        typeof green !== 'number' ||
        (stable !== 'blue' && stable !== 'green') ||
        typeof revision !== 'number'
      ) {
        return;
      }
      this.#adopt(service, { green, stable, revision });
    } catch {
      // Not ours or garbled: the periodic re-read repairs whatever it should have said.
    }
  }

  #adopt(service: string, weights: ServiceWeights): void {
    const current = this.#local.get(service);
    if (current && current.revision >= weights.revision) return;
    this.#local.set(service, weights);
    for (const listener of this.#listeners) listener(service, weights);
  }
}

RedisWeightStore.open satisfies (options: RedisWeightStoreOptions) => Promise<WeightStore>;

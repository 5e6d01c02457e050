import type { Redis, Result } from 'ioredis';
import type { Rollout } from './controller.js';
import type { RolloutStore } from './rollout-store.js';

// KEYS[1] hash {version, rollout}; ARGV[1] expected version ('' = none stored), ARGV[2] new version,
// ARGV[3] the rollout as JSON.
const COMPARE_AND_SET = `
local current = redis.call('HGET', KEYS[1], 'version')   -- false when the hash does not exist
if (current or '') ~= ARGV[1] then return 0 end            -- someone wrote in between: refuse
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'rollout', ARGV[3])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    acgsRolloutCas(key: string, expected: string, version: string, json: string): Result<number, Context>;
  }
}

export interface RedisRolloutStoreOptions {
  readonly redis: Redis;
  /** e.g. 'acgs:'; keys are `${prefix}rollout:{service}`. */
  readonly prefix: string;
}

/**
 * Rollouts as JSON in one hash per service. Does not own (close) the connection. A read while Redis is
 * unreachable answers the last value read or written (the admin plane keeps showing the state it knew);
 * writes still fail, so no decision is taken on a stale copy.
 */
export class RedisRolloutStore implements RolloutStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #lastKnown = new Map<string, Rollout | null>();

  constructor(options: RedisRolloutStoreOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    if (typeof this.#redis.acgsRolloutCas !== 'function') {
      this.#redis.defineCommand('acgsRolloutCas', { numberOfKeys: 1, lua: COMPARE_AND_SET });
    }
  }

  key(service: string): string {
    return `${this.#prefix}rollout:{${service}}`;
  }

  async get(service: string): Promise<Rollout | null> {
    let json: string | null;
    try {
      json = await this.#redis.hget(this.key(service), 'rollout');
    } catch (error) {
      if (this.#lastKnown.has(service)) return this.#lastKnown.get(service)!;
      throw error;
    }
    const rollout = json === null ? null : (JSON.parse(json) as Rollout);
    this.#lastKnown.set(service, rollout);
    return rollout;
  }

  async compareAndSet(service: string, expected: number | null, next: Rollout): Promise<boolean> {
    const ok = await this.#redis.acgsRolloutCas(
      this.key(service),
      expected === null ? '' : String(expected),
      String(next.version),
      JSON.stringify(next),
    );
    if (ok === 1) this.#lastKnown.set(service, next);
    return ok === 1;
  }

  async close(): Promise<void> {}
}

RedisRolloutStore satisfies new (
  options: RedisRolloutStoreOptions,
) => RolloutStore;

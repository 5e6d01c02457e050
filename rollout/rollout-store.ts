import type { Closeable } from '../core/types.js';
import type { Rollout } from './controller.js';

/**
 * Where each service's latest rollout is kept: in memory (one replica) or Redis (the fleet, so a new
 * leader carries a rollout on). Writes are compare-and-set on `version`, so the leader's tick and an
 * operator's action on another replica cannot overwrite each other.
 */
export interface RolloutStore extends Closeable {
  get(service: string): Promise<Rollout | null>;
  /**
   * Stores `next` if the stored rollout's version is `expected` (null: none stored yet).
   * Returns false, storing nothing, when someone else wrote in between.
   */
  compareAndSet(service: string, expected: number | null, next: Rollout): Promise<boolean>;
}

export class MemoryRolloutStore implements RolloutStore {
  readonly #rollouts = new Map<string, Rollout>();

  async get(service: string): Promise<Rollout | null> {
    return this.#rollouts.get(service) ?? null;
  }

  async compareAndSet(service: string, expected: number | null, next: Rollout): Promise<boolean> {
    const current = this.#rollouts.get(service);
    if ((current?.version ?? null) !== expected) return false;
    // A copy, so the caller mutating its object cannot change the store's (the Redis store serialises).
    this.#rollouts.set(service, structuredClone(next));
    return true;
  }

  async close(): Promise<void> {}
}

MemoryRolloutStore satisfies new () => RolloutStore;

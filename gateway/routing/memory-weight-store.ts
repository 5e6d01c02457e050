import type { Color } from '../../core/types.js';
import {
  type ServiceWeights,
  StaleFenceError,
  type WeightStore,
  type WeightUpdate,
} from '../../core/weight-store.js';

/** The split of every service for a single replica (the embedded default, tests). */
export class MemoryWeightStore implements WeightStore {
  readonly #weights = new Map<string, ServiceWeights>();
  readonly #listeners = new Set<(service: string, weights: ServiceWeights) => void>();
  #newestFence = 0;

  constructor(initial: Iterable<[string, { green: number; stable: Color }]>) {
    for (const [service, { green, stable }] of initial)
      this.#weights.set(service, { green, stable, revision: 0 });
  }

  get(service: string): ServiceWeights {
    const weights = this.#weights.get(service);
    if (!weights) throw new Error(`unknown service ${service}`);
    return weights;
  }

  async set(service: string, update: WeightUpdate, fence?: number): Promise<ServiceWeights> {
    const current = this.get(service);
    if (fence !== undefined) {
      if (fence < this.#newestFence) throw new StaleFenceError(fence, this.#newestFence);
      this.#newestFence = fence;
    }
    const next: ServiceWeights = {
      green: update.green,
      stable: update.stable ?? current.stable,
      revision: current.revision + 1,
    };
    this.#weights.set(service, next);
    for (const listener of this.#listeners) listener(service, next);
    return next;
  }

  subscribe(listener: (service: string, weights: ServiceWeights) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

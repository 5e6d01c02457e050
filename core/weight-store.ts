import type { Closeable, Color } from './types.js';

/** The traffic split of one service. */
export interface ServiceWeights {
  /** Share of users sent to green, 0..100. Blue gets the rest. */
  readonly green: number;
  /** The colour that currently serves as the release baseline. */
  readonly stable: Color;
  /** Increases with every accepted write, so replicas can tell newer from older. */
  readonly revision: number;
}

export interface WeightUpdate {
  readonly green: number;
  readonly stable?: Color;
}

/**
 * Where the split of each service lives. Two implementations: in memory (one replica) and Redis
 * (the fleet; pub/sub plus periodic re-read). `get` is on the hot path and must never do I/O.
 */
export interface WeightStore extends Closeable {
  /** The current split from the local view. Throws for an unknown service. */
  get(service: string): ServiceWeights;
  /**
   * Writes a new split. `fence` is the rollout leader's fencing token: a write carrying a token older
   * than the newest one seen is refused (StaleFenceError), so a deposed leader cannot undo a newer decision.
   */
  set(service: string, update: WeightUpdate, fence?: number): Promise<ServiceWeights>;
  /** Called after the local view of a service changed (own write or another replica's). */
  subscribe(listener: (service: string, weights: ServiceWeights) => void): () => void;
}

export class StaleFenceError extends Error {
  constructor(
    readonly fence: number,
    readonly newest: number,
  ) {
    super(`fencing token ${fence} is older than ${newest}: this replica is no longer the leader`);
    this.name = 'StaleFenceError';
  }
}

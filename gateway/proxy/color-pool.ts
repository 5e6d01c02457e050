import type { BreakerConfig, TimeoutsConfig } from '../config/schema.js';
import { Upstream } from './upstream.js';

/**
 * The upstreams of one service colour. Selection is round robin over the upstreams whose breaker lets
 * traffic through (Caddy's `round_robin` policy): cheap, fair with equal hosts, and a removed host simply
 * drops out of the rotation until its probe succeeds.
 */
export class ColorPool {
  readonly upstreams: readonly Upstream[];
  #next = 0;

  constructor(
    urls: readonly string[],
    timeouts: TimeoutsConfig,
    breaker: BreakerConfig,
    connections: number,
    keepAlive: number,
  ) {
    this.upstreams = urls.map((url) => new Upstream(url, timeouts, breaker, connections, keepAlive));
  }

  /** The next available upstream, skipping `exclude` (the one that just failed); null when none is available. */
  pick(exclude?: Upstream): Upstream | null {
    const list = this.upstreams;
    const n = list.length;
    for (let i = 0; i < n; i++) {
      const candidate = list[(this.#next + i) % n]!;
      if (candidate !== exclude && candidate.available) {
        this.#next = (this.#next + i + 1) % n;
        return candidate;
      }
    }
    return null;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.destroy()));
  }
}

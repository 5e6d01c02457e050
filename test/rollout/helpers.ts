import type { Color } from '../../core/types.js';
import {
  type ServiceWeights,
  StaleFenceError,
  type WeightStore,
  type WeightUpdate,
} from '../../core/weight-store.js';
import type { WindowSummary } from '../../rollout/window-counts.js';

/** A synthetic window summary: only the fields the analysis reads matter. */
export function win(requests: number, errors = 0, p99Ms = 10, seconds = 30): WindowSummary {
  return {
    seconds,
    requests,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    rps: requests / seconds,
    p50Ms: p99Ms / 2,
    p95Ms: p99Ms * 0.9,
    p99Ms,
  };
}

/** A fake clock tests move by hand. */
export function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    set(ms: number) {
      now = ms;
    },
  };
}

/** Minimal in-memory WeightStore for the manager tests (the gateway's own lives in gateway/routing). */
export class TestWeightStore implements WeightStore {
  readonly weights = new Map<string, ServiceWeights>();
  readonly writes: { service: string; update: WeightUpdate; fence: number | undefined }[] = [];
  newestFence = 0;

  constructor(services: readonly string[], stable: Color = 'blue') {
    for (const s of services) this.weights.set(s, { green: 0, stable, revision: 0 });
  }
  get(service: string): ServiceWeights {
    const w = this.weights.get(service);
    if (!w) throw new Error(`unknown service ${service}`);
    return w;
  }
  async set(service: string, update: WeightUpdate, fence?: number): Promise<ServiceWeights> {
    if (fence !== undefined) {
      if (fence < this.newestFence) throw new StaleFenceError(fence, this.newestFence);
      this.newestFence = fence;
    }
    const current = this.get(service);
    const next = {
      green: update.green,
      stable: update.stable ?? current.stable,
      revision: current.revision + 1,
    };
    this.weights.set(service, next);
    this.writes.push({ service, update, fence });
    return next;
  }
  subscribe(): () => void {
    return () => {};
  }
  async close(): Promise<void> {}
}

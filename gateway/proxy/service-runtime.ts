import { COLORS, type Color } from '../../core/types.js';
import type { ResolvedService } from '../config/load.js';
import type { BreakerConfig, TimeoutsConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { ColorPool } from './color-pool.js';

export interface ProxyDefaults {
  readonly timeouts: TimeoutsConfig;
  readonly breaker: BreakerConfig;
  readonly connectionsPerUpstream: number;
  readonly keepAliveTimeout: number;
}

/** A service as the proxy uses it: its config, merged timeouts and one upstream pool per colour. */
export class ServiceRuntime {
  readonly name: string;
  readonly config: ResolvedService;
  readonly timeouts: TimeoutsConfig;
  readonly pools: Record<Color, ColorPool>;

  constructor(config: ResolvedService, defaults: ProxyDefaults, metrics: GatewayMetrics) {
    this.name = config.name;
    this.config = config;
    this.timeouts = { ...defaults.timeouts, ...config.timeouts };
    const make = (color: Color) =>
      new ColorPool(
        config[color].upstreams,
        this.timeouts,
        defaults.breaker,
        defaults.connectionsPerUpstream,
        defaults.keepAliveTimeout,
      );
    this.pools = { blue: make('blue'), green: make('green') };
    metrics.bindService(config.name);
    for (const color of COLORS) {
      for (const upstream of this.pools[color].upstreams) {
        const gauge = metrics.breakerState.labels(config.name, color, upstream.url);
        gauge.set(0);
        upstream.onStateChange((state) => gauge.set(state === 'closed' ? 0 : state === 'half_open' ? 1 : 2));
      }
    }
  }

  /** After the drain: nothing of ours is in flight any more, so whatever is left is abandoned, not awaited. */
  async close(): Promise<void> {
    await Promise.all([this.pools.blue.destroy(), this.pools.green.destroy()]);
  }
}

import type { Color } from '../core/types.js';
import type { LiveWindows } from './live-windows.js';
import type { WindowSummary } from './window-counts.js';

/**
 * Where the rollout controller reads its windows: this replica's own (one replica, the embedded default)
 * or the fleet-wide merge in Redis (fleet-windows.ts).
 */
export interface WindowSource {
  /** The last `seconds` seconds up to `nowMs`. */
  read(service: string, color: Color, seconds: number, nowMs: number): Promise<WindowSummary>;
}

export class LocalWindowSource implements WindowSource {
  constructor(readonly windows: LiveWindows) {}

  async read(service: string, color: Color, seconds: number, nowMs: number): Promise<WindowSummary> {
    return this.windows.summary(service, color, seconds, nowMs);
  }
}

LocalWindowSource satisfies new (
  windows: LiveWindows,
) => WindowSource;

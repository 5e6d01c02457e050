import type { Color } from './types.js';

/**
 * Receives the outcome of every proxied request (the live windows of the rollout controller implement
 * it). Called on the hot path: implementations must not allocate or do I/O.
 * `status` is the status sent to the client; transport failures arrive as 502/503/504 with `transportError`.
 */
export interface OutcomeRecorder {
  record(service: string, color: Color, status: number, durationMs: number, transportError: boolean): void;
}

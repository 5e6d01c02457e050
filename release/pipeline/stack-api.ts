// The stack module (release/stack), loaded lazily: `pipeline --list-steps` or a production-only run
// never needs it, and its failure to load is a precondition problem of staging_deployment, not a crash.

export type StackApi = typeof import('../stack/index.js');
export type { StackProgress, StackUpOptions } from '../stack/index.js';

export async function loadStackApi(): Promise<StackApi> {
  try {
    return await import('../stack/index.js');
  } catch (error) {
    throw new Error(`the stack module (release/stack) cannot be loaded: ${(error as Error).message}`);
  }
}

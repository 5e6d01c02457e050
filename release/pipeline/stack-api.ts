import type { Environment, StackDriver, StackState } from '../contracts.js';

// The stack engineer's module (release/stack/index.ts), used through the interface both sides agreed on.
// Loaded lazily: `pipeline --list-steps` or a production-only run never needs it.

export interface StackProgress {
  component: string;
  status: 'starting' | 'healthy' | 'failed' | 'stopped';
  message?: string;
}

export interface StackUpOptions {
  environment: Environment;
  driver: StackDriver;
  replicas?: number;
  config?: string;
  replicaEnv?: Record<number, Record<string, string>>;
  stateDir?: string;
  onProgress?: (p: StackProgress) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface StackApi {
  stackUp(o: StackUpOptions): Promise<StackState>;
  stackDown(o: { environment: Environment; stateDir?: string }): Promise<void>;
  stackStatus(o: { environment: Environment; stateDir?: string }): Promise<{
    state: StackState | null;
    components: { name: string; healthy: boolean; detail: string }[];
  }>;
}

// A specifier in a variable keeps the compiler from requiring the module before the stack branch lands;
// tsx and node resolve it at run time like any import.
const STACK_MODULE = '../stack/index.js';

export async function loadStackApi(): Promise<StackApi> {
  try {
    return (await import(STACK_MODULE)) as StackApi;
  } catch (error) {
    throw new Error(`the stack module (release/stack) is not available: ${(error as Error).message}`);
  }
}

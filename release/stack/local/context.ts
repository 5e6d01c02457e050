import type { Environment, StackComponent } from '../../contracts.js';
import type { StackProgress } from '../types.js';

/** What every component start of the local driver shares. */
export interface LocalContext {
  readonly repo: string;
  readonly docker: string;
  readonly stateDir: string;
  readonly environment: Environment;
  /** Epoch ms by which every part must be healthy. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** PATH, HOME, ... handed to every child. */
  readonly baseEnv: NodeJS.ProcessEnv;
  /** Components started so far, in order (stopped in reverse on failure). */
  readonly started: StackComponent[];
  progress(p: StackProgress): void;
  /** Records `component` as started and saves the partial state, so `stack down` can stop it. */
  add(component: StackComponent): Promise<void>;
}

/** The string a component's command line must contain before its pid is signalled (see processes.ts). */
export function markerOf(component: StackComponent, stateDir: string): string | string[] {
  // redis-server rewrites its process title to "redis-server 127.0.0.1:PORT" soon after it starts.
  if (component.kind === 'redis' && component.url) return ['redis-server', new URL(component.url).port];
  return stateDir;
}

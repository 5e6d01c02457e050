// `stack up|down|status`: the staging or production topology, brought up by one of two drivers. `local`
// runs it as processes on this machine (state, pids and logs in var/stack/<environment>/), `compose`
// hands it to `docker compose`. The pipeline's staging_deployment step calls stackUp.

import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';
import type { Environment, StackDriver, StackState } from '../contracts.js';
import { composeDown, composePs, composeUp } from './compose/driver.js';
import { markerOf } from './local/context.js';
import { localHealth, localUp, stopComponents } from './local/driver.js';
import type { MonitoringOverrides } from './local/monitoring-config.js';
import { isOurs } from './processes.js';
import { StackError } from './stack-error.js';
import { defaultStateDir, ensureStateDir, readState, removeState, writeState } from './state.js';
import type { StackProgress } from './types.js';

export type { MonitoringOverrides } from './local/monitoring-config.js';
export { StackError } from './stack-error.js';
export type { StackProgress } from './types.js';

export interface StackUpOptions {
  environment: Environment;
  driver: StackDriver;
  /** Gateway replicas behind nginx (default 2 for staging, 3 for production). */
  replicas?: number;
  /** Gateway config file for the replicas; default: the stack's own config for that environment
   *  (demo services as separate processes, unless the config names real upstreams). */
  config?: string;
  /** Extra environment per replica index (0-based), e.g. to break one replica in a test. */
  replicaEnv?: Record<number, Record<string, string>>;
  /** Default var/stack/<environment> under the current directory. */
  stateDir?: string;
  onProgress?: (p: StackProgress) => void;
  signal?: AbortSignal;
  /** How long to wait for every part to become healthy (default 60 s). */
  timeoutMs?: number;
  // --- additive ---
  /** Environment of every replica (e.g. JWT_SECRET, LOG_LEVEL); replicaEnv wins over it. */
  gatewayEnv?: Record<string, string>;
  /** Use this Redis instead of starting a private one (the CLI passes REDIS_URL). */
  redisUrl?: string;
  /** nginx's loopback port (default: a free one). */
  nginxPort?: number;
  /** Shorter Prometheus/Alertmanager intervals, another rule file, the webhook URL (local driver). */
  monitoring?: MonitoringOverrides;
  /** Environment the children inherit PATH and HOME from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** compose driver: the env file (default config/env/<environment>.env). */
  envFile?: string;
}

export interface StackDownOptions {
  environment: Environment;
  stateDir?: string;
  // --- additive ---
  /** compose: run `docker compose down` even when no state file records an `up`. */
  driver?: StackDriver;
  env?: NodeJS.ProcessEnv;
  envFile?: string;
  onProgress?: (p: StackProgress) => void;
}

export interface StackStatus {
  state: StackState | null;
  components: { name: string; healthy: boolean; detail: string }[];
}

const DEFAULT_REPLICAS: Record<Environment, number> = { staging: 2, production: 3 };

/** What the children inherit: enough to find binaries and a home, nothing that configures a gateway. */
function baseEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'TZ'])
    if (env[name] !== undefined) out[name] = env[name];
  return out;
}

export async function stackUp(o: StackUpOptions): Promise<StackState> {
  const env = o.env ?? process.env;
  const stateDir = resolve(o.stateDir ?? defaultStateDir(o.environment));
  const timeoutMs = o.timeoutMs ?? 60_000;
  const onProgress = o.onProgress ?? (() => {});
  if (o.driver === 'compose') {
    const state = await composeUp({
      repo: PACKAGE_ROOT,
      environment: o.environment,
      envFile: o.envFile,
      timeoutMs,
      env,
    });
    await ensureStateDir(stateDir);
    await writeState(stateDir, state);
    return state;
  }
  const replicas = o.replicas ?? DEFAULT_REPLICAS[o.environment];
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16)
    throw new StackError(`stack: replicas must be 1..16, got ${replicas}`);
  await ensureStateDir(stateDir);
  const previous = await readState(stateDir);
  if (previous) {
    const alive = previous.components.filter((c) => c.pid !== null && isOurs(c.pid, markerOf(c, stateDir)));
    if (alive.length > 0) {
      throw new StackError(
        `stack: a ${previous.environment} stack is already running from ${stateDir} (${alive.map((c) => c.name).join(', ')}); run \`acgs-gateway stack down --environment ${previous.environment}\` first`,
        'stack',
      );
    }
    await removeState(stateDir);
  }
  return localUp({
    repo: PACKAGE_ROOT,
    environment: o.environment,
    stateDir,
    replicas,
    config: o.config,
    replicaEnv: o.replicaEnv ?? {},
    gatewayEnv: o.gatewayEnv ?? {},
    redisUrl: o.redisUrl,
    nginxPort: o.nginxPort,
    monitoring: o.monitoring ?? {},
    baseEnv: baseEnv(env),
    deadline: Date.now() + timeoutMs,
    signal: o.signal,
    onProgress,
  });
}

/** Stops exactly what `up` recorded (pids from state.json); a second call finds nothing and returns. */
export async function stackDown(o: StackDownOptions): Promise<void> {
  const stateDir = resolve(o.stateDir ?? defaultStateDir(o.environment));
  const env = o.env ?? process.env;
  const state = await readState(stateDir);
  const compose = {
    repo: PACKAGE_ROOT,
    environment: o.environment,
    envFile: o.envFile,
    timeoutMs: 120_000,
    env,
  };
  if (state?.driver === 'compose' || (!state && o.driver === 'compose')) {
    await composeDown(compose);
  } else if (state) {
    await stopComponents(state.components, stateDir, o.onProgress);
  }
  if (state) await removeState(stateDir);
}

export async function stackStatus(o: {
  environment: Environment;
  stateDir?: string;
  // --- additive (compose) ---
  env?: NodeJS.ProcessEnv;
  envFile?: string;
}): Promise<StackStatus> {
  const stateDir = resolve(o.stateDir ?? defaultStateDir(o.environment));
  const state = await readState(stateDir);
  if (!state) return { state: null, components: [] };
  if (state.driver === 'compose') {
    const env = o.env ?? process.env;
    const ps = await composePs({
      repo: PACKAGE_ROOT,
      environment: o.environment,
      envFile: o.envFile,
      timeoutMs: 30_000,
      env,
    });
    return {
      state,
      components: ps.map(({ component, healthy, detail }) => ({ name: component.name, healthy, detail })),
    };
  }
  return { state, components: await localHealth(state, stateDir) };
}

// The local driver: the staging/production topology as processes on this machine. Redis (given or
// private), the demo services, N replicas, nginx in front, then Alertmanager and Prometheus when the
// machine has them. A part that fails stops everything started before it, in reverse order.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Environment, StackComponent, StackState } from '../../contracts.js';
import { redisPing } from '../net.js';
import { isOurs, stopProcess } from '../processes.js';
import { StackError } from '../stack-error.js';
import { removeState, writeState } from '../state.js';
import type { StackProgress } from '../types.js';
import { probe } from '../wait.js';
import {
  startAlertmanager,
  startDemoServices,
  startNginx,
  startPrometheus,
  startRedis,
  startReplicas,
} from './components.js';
import { type LocalContext, markerOf } from './context.js';
import type { MonitoringOverrides } from './monitoring-config.js';
import { bundlePath, readBaseConfig, replicaConfig } from './stack-config.js';

export interface LocalUpOptions {
  readonly repo: string;
  readonly environment: Environment;
  readonly stateDir: string;
  readonly replicas: number;
  readonly config: string | undefined;
  readonly replicaEnv: Record<number, Record<string, string>>;
  /** Environment of every replica (JWT keys, log level, ...). */
  readonly gatewayEnv: Record<string, string>;
  readonly redisUrl: string | undefined;
  readonly nginxPort: number | undefined;
  readonly monitoring: MonitoringOverrides;
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: (p: StackProgress) => void;
}

export async function localUp(o: LocalUpOptions): Promise<StackState> {
  const adminToken = randomBytes(24).toString('base64url');
  const started: StackComponent[] = [];
  let state: StackState = {
    schema: 'acgs.stack/v1',
    environment: o.environment,
    driver: 'local',
    startedAt: new Date().toISOString(),
    target: '',
    adminUrls: [],
    replicas: [],
    prometheus: null,
    alertmanager: null,
    redisUrl: '',
    adminToken,
    components: started,
  };
  const ctx: LocalContext = {
    repo: o.repo,
    docker: join(o.repo, 'docker'),
    stateDir: o.stateDir,
    environment: o.environment,
    deadline: o.deadline,
    signal: o.signal,
    baseEnv: o.baseEnv,
    started,
    progress: o.onProgress,
    async add(component) {
      started.push(component);
      await writeState(o.stateDir, { ...state, components: [...started] });
    },
  };
  try {
    const base = await readBaseConfig(o.repo, o.config);
    // POLICY_BUNDLE for the replicas replaces the config's bundle; otherwise a missing file would only
    // show as replicas that never become ready, so it is named here, before anything starts.
    const bundle = o.gatewayEnv.POLICY_BUNDLE ? null : bundlePath(base);
    if (bundle && !existsSync(bundle)) {
      throw new StackError(
        `policy: the bundle ${bundle} (policy.bundle of ${base.source}) does not exist; build it with \`acgs-gateway policy build\` or set POLICY_BUNDLE`,
        'policy',
      );
    }
    const redisUrl = await startRedis(ctx, o.redisUrl);
    state = { ...state, redisUrl };
    const demoUrls = base.demo ? await startDemoServices(ctx, base.doc) : null;
    const configFile = join(o.stateDir, 'gateway.yaml');
    const doc = replicaConfig(base, { environment: o.environment, replicas: o.replicas, demoUrls });
    await writeFile(configFile, stringify(doc), { mode: 0o600 });
    const replicas = await startReplicas(ctx, {
      count: o.replicas,
      configFile,
      env: { ...o.gatewayEnv, REDIS_URL: redisUrl, ADMIN_TOKENS: `stack:${adminToken}` },
      replicaEnv: o.replicaEnv,
    });
    state = {
      ...state,
      replicas: replicas.map((r) => r.dataUrl),
      adminUrls: replicas.map((r) => r.adminUrl),
    };
    const target = await startNginx(ctx, { replicas, port: o.nginxPort });
    state = { ...state, target };
    const alertmanager = await startAlertmanager(ctx, o.monitoring);
    const prometheus = await startPrometheus(ctx, {
      replicas,
      adminToken,
      alertmanager,
      overrides: o.monitoring,
    });
    state = { ...state, alertmanager, prometheus, components: [...started] };
    await writeState(o.stateDir, state);
    return state;
  } catch (err) {
    const failed = err instanceof StackError ? err : new StackError(`stack: ${(err as Error).message}`);
    if (failed.component)
      o.onProgress({ component: failed.component, status: 'failed', message: failed.message });
    await stopComponents(started, o.stateDir, o.onProgress);
    await removeState(o.stateDir);
    throw failed;
  }
}

/** Stops in reverse start order: nginx before the replicas, the replicas before Redis. */
export async function stopComponents(
  components: readonly StackComponent[],
  stateDir: string,
  onProgress: (p: StackProgress) => void = () => {},
): Promise<void> {
  const byPhase = [...components].reverse();
  // Replicas drain in parallel; everything else one after the other.
  const gateways = byPhase.filter((c) => c.kind === 'gateway');
  const stopOne = async (c: StackComponent) => {
    if (c.pid === null) return;
    // nginx: SIGQUIT is its graceful shutdown; everything else drains on SIGTERM.
    const signal = c.kind === 'nginx' ? 'SIGQUIT' : 'SIGTERM';
    await stopProcess(c.pid, markerOf(c, stateDir), {
      signal,
      graceMs: c.kind === 'gateway' ? 15_000 : 5000,
    });
    onProgress({ component: c.name, status: 'stopped' });
  };
  for (const c of byPhase) {
    if (c.kind === 'gateway') {
      if (c === gateways[0]) await Promise.all(gateways.map(stopOne));
      continue;
    }
    await stopOne(c);
  }
}

export async function localHealth(
  state: StackState,
  stateDir: string,
): Promise<{ name: string; healthy: boolean; detail: string }[]> {
  return Promise.all(
    state.components.map(async (c) => {
      if (c.pid !== null && !isOurs(c.pid, markerOf(c, stateDir)))
        return { name: c.name, healthy: false, detail: `process ${c.pid} is not running` };
      try {
        const pid = c.pid === null ? 'external' : `pid ${c.pid}`;
        switch (c.kind) {
          case 'redis': {
            const ok = await redisPing(c.url!);
            return {
              name: c.name,
              healthy: ok,
              detail: `${pid}, ${c.url} ${ok ? 'answers PING' : 'does not answer PING'}`,
            };
          }
          case 'gateway': {
            const r = await probe(`${c.url}/readyz`);
            return { name: c.name, healthy: r.status === 200, detail: `${pid}, ${c.url}/readyz ${r.status}` };
          }
          case 'nginx': {
            const r = await probe(`${c.url}/nginx-health`);
            return { name: c.name, healthy: r.status === 200, detail: `${pid}, ${c.url} ${r.status}` };
          }
          case 'prometheus':
          case 'alertmanager': {
            const r = await probe(`${c.url}/-/ready`);
            return {
              name: c.name,
              healthy: r.status === 200,
              detail: `${pid}, ${c.url}/-/ready ${r.status}`,
            };
          }
          default:
            return { name: c.name, healthy: true, detail: `${pid} running` };
        }
      } catch (err) {
        return { name: c.name, healthy: false, detail: (err as Error).message };
      }
    }),
  );
}

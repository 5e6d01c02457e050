// Starting each part of a local stack: spawn it detached, record it, wait until it answers. Every wait
// also watches the process, so a part that dies at start fails at once with its log, not at the deadline.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { StackComponent } from '../../contracts.js';
import { findBinary } from '../binaries.js';
import { freePort, redisPing } from '../net.js';
import { isOurs, spawnDetached, tail } from '../processes.js';
import { StackError } from '../stack-error.js';
import { probe, waitUntil } from '../wait.js';
import { type LocalContext, markerOf } from './context.js';
import type { DemoUrls } from './demo-services.js';
import { alertmanagerConfig, type MonitoringOverrides, prometheusConfig } from './monitoring-config.js';
import { nginxArgs, renderNginx } from './nginx-config.js';
import type { ConfigDoc } from './stack-config.js';

/** Throws a StackError with the log tail when the component's process is gone. */
function assertAlive(ctx: LocalContext, c: StackComponent): void {
  if (c.pid !== null && !isOurs(c.pid, markerOf(c, ctx.stateDir))) {
    const log = tail(c.log);
    throw new StackError(`${c.name}: exited during start${log ? `; last log lines:\n${log}` : ''}`, c.name);
  }
}

async function healthyWhen(ctx: LocalContext, c: StackComponent, what: string, ok: () => Promise<boolean>) {
  await waitUntil(
    c.name,
    what,
    async () => {
      assertAlive(ctx, c);
      return (await ok()) ? true : undefined;
    },
    ctx.deadline,
    ctx.signal,
  );
  ctx.progress({ component: c.name, status: 'healthy', message: c.url ?? undefined });
}

// The replicas and the demo services run from source through tsx rather than from dist/: dist/ exists
// only after `npm run build` and may be older than the checkout, while the stack should run exactly the
// code beside it (the code the tests test). The cost is about a second of start-up per process.
const tsxArgs = (ctx: LocalContext, script: string) => ['--import', 'tsx', join(ctx.repo, script)];

export async function startRedis(ctx: LocalContext, external: string | undefined): Promise<string> {
  if (external) {
    ctx.progress({ component: 'redis', status: 'starting', message: `using ${external}` });
    const c: StackComponent = { name: 'redis', kind: 'redis', pid: null, url: external, log: null };
    await healthyWhen(ctx, c, `answering PING at ${external}`, () => redisPing(external));
    await ctx.add(c);
    return external;
  }
  const bin = findBinary(['redis-server'], ctx.baseEnv.PATH);
  if (!bin)
    throw new StackError(
      'redis: redis-server is not installed (Debian: redis-server), and REDIS_URL is not set',
      'redis',
    );
  ctx.progress({ component: 'redis', status: 'starting', message: 'private redis-server' });
  const port = await freePort();
  const dir = join(ctx.stateDir, 'redis');
  await mkdir(dir, { recursive: true });
  const log = join(ctx.stateDir, 'redis.log');
  const url = `redis://127.0.0.1:${port}`;
  const pid = await spawnDetached({
    command: bin,
    args: ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    log,
    env: ctx.baseEnv,
  });
  const c: StackComponent = { name: 'redis', kind: 'redis', pid, url, log };
  await ctx.add(c);
  await healthyWhen(ctx, c, `answering PING on port ${port}`, () => redisPing(url));
  return url;
}

export async function startDemoServices(ctx: LocalContext, doc: ConfigDoc): Promise<DemoUrls> {
  ctx.progress({ component: 'services', status: 'starting', message: 'demo services' });
  const config = join(ctx.stateDir, 'demo-services.yaml');
  const ready = join(ctx.stateDir, 'demo-services.json');
  await writeFile(config, stringify({ services: doc.services }), { mode: 0o600 });
  await rm(ready, { force: true });
  const log = join(ctx.stateDir, 'services.log');
  const pid = await spawnDetached({
    command: process.execPath,
    args: [
      ...tsxArgs(ctx, 'release/stack/local/demo-services.ts'),
      '--config',
      config,
      '--ready-file',
      ready,
    ],
    cwd: ctx.repo,
    log,
    env: ctx.baseEnv,
  });
  let urls: DemoUrls | undefined;
  const c: StackComponent = { name: 'services', kind: 'service', pid, url: null, log };
  await ctx.add(c);
  await healthyWhen(ctx, c, 'listening (ready file written)', async () => {
    urls = JSON.parse(await readFile(ready, 'utf8')) as DemoUrls;
    return true;
  });
  return urls!;
}

export interface Replica {
  readonly dataUrl: string;
  readonly adminUrl: string;
}

/** Starts every replica at once, then waits for each one's banner and /readyz. */
export async function startReplicas(
  ctx: LocalContext,
  o: {
    count: number;
    configFile: string;
    env: NodeJS.ProcessEnv;
    replicaEnv: Record<number, Record<string, string>>;
  },
): Promise<Replica[]> {
  const components: StackComponent[] = [];
  for (let i = 0; i < o.count; i++) {
    const name = `gateway-${i + 1}`;
    ctx.progress({ component: name, status: 'starting' });
    const dir = join(ctx.stateDir, name);
    await mkdir(dir, { recursive: true });
    const log = join(ctx.stateDir, `${name}.log`);
    const pid = await spawnDetached({
      command: process.execPath,
      args: [...tsxArgs(ctx, 'cli/main.ts'), 'start', '--config', o.configFile],
      cwd: ctx.repo,
      log,
      env: {
        ...ctx.baseEnv,
        ...o.env,
        GATEWAY_PORT: '0',
        ADMIN_PORT: '0',
        AUDIT_LOG: join(dir, 'audit.jsonl'),
        ...o.replicaEnv[i],
      },
    });
    const c: StackComponent = { name, kind: 'gateway', pid, url: null, log };
    components.push(c);
    await ctx.add(c);
  }
  return Promise.all(
    components.map(async (c, i) => {
      const banner = await waitUntil(
        c.name,
        'listening (start banner)',
        async () => {
          assertAlive(ctx, c);
          const text = await readFile(c.log!, 'utf8');
          const data = /data plane\s+(http:\/\/\S+)/.exec(text)?.[1];
          const admin = /admin plane\s+(http:\/\/\S+)/.exec(text)?.[1];
          return data && admin ? { dataUrl: data, adminUrl: admin } : undefined;
        },
        ctx.deadline,
        ctx.signal,
      );
      const withUrl: StackComponent = { ...c, url: banner.dataUrl };
      ctx.started[ctx.started.indexOf(c)] = withUrl;
      let last = '';
      await healthyWhen(ctx, withUrl, 'ready (/readyz 200)', async () => {
        const r = await probe(`${banner.dataUrl}/readyz`);
        last = r.body;
        return r.status === 200;
      }).catch((err: unknown) => {
        throw err instanceof StackError && last
          ? new StackError(`${err.message}; /readyz answers ${last.slice(0, 300)}`, `gateway-${i + 1}`)
          : err;
      });
      return banner;
    }),
  );
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) =>
      resolve({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        output: `${stdout}${stderr}`.trim(),
      }),
    );
  });
}

export async function startNginx(
  ctx: LocalContext,
  o: { replicas: readonly Replica[]; port: number | undefined; templates?: string },
): Promise<string> {
  const bin = findBinary(['nginx'], ctx.baseEnv.PATH);
  if (!bin) throw new StackError('nginx: nginx is not installed (Debian: nginx)', 'nginx');
  ctx.progress({ component: 'nginx', status: 'starting' });
  const port = o.port ?? (await freePort());
  const prefix = join(ctx.stateDir, 'nginx');
  const conf = renderNginx({
    templates: o.templates ?? join(ctx.docker, 'nginx'),
    prefix,
    listenPort: port,
    upstreams: o.replicas.map((r) => new URL(r.dataUrl).host),
    root: process.getuid?.() === 0,
  });
  const checked = await run(bin, nginxArgs(prefix, conf, true));
  if (checked.code !== 0)
    throw new StackError(`nginx: the generated configuration is invalid:\n${checked.output}`, 'nginx');
  const log = join(prefix, 'logs', 'error.log');
  const pid = await spawnDetached({
    command: bin,
    args: nginxArgs(prefix, conf),
    log: join(ctx.stateDir, 'nginx.log'),
    env: ctx.baseEnv,
  });
  const target = `http://127.0.0.1:${port}`;
  const c: StackComponent = { name: 'nginx', kind: 'nginx', pid, url: target, log };
  await ctx.add(c);
  await healthyWhen(
    ctx,
    c,
    `serving ${target}/readyz`,
    async () => (await probe(`${target}/readyz`)).status === 200,
  );
  return target;
}

export async function startAlertmanager(
  ctx: LocalContext,
  overrides: MonitoringOverrides,
): Promise<string | null> {
  const bin = findBinary(['prometheus-alertmanager', 'alertmanager'], ctx.baseEnv.PATH);
  if (!bin) {
    ctx.progress({
      component: 'alertmanager',
      status: 'stopped',
      message: 'skipped: not installed (Debian: prometheus-alertmanager)',
    });
    return null;
  }
  ctx.progress({ component: 'alertmanager', status: 'starting' });
  const dir = join(ctx.stateDir, 'alertmanager');
  await mkdir(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'alertmanager.yml');
  await writeFile(config, alertmanagerConfig(ctx.docker, overrides), { mode: 0o600 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = join(ctx.stateDir, 'alertmanager.log');
  const pid = await spawnDetached({
    command: bin,
    args: [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No high-availability gossip: one local Alertmanager, and no extra port.
      '--cluster.listen-address=',
    ],
    log,
    env: ctx.baseEnv,
  });
  const c: StackComponent = { name: 'alertmanager', kind: 'alertmanager', pid, url, log };
  await ctx.add(c);
  await healthyWhen(
    ctx,
    c,
    `ready (${url}/-/ready)`,
    async () => (await probe(`${url}/-/ready`)).status === 200,
  );
  return url;
}

export async function startPrometheus(
  ctx: LocalContext,
  o: {
    replicas: readonly Replica[];
    adminToken: string;
    alertmanager: string | null;
    overrides: MonitoringOverrides;
  },
): Promise<string | null> {
  const bin = findBinary(['prometheus'], ctx.baseEnv.PATH);
  if (!bin) {
    ctx.progress({
      component: 'prometheus',
      status: 'stopped',
      message: 'skipped: not installed (Debian: prometheus)',
    });
    return null;
  }
  ctx.progress({ component: 'prometheus', status: 'starting' });
  const dir = join(ctx.stateDir, 'prometheus');
  await mkdir(join(dir, 'data'), { recursive: true });
  const tokenFile = join(dir, 'admin_token');
  await writeFile(tokenFile, `${o.adminToken}\n`, { mode: 0o600 });
  const rulesFile = join(dir, 'alerts.yml');
  await writeFile(
    rulesFile,
    await readFile(o.overrides.rulesFile ?? join(ctx.docker, 'prometheus', 'alerts.yml')),
  );
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    prometheusConfig({
      docker: ctx.docker,
      environment: ctx.environment,
      admins: o.replicas.map((r) => new URL(r.adminUrl).host),
      tokenFile,
      rulesFile,
      listen,
      alertmanager: o.alertmanager ? new URL(o.alertmanager).host : null,
      overrides: o.overrides,
    }),
    { mode: 0o600 },
  );
  const url = `http://${listen}`;
  const log = join(ctx.stateDir, 'prometheus.log');
  const pid = await spawnDetached({
    command: bin,
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${listen}`,
    ],
    log,
    env: ctx.baseEnv,
  });
  const c: StackComponent = { name: 'prometheus', kind: 'prometheus', pid, url, log };
  await ctx.add(c);
  await healthyWhen(
    ctx,
    c,
    `ready (${url}/-/ready)`,
    async () => (await probe(`${url}/-/ready`)).status === 200,
  );
  return url;
}

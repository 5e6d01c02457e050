// The seven contenders, and the full gateway's one-stage-off variants for the per-stage runs. Each start() launches its own processes (started and stopped per round) and
// returns the base URL to load plus the pids whose memory counts as the contender's.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from './compile.js';
import { nginxConf } from './nginx.js';
import { type BenchBundle, OPA_BIN, opaServerArgs } from './policy.js';
import {
  accessProblem,
  type Child,
  firstJsonLine,
  freePort,
  spawnChild,
  stopChild,
  waitForHttp,
} from './proc.js';
import type { BenchToken } from './tokens.js';

/** Debian's nginx; BENCH_NGINX_BIN (read by run.ts) points elsewhere. */
export const NGINX_BIN = '/usr/sbin/nginx';
export const ADMIN_TOKENS = 'bench:bench-token-0123456789abcdef';
/** The service every contender exposes at /api/ac/ (a service the policy's data.json knows). */
export const SERVICE = 'ac';

export interface BenchContext {
  readonly tmp: string;
  readonly scripts: Record<string, string>;
  /** Two listeners of the one upstream process: blue and green for the gateway, the first for everyone else. */
  readonly upstreamPorts: readonly [number, number];
  readonly tokens: readonly BenchToken[];
  readonly bundle: BenchBundle | null;
  readonly redisUrl: string;
  readonly nginxWorkers: number | 'auto';
  /** The nginx binary for the two nginx contenders. */
  readonly nginxBin: string;
  /** The cpu list every contender process is pinned to (`--pin`), or null. */
  readonly contenderCpus: string | null;
}

export interface Running {
  readonly url: string;
  readonly pids: readonly number[];
  /** Every process of the contender, front first: the liveness check looks at each one. */
  readonly children: readonly Child[];
  /** A request through the contender, asked after each load run to see that it still answers. */
  readonly probeUrl: string;
  stop(): Promise<void>;
}

export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  start(ctx: BenchContext): Promise<Running>;
  /** A tool the contender needs that is missing, with how to install it; null when all is there. */
  missingTool?(ctx: BenchContext): string | null;
}

function nodeScript(name: string, ctx: BenchContext, args: string[]): Child {
  const file = ctx.scripts[name];
  if (file === undefined) throw new Error(`script ${name} was not compiled`);
  return spawnChild(name, process.execPath, [file, ...args], { cpus: ctx.contenderCpus });
}

function running(url: string, children: Child[]): Running {
  return {
    url,
    pids: children.map((c) => c.pid),
    children,
    probeUrl: `${url}/api/${SERVICE}/ready`,
    async stop() {
      // Front first, so nothing is left talking to a stopped back end.
      for (const child of children) await stopChild(child);
    },
  };
}

async function startNodeProxy(name: string, ctx: BenchContext): Promise<Running> {
  const child = nodeScript(name, ctx, [`http://127.0.0.1:${ctx.upstreamPorts[0]}`]);
  try {
    const { port } = await firstJsonLine<{ port: number }>(child);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/api/${SERVICE}/ready`, child);
    return running(url, [child]);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

async function startNginx(
  ctx: BenchContext,
  dirName: string,
  authzPort?: number,
): Promise<{ child: Child; url: string }> {
  const prefix = join(ctx.tmp, dirName);
  await mkdir(prefix, { recursive: true });
  const port = await freePort();
  await writeFile(
    join(prefix, 'nginx.conf'),
    nginxConf({ prefix, port, upstreamPort: ctx.upstreamPorts[0], workers: ctx.nginxWorkers, authzPort }),
  );
  const child = spawnChild(
    'nginx',
    ctx.nginxBin,
    ['-p', prefix, '-c', 'nginx.conf', '-e', join(prefix, 'error.log'), '-g', 'daemon off;'],
    { cpus: ctx.contenderCpus },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/api/${SERVICE}/ready`, child);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { child, url };
}

export type GatewayMode = 'minimal' | 'full';

/** The optional stages of the full gateway that the per-stage runs (`--stages`) switch off one at a time. */
export type GatewayStage = 'auth' | 'rateLimit' | 'screening' | 'policy';

export type GatewayStages = Readonly<Record<GatewayStage, boolean>>;

/**
 * Which optional stages a gateway configuration runs. The screening module runs only where a policy is
 * (its findings mean something only to a policy that decides on them), so switching the policy off takes
 * the screening with it; `BENCH_FULL_SCREENING=off` drops it from the full contender.
 */
export function gatewayStages(
  mode: GatewayMode,
  without: GatewayStage | null,
  hasBundle: boolean,
): GatewayStages {
  if (mode === 'minimal') return { auth: false, rateLimit: false, screening: false, policy: false };
  const policy = hasBundle && without !== 'policy';
  return {
    auth: without !== 'auth',
    rateLimit: without !== 'rateLimit',
    policy,
    screening: policy && without !== 'screening' && process.env.BENCH_FULL_SCREENING !== 'off',
  };
}

/**
 * The gateway's YAML for a mode; `full` adds JWT, rate limit (Redis via REDIS_URL), screening and the
 * policy bundle, less the one stage in `without` (the per-stage runs).
 */
export function gatewayConfig(
  ctx: BenchContext,
  mode: GatewayMode,
  port: number,
  adminPort: number,
  without: GatewayStage | null = null,
): Record<string, unknown> {
  const [blue, green] = ctx.upstreamPorts;
  const name = without === null ? mode : `${mode}-no-${without.toLowerCase()}`;
  const config: Record<string, unknown> = {
    server: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort, auditLog: join(ctx.tmp, `audit-${name}.jsonl`) },
    logging: { level: 'warn' },
    services: {
      [SERVICE]: {
        blue: { upstreams: [`http://127.0.0.1:${blue}`] },
        green: { upstreams: [`http://127.0.0.1:${green}`] },
        weights: { green: 50 },
      },
    },
  };
  const stages = gatewayStages(mode, without, ctx.bundle !== null);
  if (mode === 'full' && !stages.auth) {
    // Without the JWT stage the requests are anonymous, and the split would issue each one a new sticky
    // cookie (the load never sends it back): work the full gateway's authenticated requests never do, which
    // would show up as a negative cost of auth. The address keys the split instead, as `sub` does with auth.
    (config.server as Record<string, unknown>).stickyCookie = { enabled: false };
  }
  if (stages.auth) {
    config.auth = {
      keys: ctx.tokens.map((t) => ({ kid: t.kid, algorithms: [t.alg], publicKey: t.publicKeyPem })),
      defaultMode: 'required',
    };
  }
  if (stages.rateLimit) {
    // A limit no run can reach: the stage's cost is measured, not its rejections.
    config.rateLimit = { limits: [{ name: 'per-subject', limit: 10_000_000, window: '1m', by: 'subject' }] };
  }
  if (stages.policy && ctx.bundle !== null) {
    config.policy = { bundle: ctx.bundle.file };
    // The shipped ruleset over path, query and headers before every decision (bench requests carry no body).
    // BENCH_FULL_SCREENING=off measures the full pipeline without it (as gateway-full-no-screening does).
    config.screening = { enabled: stages.screening };
  }
  return config;
}

export async function startGatewayProcess(
  ctx: BenchContext,
  mode: GatewayMode,
  without: GatewayStage | null = null,
  root: string = REPO_ROOT,
): Promise<Running> {
  // A port freePort() handed out can be taken (as the local port of one of the load's many connections)
  // before the gateway binds it; the gateway then exits with EADDRINUSE, and new ports are worth a try.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayOnce(ctx, mode, without, root);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startGatewayOnce(
  ctx: BenchContext,
  mode: GatewayMode,
  without: GatewayStage | null,
  root: string,
): Promise<Running> {
  const port = await freePort();
  const adminPort = await freePort();
  const name =
    (without === null ? `gateway-${mode}` : `gateway-${mode}-no-${without.toLowerCase()}`) +
    (root === REPO_ROOT ? '' : '-baseline');
  const file = join(ctx.tmp, `${name}.yaml`);
  await writeFile(file, stringify(gatewayConfig(ctx, mode, port, adminPort, without)));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    ADMIN_TOKENS,
    GATEWAY_PORT: String(port),
    ADMIN_PORT: String(adminPort),
    LOG_LEVEL: 'warn',
  };
  // For profiling a run by hand (e.g. BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof').
  const nodeArgs = process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
  if (mode === 'full') env.REDIS_URL = ctx.redisUrl;
  const child = spawnChild(
    name,
    process.execPath,
    [...nodeArgs, join(root, 'bin', 'acgs-gateway.js'), 'start', '--config', file],
    { cwd: root, env, cpus: ctx.contenderCpus },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`, child, 30_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return running(url, [child]);
}

function missingNginx(ctx: BenchContext): string | null {
  const problem = accessProblem(ctx.nginxBin);
  if (problem === null) return null;
  return `nginx not found at ${ctx.nginxBin} (${problem}): install it with \`apt-get install nginx\` (Debian/Ubuntu), or set BENCH_NGINX_BIN to its path`;
}

export const CONTENDERS: readonly Contender[] = [
  {
    id: 'direct',
    label: 'direct (ceiling)',
    description: 'the load generator straight to the upstream',
    async start(ctx) {
      // The upstream lives for the whole run; nothing to start, and its memory is not a proxy's.
      const url = `http://127.0.0.1:${ctx.upstreamPorts[0]}`;
      return { url, pids: [], children: [], probeUrl: `${url}/api/${SERVICE}/ready`, stop: async () => {} };
    },
  },
  {
    id: 'nginx',
    label: 'nginx',
    description: 'Debian nginx as a plain reverse proxy, upstream keep-alive, proxy_http_version 1.1',
    missingTool: missingNginx,
    async start(ctx) {
      const { child, url } = await startNginx(ctx, 'nginx');
      return running(url, [child]);
    },
  },
  {
    id: 'fastify-proxy',
    label: '@fastify/http-proxy',
    description: 'bare fastify 5 + @fastify/http-proxy 11 (undici), defaults, logger off',
    start: (ctx) => startNodeProxy('fastify-proxy', ctx),
  },
  {
    id: 'fast-gateway',
    label: 'fast-gateway 3.4.7',
    description: 'fast-gateway 3.4.7 (restana + fast-proxy-lite, keep-alive agent), one route',
    start: (ctx) => startNodeProxy('fast-gateway', ctx),
  },
  {
    id: 'gateway-minimal',
    label: 'acgs-gateway minimal',
    description:
      'this gateway, every optional stage off (identity, 50/50 sticky split, undici proxy, metrics)',
    start: (ctx) => startGatewayProcess(ctx, 'minimal'),
  },
  {
    id: 'gateway-full',
    label: 'acgs-gateway full',
    description:
      'this gateway, JWT (RS256+ES256, cache on) + rate limit on Redis + OPA wasm + 50/50 sticky split + metrics',
    start: (ctx) => startGatewayProcess(ctx, 'full'),
  },
  {
    id: 'nginx-opa',
    label: 'nginx + auth_request → OPA',
    description:
      'nginx auth_request → authz adapter → `opa run --server` (REST, same Rego and data) before proxying',
    missingTool: (ctx) =>
      missingNginx(ctx) ??
      (accessProblem(OPA_BIN) === null
        ? null
        : `opa not found at ${OPA_BIN}: install the pinned OPA with \`bash scripts/install-opa.sh\``),
    async start(ctx) {
      if (ctx.bundle === null) throw new Error('no policy bundle');
      if (!existsSync(OPA_BIN)) throw new Error(`${OPA_BIN} is missing`);
      const opaPort = await freePort();
      const opa = spawnChild('opa', OPA_BIN, opaServerArgs(opaPort, ctx.bundle.regoBundle), {
        cpus: ctx.contenderCpus,
      });
      const started: Child[] = [opa];
      try {
        await waitForHttp(`http://127.0.0.1:${opaPort}/health?bundles`, opa);
        const adapter = nodeScript('authz-adapter', ctx, [`http://127.0.0.1:${opaPort}`]);
        started.unshift(adapter);
        const { port: authzPort } = await firstJsonLine<{ port: number }>(adapter);
        const { child, url } = await startNginx(ctx, 'nginx-opa', authzPort);
        started.unshift(child);
        return running(url, started);
      } catch (err) {
        for (const c of started) await stopChild(c);
        throw err;
      }
    },
  },
];

/** The full gateway with one stage switched off: the per-stage runs (`--stages`), not in the default run. */
export const STAGE_VARIANTS: readonly (Contender & { readonly without: GatewayStage })[] = (
  [
    ['auth', 'auth', 'JWT verification'],
    ['rateLimit', 'ratelimit', 'the rate limit'],
    ['screening', 'screening', 'the screening'],
    ['policy', 'policy', 'the policy (and the screening, which runs only with a policy)'],
  ] as const
).map(([without, slug, what]) => ({
  id: `gateway-full-no-${slug}`,
  label: `acgs-gateway full − ${slug}`,
  description: `gateway-full without ${what}; everything else as gateway-full`,
  without,
  start: (ctx: BenchContext) => startGatewayProcess(ctx, 'full', without),
}));

/**
 * The full gateway built from another checkout (BENCH_BASELINE_ROOT: a git worktree with `npm ci` and
 * `npm run build` done), for an A/B of a change in one run, on the same upstream, Redis and load: on this
 * noisy host only ratios measured side by side mean anything. Only with `--only`.
 */
export const BASELINE: Contender = {
  id: 'gateway-full-baseline',
  label: 'acgs-gateway full (baseline)',
  description: 'gateway-full as built in BENCH_BASELINE_ROOT, for an A/B against this tree',
  missingTool() {
    const root = process.env.BENCH_BASELINE_ROOT;
    if (root === undefined || root === '')
      return 'set BENCH_BASELINE_ROOT to a checkout with `npm ci` and `npm run build` done (e.g. a `git worktree` of main)';
    for (const [dir, fix] of [
      ['node_modules', 'npm ci'],
      ['dist', 'npm run build'],
    ] as const) {
      const path = join(root, dir);
      if (!existsSync(path)) return `${path} is missing: run \`${fix}\` in ${root}`;
    }
    return null;
  },
  start: (ctx) => startGatewayProcess(ctx, 'full', null, process.env.BENCH_BASELINE_ROOT!),
};

/** Every contender an id may name (`--only`): the default seven, the stage variants and the baseline. */
export const ALL_CONTENDERS: readonly Contender[] = [...CONTENDERS, ...STAGE_VARIANTS, BASELINE];

/** The stages a gateway contender runs; null for a contender that is not this gateway. */
export function stagesOf(id: string, hasBundle: boolean): GatewayStages | null {
  if (id === 'gateway-minimal') return gatewayStages('minimal', null, hasBundle);
  if (id === 'gateway-full' || id === BASELINE.id) return gatewayStages('full', null, hasBundle);
  const variant = STAGE_VARIANTS.find((v) => v.id === id);
  return variant === undefined ? null : gatewayStages('full', variant.without, hasBundle);
}

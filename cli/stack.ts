// `acgs-gateway stack up|down|status`: a thin edge over release/stack (environment read here, progress
// printed here). Exit codes: 0 ok, 1 failure (or an unhealthy status), 2 usage.
import { relative } from 'node:path';
import type { Environment, StackDriver } from '../release/contracts.js';
import { StackError, type StackProgress, stackDown, stackStatus, stackUp } from '../release/stack/index.js';
import { defaultStateDir, stateFile } from '../release/stack/state.js';
import { parse, UsageError } from './args.js';
import type { CliIo } from './rollout.js';

export const STACK_HELP = `Usage: acgs-gateway stack up|down|status --environment staging|production [options]

Brings the staging or production topology up, down, or reports on it: Redis, the gateway replicas,
nginx in front, Prometheus and Alertmanager (the last two when installed, local driver).

  up       start everything and wait until every part is healthy; a part that fails stops the rest
  down     stop exactly what 'up' started (pids from the state file); safe to repeat
  status   each part and whether it is healthy (exit 1 when one is not)

Options:
  -e, --environment ENV   staging | production (required)
  -d, --driver DRIVER     local (processes on this machine, default) | compose (docker compose)
  -r, --replicas N        gateway replicas behind nginx (default 2 staging, 3 production; local)
  -c, --config FILE       gateway config for the replicas (default: the demo services; local)
      --state-dir DIR     where state.json, pids and logs go (default var/stack/<environment>)
      --timeout SECONDS   how long 'up' waits for every part to be healthy (default 60)
      --nginx-port PORT   nginx's loopback port (default: a free one; local)
      --env-file FILE     compose: env file (default config/env/<environment>.env)
      --json              print the state (up) or the status (status) as JSON on stdout
  -h, --help              show this help

Environment: REDIS_URL (use this Redis instead of a private redis-server), ALERT_WEBHOOK_URL
(Alertmanager's webhook), and JWT_*, POLICY_*, LOG_LEVEL, which are handed to the replicas.
Exit codes: 0 ok, 1 failure, 2 usage.`;

const ignoreClosedOutput = () => {};

const defaultIo = (): CliIo => ({ env: process.env, stdout: process.stdout, stderr: process.stderr });

/**
 * Progress on a TTY: a finished step (healthy, failed, stopped) becomes a line of its own, and one live
 * line below shows what is still starting and the elapsed time, redrawn every 250 ms. Plain lines otherwise.
 */
function progressPrinter(io: CliIo, started: number) {
  const tty = io.stdout.isTTY === true;
  const starting = new Set<string>();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const live = () => {
    if (starting.size > 0) io.stdout.write(`\r\x1b[K[${elapsed()}] starting: ${[...starting].join(', ')} …`);
  };
  const timer = tty ? setInterval(live, 250) : null;
  timer?.unref();
  const print = (p: StackProgress) => {
    if (p.status === 'starting') starting.add(p.component);
    else starting.delete(p.component);
    if (tty && p.status === 'starting') return live();
    const line = `[${elapsed()}] ${p.component.padEnd(13)} ${p.status}${p.message ? `  ${p.message.split('\n')[0]}` : ''}`;
    io.stdout.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
    if (tty) live();
  };
  const end = () => {
    if (timer) clearInterval(timer);
    if (tty) io.stdout.write('\r\x1b[K');
  };
  return { print, end };
}

/** Variables the CLI hands to every replica: token verification, policy source, log level. */
function gatewayEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== '' && (/^(JWT|POLICY)_/.test(name) || name === 'LOG_LEVEL'))
      out[name] = value;
  }
  return out;
}

function integer(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer ${min}..${max}, got '${value}'`);
  return n;
}

export async function runStackCommand(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  // A reader that goes away (`stack up | head`) must not crash `up` half-way and orphan what it started.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', ignoreClosedOutput);
  try {
    return await stackCommand(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`acgs-gateway stack: ${err.message} (see --help)\n`);
      return 2;
    }
    if (err instanceof StackError) {
      io.stderr.write(`acgs-gateway stack: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function stackCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    environment: { type: 'string', short: 'e' },
    driver: { type: 'string', short: 'd' },
    replicas: { type: 'string', short: 'r' },
    config: { type: 'string', short: 'c' },
    'state-dir': { type: 'string' },
    timeout: { type: 'string' },
    'nginx-port': { type: 'string' },
    'env-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(`${STACK_HELP}\n`);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (action === undefined) throw new UsageError('missing command: up, down or status');
  if (!['up', 'down', 'status'].includes(action)) throw new UsageError(`unknown command '${action}'`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const environment = values.environment;
  if (environment !== 'staging' && environment !== 'production')
    throw new UsageError(
      `--environment must be staging or production${environment ? `, got '${environment}'` : ''}`,
    );
  const driver = values.driver ?? 'local';
  if (driver !== 'local' && driver !== 'compose')
    throw new UsageError(`--driver must be local or compose, got '${driver}'`);
  const replicas = integer(values.replicas, 'replicas', 1, 16);
  const timeout = integer(values.timeout, 'timeout', 1, 3600);
  const nginxPort = integer(values['nginx-port'], 'nginx-port', 1, 65535);
  const stateDir = values['state-dir'] ?? defaultStateDir(environment as Environment);
  const shown = relative(process.cwd(), stateFile(stateDir)) || stateFile(stateDir);

  if (action === 'up') {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    const started = Date.now();
    // With --json, stdout carries only the JSON document; progress goes to stderr.
    const progress = progressPrinter(values.json ? { ...io, stdout: io.stderr } : io, started);
    try {
      const state = await stackUp({
        environment: environment as Environment,
        driver: driver as StackDriver,
        replicas,
        config: values.config,
        stateDir,
        timeoutMs: timeout === undefined ? undefined : timeout * 1000,
        nginxPort,
        envFile: values['env-file'],
        redisUrl: io.env.REDIS_URL || undefined,
        monitoring: { webhookUrl: io.env.ALERT_WEBHOOK_URL || undefined },
        gatewayEnv: gatewayEnv(io.env),
        env: io.env,
        signal: controller.signal,
        onProgress: progress.print,
      });
      progress.end();
      if (values.json) io.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
      else {
        io.stdout.write(
          [
            `${environment} stack is up (${driver}, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
            `  target        ${state.target}`,
            ...state.replicas.map((r, i) => `  gateway-${i + 1}     ${r}   admin ${state.adminUrls[i]}`),
            `  prometheus    ${state.prometheus ?? '(not running)'}`,
            `  alertmanager  ${state.alertmanager ?? '(not running)'}`,
            `  state         ${shown}   (admin token inside; mode 600)`,
            `Stop it with: acgs-gateway stack down --environment ${environment}${values['state-dir'] ? ` --state-dir ${values['state-dir']}` : ''}`,
            '',
          ].join('\n'),
        );
      }
      return 0;
    } finally {
      progress.end();
      process.removeListener('SIGINT', onSignal);
    }
  }

  if (action === 'down') {
    await stackDown({
      environment: environment as Environment,
      stateDir,
      driver: values.driver === undefined ? undefined : (driver as StackDriver),
      envFile: values['env-file'],
      env: io.env,
      onProgress: (p) => io.stdout.write(`${p.component.padEnd(13)} ${p.status}\n`),
    });
    io.stdout.write(`${environment} stack is down\n`);
    return 0;
  }

  const status = await stackStatus({
    environment: environment as Environment,
    stateDir,
    env: io.env,
    envFile: values['env-file'],
  });
  if (values.json) io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  if (!status.state) {
    if (!values.json) io.stdout.write(`no ${environment} stack (no ${shown})\n`);
    return 1;
  }
  const healthy = status.components.every((c) => c.healthy);
  if (!values.json) {
    io.stdout.write(
      `${environment} stack (${status.state.driver}, up since ${status.state.startedAt}): ${status.state.target}\n`,
    );
    for (const c of status.components)
      io.stdout.write(`  ${c.name.padEnd(13)} ${c.healthy ? 'healthy  ' : 'UNHEALTHY'}  ${c.detail}\n`);
  }
  return healthy ? 0 : 1;
}

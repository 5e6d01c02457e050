import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { ADMIN_TOKEN, type ServiceSpec, testConfigDoc } from './gateway.js';

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly dataUrl: string;
  readonly adminUrl: string;
  readonly output: () => string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** A gateway child process as launched: its output so far and its exit (code, or signal name). */
export interface LaunchedGateway {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | string>;
}

/**
 * Launches `acgs-gateway start --config <file>` as a real child process (as an operator would) and
 * collects its output; ports are the kernel's (0) unless `env` names them. Waits for nothing.
 */
export function launchGateway(
  services: Record<string, ServiceSpec>,
  extra: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  /** Options for node itself (V8 flags), before the script. */
  nodeArgs: readonly string[] = [],
): LaunchedGateway {
  const doc = testConfigDoc(services, extra);
  (doc.logging as { level: string }).level = 'warn';
  const file = join(mkdtempSync(join(tmpdir(), 'acgs-proc-')), 'gateway.yaml');
  writeFileSync(file, stringify(doc));
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'cli/main.ts', 'start', '--config', file],
    {
      env: {
        ...process.env,
        ADMIN_TOKENS: `ops:${ADMIN_TOKEN}`,
        GATEWAY_PORT: '0',
        ADMIN_PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (c) => {
    output += c;
  });
  child.stderr!.on('data', (c) => {
    output += c;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, output: () => output, exited };
}

/**
 * Launches the gateway (launchGateway) on ports the kernel picks and waits until it answers: the addresses
 * are read from the start banner, so no parallel test can take them first.
 */
export async function spawnGateway(
  services: Record<string, ServiceSpec>,
  extra: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): Promise<GatewayProcess> {
  const { child, output, exited } = launchGateway(services, extra, env, nodeArgs);
  const deadline = Date.now() + 20_000;
  let dataUrl = '';
  let adminUrl = '';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited early (${child.exitCode}):\n${output()}`);
    dataUrl ||= /data plane\s+(http:\/\/\S+)/.exec(output())?.[1] ?? '';
    adminUrl ||= /admin plane\s+(http:\/\/\S+)/.exec(output())?.[1] ?? '';
    try {
      if (dataUrl === '' || adminUrl === '') throw new Error('no banner yet');
      const res = await fetch(`${dataUrl}/healthz`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not come up:\n${output()}`);
    }
    await sleep(100);
  }
  return {
    child,
    dataUrl,
    adminUrl,
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

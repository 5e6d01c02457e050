// Shared by the deployment tests: where the files are, finding binaries, running them with a time bound,
// free loopback ports, and rendering the production nginx configuration for a test prefix.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DOCKER = join(REPO, 'docker');

/** The binary on PATH or at one of the usual places, or null (then the test says why it skipped). */
export function findBinary(name: string, extra: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const candidate of [...extra, ...dirs.map((d) => join(d, name))]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, killed after `timeoutMs`; never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export { freePort } from '../helpers/ports.js';

/** Resolves once something accepts TCP connections on 127.0.0.1:port; rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throw-away self-signed certificate for the TLS server (openssl req -x509). */
export async function selfSignedCert(openssl: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const result = await run(openssl, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-keyout',
    join(dir, 'privkey.pem'),
    '-out',
    join(dir, 'fullchain.pem'),
  ]);
  if (result.code !== 0) throw new Error(`openssl failed: ${result.stderr}`);
}

export interface NginxRender {
  /** Temp prefix holding nginx.conf, conf.d/, snippets/, certs/ and logs/. */
  readonly prefix: string;
  /** host:port of each replica, replacing gateway-1..N:8080 in conf.d/10-upstream.conf in order. */
  readonly upstreams: readonly string[];
  /** When set, `listen 80`/`listen 443` become 127.0.0.1:<port>; otherwise they are left as they are. */
  readonly httpPort?: number;
  readonly httpsPort?: number;
}

const NGINX_FILES = [
  'nginx.conf',
  'conf.d/00-maps.conf',
  'conf.d/10-upstream.conf',
  'conf.d/20-servers.conf',
  'snippets/acgs-proxy-headers.conf',
  'snippets/acgs-locations.conf',
];

/**
 * Copies docker/nginx into `prefix` with only what a test machine needs changed: absolute paths moved
 * under the prefix, the `user` line dropped (the nginx user exists only in the image), the replicas'
 * addresses and, optionally, the listen ports. Everything else (maps, proxy settings, TLS) is the
 * production file itself. Returns the path of the rendered nginx.conf.
 */
export function renderNginx(opts: NginxRender): string {
  const { prefix } = opts;
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  for (const file of NGINX_FILES) {
    let text = readFileSync(join(DOCKER, 'nginx', file), 'utf8');
    text = text
      .replace(/^user\s+[^;]+;\s*$/m, '')
      .replace(/^worker_processes\s+auto;/m, 'worker_processes 1;')
      .replaceAll('/etc/nginx/', `${prefix}/`)
      .replaceAll('/var/log/nginx/', `${prefix}/logs/`);
    if (file === 'conf.d/10-upstream.conf') {
      let i = 0;
      text = text.replace(
        /^(\s*server\s+)gateway-\d+:\d+([^;]*;)\n/gm,
        (_line, head: string, tail: string) => {
          const upstream = opts.upstreams[i++];
          // Fewer test replicas than production ones: the left-over server lines go.
          return upstream === undefined ? '' : `${head}${upstream}${tail}\n`;
        },
      );
      if (i === 0) throw new Error('no `server gateway-N:PORT` line found in 10-upstream.conf');
    }
    if (opts.httpPort !== undefined) text = text.replace(/listen 80 /g, `listen 127.0.0.1:${opts.httpPort} `);
    if (opts.httpsPort !== undefined)
      text = text.replace(/listen 443 /g, `listen 127.0.0.1:${opts.httpsPort} `);
    mkdirSync(dirname(join(prefix, file)), { recursive: true });
    writeFileSync(join(prefix, file), text);
  }
  return join(prefix, 'nginx.conf');
}

export function nginxArgs(prefix: string, conf: string): string[] {
  return [
    '-p',
    `${prefix}/`,
    '-c',
    conf,
    '-e',
    join(prefix, 'logs', 'error.log'),
    '-g',
    `daemon off; pid ${prefix}/nginx.pid;`,
  ];
}

export interface RunningNginx {
  readonly errorLog: () => string;
  stop(): Promise<void>;
}

/** Starts nginx in the foreground on a rendered prefix; stop() ends it (TERM, then KILL after 5 s). */
export async function startNginx(
  nginx: string,
  prefix: string,
  conf: string,
  port: number,
): Promise<RunningNginx> {
  const child = spawn(nginx, nginxArgs(prefix, conf), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(port, 5000),
      exited.then(() => {
        throw new Error(`nginx exited at start: ${stderr}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const errorLog = () => {
    try {
      return readFileSync(join(prefix, 'logs', 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    errorLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

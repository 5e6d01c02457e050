// The compose driver: `docker compose` with docker/docker-compose.prod.yml, the staging override for
// staging, and the environment's env file. Before anything runs, a preflight lists every problem at once:
// no docker, no compose plugin, no engine, a missing env file, CHANGE_ME left in it or in a secret.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Environment, StackComponent, StackState } from '../../contracts.js';
import { findBinary } from '../binaries.js';
import { StackError } from '../stack-error.js';

export interface ComposeOptions {
  readonly repo: string;
  readonly environment: Environment;
  /** Default config/env/<environment>.env. */
  readonly envFile?: string;
  readonly timeoutMs: number;
  /** The user's environment: PATH finds docker; DOCKER_HOST, DOCKER_CONTEXT and HOME choose the engine. */
  readonly env: NodeJS.ProcessEnv;
}

export const composeFiles = (repo: string, environment: Environment): string[] => [
  join(repo, 'docker', 'docker-compose.prod.yml'),
  ...(environment === 'staging' ? [join(repo, 'docker', 'docker-compose.staging.yml')] : []),
];

export const envFileOf = (o: ComposeOptions) =>
  resolve(o.envFile ?? join(o.repo, 'config', 'env', `${o.environment}.env`));

/** `docker compose -f … --env-file … <verb>`: the exact argv the driver runs. */
export function composeArgs(o: ComposeOptions, verb: 'up' | 'down' | 'ps'): string[] {
  const base = [
    'compose',
    ...composeFiles(o.repo, o.environment).flatMap((f) => ['-f', f]),
    '--env-file',
    envFileOf(o),
  ];
  switch (verb) {
    case 'up':
      return [...base, 'up', '-d', '--wait', '--wait-timeout', String(Math.ceil(o.timeoutMs / 1000))];
    case 'down':
      return [...base, 'down'];
    case 'ps':
      return [...base, 'ps', '--all', '--format', 'json'];
  }
}

function exec(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env }, (err, stdout, stderr) =>
      done({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      }),
    );
  });
}

/** Variables of an env file whose value still holds the CHANGE_ME placeholder. */
export function placeholders(text: string): string[] {
  return text
    .split('\n')
    .map((line) => /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[2]!.includes('CHANGE_ME'))
    .map((m) => m[1]!);
}

/** Problems in the files the stack reads, each naming the file and the fix. */
export function configProblems(o: ComposeOptions): string[] {
  const problems: string[] = [];
  const envFile = envFileOf(o);
  const shown = relative(o.repo, envFile);
  if (!existsSync(envFile)) {
    problems.push(
      `${shown}: missing; copy config/env/${o.environment}.env.example and replace every CHANGE_ME`,
    );
  } else {
    const left = placeholders(readFileSync(envFile, 'utf8'));
    if (left.length > 0) problems.push(`${shown}: replace CHANGE_ME in ${left.join(', ')}`);
  }
  const secrets = new Set<string>();
  for (const file of composeFiles(o.repo, o.environment)) {
    const doc = parseYaml(readFileSync(file, 'utf8'), { merge: true }) as {
      secrets?: Record<string, { file?: string }>;
    };
    for (const s of Object.values(doc.secrets ?? {}))
      if (s.file) secrets.add(resolve(join(o.repo, 'docker'), s.file));
  }
  for (const secret of secrets) {
    const shownSecret = relative(o.repo, secret);
    if (!existsSync(secret)) problems.push(`${shownSecret}: missing (see docker/secrets/README.md)`);
    else if (readFileSync(secret, 'utf8').includes('CHANGE_ME'))
      problems.push(`${shownSecret}: still CHANGE_ME`);
  }
  return problems;
}

/** Whether docker, its compose plugin and an engine are there; the first missing one, with the fix. */
export async function dockerProblem(env: NodeJS.ProcessEnv): Promise<string | null> {
  const docker = findBinary(['docker'], env.PATH, { pathOnly: true });
  if (!docker)
    return 'docker: not installed (or not on PATH); the compose driver needs Docker with the compose plugin, or use --driver local';
  const compose = await exec(docker, ['compose', 'version'], 10_000, env);
  if (compose.code !== 0)
    return `docker: the compose plugin is missing (\`docker compose version\` failed: ${(compose.stderr || compose.stdout).trim().split('\n')[0]})`;
  const info = await exec(docker, ['info', '--format', '{{.ServerVersion}}'], 10_000, env);
  if (info.code !== 0)
    return `docker: the Docker engine is not reachable (\`docker info\` failed: ${(info.stderr || info.stdout).trim().split('\n')[0]})`;
  return null;
}

async function preflight(o: ComposeOptions): Promise<string> {
  const problems = configProblems(o);
  const docker = await dockerProblem(o.env);
  if (docker) problems.unshift(docker);
  if (problems.length > 0) {
    throw new StackError(
      `compose: cannot start the ${o.environment} stack:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      docker ? 'docker' : 'config',
    );
  }
  return findBinary(['docker'], o.env.PATH, { pathOnly: true })!;
}

function envValue(file: string, name: string): string | null {
  const m = new RegExp(`^\\s*${name}\\s*=(.*)$`, 'm').exec(readFileSync(file, 'utf8'));
  return m ? m[1]!.trim() : null;
}

export async function composeUp(o: ComposeOptions): Promise<StackState> {
  const docker = await preflight(o);
  const up = await exec(docker, composeArgs(o, 'up'), o.timeoutMs + 30_000, o.env);
  if (up.code !== 0)
    throw new StackError(
      `compose: \`docker compose up\` failed:\n${(up.stderr || up.stdout).trim()}`,
      'compose',
    );
  const ps = await composePs(o);
  const envFile = envFileOf(o);
  return {
    schema: 'acgs.stack/v1',
    environment: o.environment,
    driver: 'compose',
    startedAt: new Date().toISOString(),
    target: 'https://127.0.0.1',
    adminUrls: [],
    replicas: [],
    prometheus: 'http://127.0.0.1:9090',
    alertmanager: null,
    redisUrl: 'redis://redis:6379',
    adminToken: envValue(envFile, 'ADMIN_TOKEN'),
    components: ps.map((c) => c.component),
  };
}

export async function composeDown(o: ComposeOptions): Promise<void> {
  const docker = await preflightDockerOnly(o);
  const down = await exec(docker, composeArgs(o, 'down'), 120_000, o.env);
  if (down.code !== 0)
    throw new StackError(
      `compose: \`docker compose down\` failed:\n${(down.stderr || down.stdout).trim()}`,
      'compose',
    );
}

interface PsEntry {
  Service?: string;
  Name?: string;
  State?: string;
  Health?: string;
  Publishers?: { URL?: string; PublishedPort?: number }[];
}

const KINDS: [RegExp, StackComponent['kind']][] = [
  [/^gateway/, 'gateway'],
  [/^nginx$/, 'nginx'],
  [/^redis$/, 'redis'],
  [/^prometheus$/, 'prometheus'],
  [/^alertmanager$/, 'alertmanager'],
  [/^postgres$/, 'postgres'],
];

/** `docker compose ps --format json` prints one object per line (v2.21+) or one array (older). */
export function parsePs(stdout: string): { component: StackComponent; healthy: boolean; detail: string }[] {
  const text = stdout.trim();
  if (!text) return [];
  const entries: PsEntry[] = text.startsWith('[')
    ? JSON.parse(text)
    : text.split('\n').map((l) => JSON.parse(l));
  return entries.map((e) => {
    const name = e.Service ?? e.Name ?? '?';
    const kind = KINDS.find(([re]) => re.test(name))?.[1] ?? 'service';
    const healthy =
      e.State === 'running' && (e.Health === undefined || e.Health === '' || e.Health === 'healthy');
    return {
      component: { name, kind, pid: null, url: null, log: null },
      healthy,
      detail: `${e.State ?? 'unknown'}${e.Health ? ` (${e.Health})` : ''}`,
    };
  });
}

export async function composePs(o: ComposeOptions) {
  const docker = await preflightDockerOnly(o);
  const ps = await exec(docker, composeArgs(o, 'ps'), 30_000, o.env);
  if (ps.code !== 0)
    throw new StackError(
      `compose: \`docker compose ps\` failed:\n${(ps.stderr || ps.stdout).trim()}`,
      'compose',
    );
  return parsePs(ps.stdout);
}

async function preflightDockerOnly(o: ComposeOptions): Promise<string> {
  const problem = await dockerProblem(o.env);
  if (problem) throw new StackError(problem, 'docker');
  return findBinary(['docker'], o.env.PATH, { pathOnly: true })!;
}

// The command line of `acgs-gateway validate`, parsed into typed options. Usage problems throw
// ValidateUsageError (exit code 2); nothing here touches the network.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../core/duration.js';
import { CHECK_GROUPS, type CheckGroup, type Environment } from '../contracts.js';

export class ValidateUsageError extends Error {}

export interface ValidateOptions {
  readonly environment: Environment;
  readonly target: string;
  /** Admin plane of each replica (one URL is fine for a single replica or a shared admin plane). */
  readonly adminUrls: readonly string[];
  /** Data plane of each replica, bypassing the load balancer; the target alone when not given. */
  readonly replicas: readonly string[];
  readonly prometheus: string | null;
  readonly alertmanager: string | null;
  readonly groups: readonly CheckGroup[];
  readonly durationMs: number | null;
  readonly users: number | null;
  readonly maxRps: number | null;
  readonly reportFile: string | null;
  readonly junitFile: string | null;
  readonly criteriaFile: string | undefined;
  readonly configFile: string | undefined;
  readonly tokensFile: string | undefined;
  readonly yes: boolean;
}

export const OPTIONS = {
  environment: { type: 'string', short: 'e' },
  target: { type: 'string', short: 't' },
  'admin-url': { type: 'string' },
  replicas: { type: 'string' },
  prometheus: { type: 'string' },
  alertmanager: { type: 'string' },
  only: { type: 'string' },
  skip: { type: 'string' },
  duration: { type: 'string' },
  users: { type: 'string' },
  'max-rps': { type: 'string' },
  report: { type: 'string' },
  junit: { type: 'string' },
  criteria: { type: 'string' },
  config: { type: 'string', short: 'c' },
  tokens: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
} as const;

function url(value: string, name: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
    return value.replace(/\/+$/, '');
  } catch {
    throw new ValidateUsageError(`--${name} must be an http(s) URL, got '${value}'`);
  }
}

function urlList(value: string | undefined, name: string): string[] {
  if (value === undefined) return [];
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (items.length === 0) throw new ValidateUsageError(`--${name} needs at least one URL`);
  return items.map((v) => url(v, name));
}

function groupList(value: string, name: string): CheckGroup[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  for (const item of items) {
    if (!(CHECK_GROUPS as readonly string[]).includes(item))
      throw new ValidateUsageError(`--${name}: unknown check '${item}' (checks: ${CHECK_GROUPS.join(', ')})`);
  }
  return items as CheckGroup[];
}

function positive(value: string | undefined, name: string, integer: boolean): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new ValidateUsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return n;
}

/** Returns null for --help. */
export function parseOptions(argv: readonly string[]): ValidateOptions | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new ValidateUsageError((error as Error).message);
  }
  if (values.help) return null;
  const str = (name: string) => values[name] as string | undefined;
  const environment = str('environment');
  if (environment !== 'staging' && environment !== 'production')
    throw new ValidateUsageError('--environment must be staging or production');
  const targetValue = str('target');
  if (targetValue === undefined) throw new ValidateUsageError('--target URL is required');
  const target = url(targetValue, 'target');
  if (str('only') !== undefined && str('skip') !== undefined)
    throw new ValidateUsageError('give --only or --skip, not both');
  let groups: CheckGroup[] = [...CHECK_GROUPS];
  if (str('only') !== undefined) {
    const only = groupList(str('only')!, 'only');
    groups = CHECK_GROUPS.filter((g) => only.includes(g));
  }
  if (str('skip') !== undefined) {
    const skip = groupList(str('skip')!, 'skip');
    groups = groups.filter((g) => !skip.includes(g));
  }
  let durationMs: number | null = null;
  if (str('duration') !== undefined) {
    const raw = str('duration')!.trim();
    durationMs = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw);
    if (!Number.isFinite(durationMs) || durationMs < 1000)
      throw new ValidateUsageError('--duration must be at least 1s (e.g. 30s, 2m; a bare number is seconds)');
  }
  const replicas = urlList(str('replicas'), 'replicas');
  return {
    environment,
    target,
    adminUrls: urlList(str('admin-url'), 'admin-url'),
    replicas: replicas.length > 0 ? replicas : [target],
    prometheus: str('prometheus') === undefined ? null : url(str('prometheus')!, 'prometheus'),
    alertmanager: str('alertmanager') === undefined ? null : url(str('alertmanager')!, 'alertmanager'),
    groups,
    durationMs,
    users: positive(str('users'), 'users', true),
    maxRps: positive(str('max-rps'), 'max-rps', false),
    reportFile: str('report') ?? null,
    junitFile: str('junit') ?? null,
    criteriaFile: str('criteria'),
    configFile: str('config'),
    tokensFile: str('tokens'),
    yes: values.yes === true,
  };
}

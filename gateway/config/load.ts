import { readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { type AuthConfig, type AuthConfigInput, authConfigFromEnv } from '../auth/config.js';
import type { Color } from '../../core/types.js';
import { type PolicyConfig, policyConfigFromEnv } from '../policy/config.js';
import { PACKAGE_ROOT } from '../util/package-root.js';
import { ConfigError, formatIssues } from './errors.js';
import { configSchema, type GatewayConfig, type ServiceConfig } from './schema.js';

export const EMBEDDED_CONFIG = join(PACKAGE_ROOT, 'config', 'gateway.yaml');

export interface AdminToken {
  readonly name: string;
  readonly token: string;
}

export interface ResolvedService extends ServiceConfig {
  readonly name: string;
  readonly prefix: string;
  readonly stable: Color;
}

/** The validated configuration plus what comes from the environment. Runtime code reads only this. */
export interface ResolvedConfig extends Omit<GatewayConfig, 'services' | 'auth' | 'policy'> {
  /** Policy bundle and evaluation; null when neither the file nor POLICY_BUNDLE configures one. */
  readonly policy: PolicyConfig | null;
  /** JWT verification; null when neither the file nor the environment configures any key source. */
  readonly auth: AuthConfig | null;
  readonly source: string;
  readonly embedded: boolean;
  readonly services: readonly ResolvedService[];
  readonly adminTokens: readonly AdminToken[];
  readonly trustedProxies: BlockList;
  /** Environment the stage configs read their secrets from (JWT keys, policy verification key). */
  readonly env: NodeJS.ProcessEnv;
}

export interface LoadOptions {
  /** Path from --config; falls back to GATEWAY_CONFIG, then the embedded default. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads, merges with the environment and validates the configuration. Throws ConfigError listing every problem. */
export async function loadConfig(options: LoadOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? env.GATEWAY_CONFIG;
  const source = file ?? EMBEDDED_CONFIG;
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new ConfigError(source, [`cannot read the file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(source, [`not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`]);
  }
  return resolveConfig(raw ?? {}, { source, embedded: file === undefined, env });
}

/** Validates an already-parsed document (tests build configs in code and come in here). */
export function resolveConfig(
  raw: unknown,
  { source = '(inline)', embedded = false, env = process.env as NodeJS.ProcessEnv } = {},
): ResolvedConfig {
  const problems: string[] = [];
  const doc = structuredClone(raw) as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(source, ['(root): must be a mapping']);
  }
  applyEnvironment(doc, env, problems);

  const parsed = configSchema.safeParse(doc);
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues));

  const adminTokens = parseAdminTokens(env.ADMIN_TOKENS, problems);
  const trustedProxies = new BlockList();
  const proxies = parsed.success ? parsed.data.server.trustedProxies : [];
  proxies.forEach((cidr, i) => {
    addCidr(trustedProxies, cidr, `server.trustedProxies[${i}]`, problems);
  });

  const auth = resolveAuth(doc.auth, env, problems);
  const policy = resolvePolicy(doc.policy, env, source, problems);

  if (!parsed.success || problems.length > 0) throw new ConfigError(source, problems);
  const config = parsed.data;

  const services: ResolvedService[] = [];
  const prefixes = new Map<string, string>();
  for (const [name, service] of Object.entries(config.services)) {
    const prefix = service.prefix ?? `/api/${name}/`;
    const clash = prefixes.get(prefix);
    if (clash) problems.push(`services.${name}.prefix: ${prefix} is already used by service ${clash}`);
    prefixes.set(prefix, name);
    services.push({ ...service, name, prefix });
  }
  if (!isLoopback(config.admin.host) && adminTokens.length === 0) {
    problems.push(
      `admin.host: the admin plane listens on ${config.admin.host}, which is not loopback, and ADMIN_TOKENS is empty; ` +
        'set ADMIN_TOKENS or bind the admin plane to 127.0.0.1',
    );
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  return { ...config, auth, policy, source, embedded, services, adminTokens, trustedProxies, env };
}

/** A relative bundle path is relative to the configuration file, so a config can travel with its bundle. */
function resolvePolicy(
  section: unknown,
  env: NodeJS.ProcessEnv,
  source: string,
  problems: string[],
): PolicyConfig | null {
  if (section === undefined && !env.POLICY_BUNDLE) return null;
  try {
    const policy = policyConfigFromEnv(env, section ?? {});
    const bundle =
      /^https?:\/\//i.test(policy.bundle) || isAbsolute(policy.bundle) || env.POLICY_BUNDLE
        ? policy.bundle
        : resolvePath(source === '(inline)' ? process.cwd() : dirname(source), policy.bundle);
    return { ...policy, bundle };
  } catch (err) {
    if (!(err instanceof z.ZodError)) throw err;
    problems.push(...formatIssues(err.issues, 'policy'));
    return null;
  }
}

const JWT_ENV = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWKS_URL'] as const;

/** The auth section exists when the file has one or the environment brings a key source. */
function resolveAuth(section: unknown, env: NodeJS.ProcessEnv, problems: string[]): AuthConfig | null {
  if (section === undefined && !JWT_ENV.some((name) => env[name])) return null;
  if (section !== undefined && (typeof section !== 'object' || section === null || Array.isArray(section))) {
    problems.push('auth: must be a mapping');
    return null;
  }
  try {
    return authConfigFromEnv(env, (section ?? {}) as AuthConfigInput);
  } catch (err) {
    if (!(err instanceof z.ZodError)) throw err;
    for (const issue of err.issues) {
      // Problems that come from an environment variable are named by the variable, not by a file path.
      const fromEnv = typeof issue.path[0] === 'string' && /^[A-Z][A-Z0-9_]+$/.test(issue.path[0]);
      problems.push(...formatIssues([issue], fromEnv ? '' : 'auth'));
    }
    return null;
  }
}

/** Deployment knobs that override the file. Secrets never live in the file. */
function applyEnvironment(doc: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  const section = (name: string): Record<string, unknown> => {
    const current = doc[name];
    if (typeof current === 'object' && current !== null && !Array.isArray(current)) {
      return current as Record<string, unknown>;
    }
    const created: Record<string, unknown> = {};
    doc[name] = created;
    return created;
  };
  const port = (variable: string, target: Record<string, unknown>) => {
    const value = env[variable];
    if (value === undefined || value === '') return;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      problems.push(`${variable}: must be a port number, got '${value}'`);
    else target.port = n;
  };
  port('GATEWAY_PORT', section('server'));
  port('ADMIN_PORT', section('admin'));
  if (env.ADMIN_HOST) section('admin').host = env.ADMIN_HOST;
  if (env.REDIS_URL) {
    try {
      const url = new URL(env.REDIS_URL);
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('scheme');
      section('redis').url = env.REDIS_URL;
    } catch {
      problems.push(`REDIS_URL: must be a redis:// or rediss:// URL`);
    }
  }
  if (env.TRUSTED_PROXIES) {
    section('server').trustedProxies = env.TRUSTED_PROXIES.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  if (env.LOG_LEVEL) section('logging').level = env.LOG_LEVEL;
  if (env.AUDIT_LOG) section('admin').auditLog = env.AUDIT_LOG;
}

function parseAdminTokens(value: string | undefined, problems: string[]): AdminToken[] {
  if (!value) return [];
  const tokens: AdminToken[] = [];
  value.split(',').forEach((pair, i) => {
    const trimmed = pair.trim();
    if (trimmed === '') return;
    const colon = trimmed.indexOf(':');
    const name = colon > 0 ? trimmed.slice(0, colon) : '';
    const token = colon > 0 ? trimmed.slice(colon + 1) : '';
    if (!/^[A-Za-z0-9_.@-]+$/.test(name) || token.length < 16) {
      problems.push(`ADMIN_TOKENS[${i}]: must be name:token with a token of at least 16 characters`);
      return;
    }
    tokens.push({ name, token });
  });
  return tokens;
}

function addCidr(list: BlockList, cidr: string, path: string, problems: string[]): void {
  const parts = cidr.split('/');
  const [address, bits] = parts;
  const family = address ? isIP(address) : 0;
  // Digits only: Number('') is 0, and '10.0.0.1/' read as /0 would trust every address on the internet.
  const prefix =
    bits === undefined ? (family === 6 ? 128 : 32) : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (
    parts.length > 2 ||
    family === 0 ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > (family === 6 ? 128 : 32)
  ) {
    problems.push(`${path}: '${cidr}' is not a CIDR (e.g. 10.0.0.0/8 or ::1/128)`);
    return;
  }
  list.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

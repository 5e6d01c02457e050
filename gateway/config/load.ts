import { readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { Color } from '../../core/types.js';
import { PACKAGE_ROOT } from '../util/package-root.js';
import { type AdminToken, overlayEnvironment } from './environment.js';
import { ConfigError, formatIssues } from './errors.js';
import { configSchema, type GatewayConfig, type ServiceConfig } from './schema.js';

export type { AdminToken } from './environment.js';

export const EMBEDDED_CONFIG = join(PACKAGE_ROOT, 'config', 'gateway.yaml');

export interface ResolvedService extends ServiceConfig {
  readonly name: string;
  readonly prefix: string;
  readonly stable: Color;
}

/**
 * The validated configuration: the file with the environment laid over it, parsed by the one schema.
 * Runtime code reads only this; it never sees the environment (secrets stay in the sections of the
 * modules that use them).
 */
export interface ResolvedConfig extends Omit<GatewayConfig, 'services' | 'auth' | 'policy'> {
  /** JWT verification; null when neither the file nor the environment configures it (module off). */
  readonly auth: NonNullable<GatewayConfig['auth']> | null;
  /** Policy bundle and evaluation; null when neither the file nor POLICY_BUNDLE configures one. */
  readonly policy: NonNullable<GatewayConfig['policy']> | null;
  readonly source: string;
  readonly embedded: boolean;
  readonly services: readonly ResolvedService[];
  readonly adminTokens: readonly AdminToken[];
  readonly trustedProxies: BlockList;
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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(source, ['(root): must be a mapping']);
  }
  const doc = structuredClone(raw) as Record<string, unknown>;
  const overlay = overlayEnvironment(doc, env);
  const problems = [...overlay.problems];

  const parsed = configSchema.safeParse(doc);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // A value that came from a variable is reported by the variable's name.
      const variable = sourceOf(overlay.sources, issue.path);
      problems.push(...(variable ? [`${variable}: ${issue.message}`] : formatIssues([issue])));
    }
  }
  if (!parsed.success) throw new ConfigError(source, problems);
  const config = parsed.data;

  const trustedProxies = new BlockList();
  config.server.trustedProxies.forEach((cidr, i) => {
    addCidr(trustedProxies, cidr, `server.trustedProxies[${i}]`, problems);
  });
  const services: ResolvedService[] = [];
  const prefixes = new Map<string, string>();
  for (const [name, service] of Object.entries(config.services)) {
    const prefix = service.prefix ?? `/api/${name}/`;
    const clash = prefixes.get(prefix);
    if (clash) problems.push(`services.${name}.prefix: ${prefix} is already used by service ${clash}`);
    prefixes.set(prefix, name);
    services.push({ ...service, name, prefix });
  }
  if (!isLoopback(config.admin.host) && overlay.adminTokens.length === 0) {
    problems.push(
      `admin.host: the admin plane listens on ${config.admin.host}, which is not loopback, and ADMIN_TOKENS is empty; ` +
        'set ADMIN_TOKENS or bind the admin plane to 127.0.0.1',
    );
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  const policy = config.policy
    ? {
        ...config.policy,
        bundle: bundleLocation(config.policy.bundle, source, overlay.sources.has('policy.bundle')),
      }
    : null;
  return {
    ...config,
    auth: config.auth ?? null,
    policy,
    source,
    embedded,
    services,
    adminTokens: overlay.adminTokens,
    trustedProxies,
  };
}

/** The variable that set this document path (or a path above it), if any. */
function sourceOf(sources: ReadonlyMap<string, string>, path: readonly PropertyKey[]): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const variable = sources.get(path.slice(0, n).map(String).join('.'));
    if (variable !== undefined) return variable;
  }
  return undefined;
}

/**
 * A relative bundle path in the file is relative to the file, so a config can travel with its bundle;
 * one from POLICY_BUNDLE is relative to the working directory, like any path on a command line.
 */
function bundleLocation(bundle: string, source: string, fromEnvironment: boolean): string {
  if (/^https?:\/\//i.test(bundle) || isAbsolute(bundle) || fromEnvironment) return bundle;
  return resolvePath(source === '(inline)' ? process.cwd() : dirname(source), bundle);
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

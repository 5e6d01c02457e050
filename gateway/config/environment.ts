// The one place the gateway reads its environment. Deployment knobs and secrets are laid over the parsed
// YAML document before the one schema validates it, and every value remembers the variable it came
// from, so a problem is reported as `JWT_SECRET: ...` rather than as a file path nobody wrote.
import {
  ALGORITHMS,
  ASYMMETRIC_ALGORITHMS,
  HMAC_MIN_KEY_BYTES,
  hmacAlgorithmsForSecret,
  publicKeyAlgorithms,
} from '../auth/algorithms.js';

export interface AdminToken {
  readonly name: string;
  readonly token: string;
}

export interface EnvironmentOverlay {
  /** Document path ('auth.keys.1', 'policy.bundle') → the variable that set it. */
  readonly sources: ReadonlyMap<string, string>;
  /** Problems found in the variables themselves (before the schema sees their values). */
  readonly problems: readonly string[];
  /** ADMIN_TOKENS, parsed; secrets that never enter the document. */
  readonly adminTokens: readonly AdminToken[];
}

type Doc = Record<string, unknown>;

/**
 * Lays the environment over `doc` (mutated). Variables (documented in config/README.md and both
 * env examples): GATEWAY_PORT, ADMIN_PORT, ADMIN_HOST, ADMIN_TOKENS, REDIS_URL, TRUSTED_PROXIES,
 * LOG_LEVEL, AUDIT_LOG; JWT_SECRET and JWT_PUBLIC_KEY (add a key each), JWKS_URL, JWT_ISSUER,
 * JWT_AUDIENCE, JWT_ALGORITHMS (narrows the keys from the environment); POLICY_BUNDLE,
 * POLICY_VERIFICATION_KEY, POLICY_POLL_INTERVAL_MS, POLICY_MAX_MEMORY_PAGES, POLICY_DECISION_LOG,
 * POLICY_DECISION_LOG_SAMPLE_RATE. Unset and blank variables count as absent.
 */
export function overlayEnvironment(doc: Doc, env: NodeJS.ProcessEnv): EnvironmentOverlay {
  const sources = new Map<string, string>();
  const problems: string[] = [];
  const set = (path: string, value: unknown, variable: string) => {
    const keys = path.split('.');
    let target: Doc | unknown[] = doc;
    for (const key of keys.slice(0, -1)) target = container(target, key);
    (target as Doc)[keys.at(-1)!] = value;
    sources.set(path, variable);
  };

  for (const [variable, path] of [
    ['GATEWAY_PORT', 'server.port'],
    ['ADMIN_PORT', 'admin.port'],
  ] as const) {
    const value = read(env, variable);
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      problems.push(`${variable}: must be a port number, got '${value}'`);
    else set(path, n, variable);
  }
  const adminHost = read(env, 'ADMIN_HOST');
  if (adminHost !== undefined) set('admin.host', adminHost, 'ADMIN_HOST');
  const redisUrl = read(env, 'REDIS_URL');
  if (redisUrl !== undefined) {
    if (/^rediss?:\/\/./.test(redisUrl)) set('redis.url', redisUrl, 'REDIS_URL');
    else problems.push('REDIS_URL: must be a redis:// or rediss:// URL');
  }
  const proxies = read(env, 'TRUSTED_PROXIES');
  if (proxies !== undefined) set('server.trustedProxies', list(proxies), 'TRUSTED_PROXIES');
  const level = read(env, 'LOG_LEVEL');
  if (level !== undefined) set('logging.level', level, 'LOG_LEVEL');
  const auditLog = read(env, 'AUDIT_LOG');
  if (auditLog !== undefined) set('admin.auditLog', auditLog, 'AUDIT_LOG');

  overlayJwt(doc, env, set, problems);
  overlayPolicy(env, set);
  return { sources, problems, adminTokens: parseAdminTokens(read(env, 'ADMIN_TOKENS'), problems) };
}

type Setter = (path: string, value: unknown, variable: string) => void;

/** JWT_* and JWKS_URL: a key source in the environment turns the auth module on even without a section. */
function overlayJwt(doc: Doc, env: NodeJS.ProcessEnv, set: Setter, problems: string[]): void {
  const override = read(env, 'JWT_ALGORITHMS');
  const allowed = override === undefined ? undefined : list(override);
  for (const alg of allowed ?? []) {
    if (!(ALGORITHMS as readonly string[]).includes(alg))
      problems.push(`JWT_ALGORITHMS: unknown algorithm ${alg} (expected one of ${ALGORITHMS.join(', ')})`);
  }
  const narrow = (usable: readonly string[]) =>
    allowed === undefined ? [...usable] : usable.filter((alg) => allowed.includes(alg));
  // Keys from the environment come after the file's own.
  const keys = (): unknown[] => {
    const auth = container(doc, 'auth') as Doc;
    if (auth.keys === undefined) auth.keys = [];
    return Array.isArray(auth.keys) ? auth.keys : [];
  };

  // Secrets are taken verbatim: their spaces are key bytes.
  const secret = read(env, 'JWT_SECRET', false);
  if (secret !== undefined) {
    const algorithms = narrow(hmacAlgorithmsForSecret(Buffer.byteLength(secret, 'utf8')));
    if (algorithms.length === 0)
      problems.push(
        `JWT_SECRET: must be at least ${HMAC_MIN_KEY_BYTES.HS256} bytes for an allowed HS* algorithm`,
      );
    else {
      const at = keys().length;
      set(`auth.keys.${at}`, { secret, algorithms }, 'JWT_SECRET');
    }
  }
  // Env files often carry a PEM on one line with literal \n escapes.
  const publicKey = read(env, 'JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  if (publicKey !== undefined) {
    const usable = publicKeyAlgorithms(publicKey);
    if (typeof usable === 'string') problems.push(`JWT_PUBLIC_KEY: ${usable}`);
    else {
      const algorithms = narrow(usable);
      if (algorithms.length === 0)
        problems.push(`JWT_ALGORITHMS: allows none of this key's algorithms (${usable.join(', ')})`);
      else set(`auth.keys.${keys().length}`, { publicKey, algorithms }, 'JWT_PUBLIC_KEY');
    }
  }
  const jwksUrl = read(env, 'JWKS_URL');
  if (jwksUrl !== undefined) {
    set('auth.jwksUrl', jwksUrl, 'JWKS_URL');
    if (allowed !== undefined) {
      const algorithms = narrow(ASYMMETRIC_ALGORITHMS);
      if (algorithms.length === 0) problems.push('JWT_ALGORITHMS: allows no algorithm usable with JWKS keys');
      else set('auth.jwksAlgorithms', algorithms, 'JWT_ALGORITHMS');
    }
  }
  const issuer = read(env, 'JWT_ISSUER');
  if (issuer !== undefined) set('auth.issuer', issuer, 'JWT_ISSUER');
  const audience = list(read(env, 'JWT_AUDIENCE') ?? '');
  if (audience.length > 0)
    set('auth.audience', audience.length === 1 ? audience[0] : audience, 'JWT_AUDIENCE');
}

/** POLICY_*: POLICY_BUNDLE alone turns the policy module on. */
function overlayPolicy(env: NodeJS.ProcessEnv, set: Setter): void {
  const bundle = read(env, 'POLICY_BUNDLE');
  if (bundle !== undefined) set('policy.bundle', bundle, 'POLICY_BUNDLE');
  const key = read(env, 'POLICY_VERIFICATION_KEY');
  if (key !== undefined) set('policy.verificationKey', key.replace(/\\n/g, '\n'), 'POLICY_VERIFICATION_KEY');
  const interval = read(env, 'POLICY_POLL_INTERVAL_MS');
  if (interval !== undefined) set('policy.pollIntervalMs', numberOrText(interval), 'POLICY_POLL_INTERVAL_MS');
  const pages = read(env, 'POLICY_MAX_MEMORY_PAGES');
  if (pages !== undefined) set('policy.maxMemoryPages', numberOrText(pages), 'POLICY_MAX_MEMORY_PAGES');
  const log = read(env, 'POLICY_DECISION_LOG');
  if (log !== undefined)
    set('policy.decisionLog.enabled', /^(1|true|yes|on)$/i.test(log), 'POLICY_DECISION_LOG');
  const rate = read(env, 'POLICY_DECISION_LOG_SAMPLE_RATE');
  if (rate !== undefined)
    set('policy.decisionLog.sampleRate', numberOrText(rate), 'POLICY_DECISION_LOG_SAMPLE_RATE');
}

function parseAdminTokens(value: string | undefined, problems: string[]): AdminToken[] {
  if (value === undefined) return [];
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

/** The mapping or list at `key`, created as a mapping when absent. */
function container(parent: Doc | unknown[], key: string): Doc | unknown[] {
  const current = (parent as Doc)[key];
  if (typeof current === 'object' && current !== null) return current as Doc | unknown[];
  // A section that is not a mapping is left for the schema to report; the variable lands beside it.
  if (current !== undefined) return {};
  const created: Doc = {};
  (parent as Doc)[key] = created;
  return created;
}

/** Unset and blank variables count as absent. */
function read(env: NodeJS.ProcessEnv, name: string, trim = true): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return trim ? raw.trim() : raw;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A number when the text is one, else the text, so the schema reports it with the variable's name. */
function numberOrText(value: string): number | string {
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}

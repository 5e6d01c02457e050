// Configuration of the JWT stage: the `auth:` YAML section, the per-service auth modes, and the mapping
// of the JWT_* / JWKS_URL environment variables onto them. Parsed once at start; runtime code only ever
// sees the typed, already-valid AuthConfig.
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import {
  ALGORITHMS,
  ASYMMETRIC_ALGORITHMS,
  algorithmsForPublicKey,
  HMAC_MIN_KEY_BYTES,
  hmacAlgorithmsForSecret,
  isHmacAlgorithm,
} from './algorithms.js';

export const algorithmSchema = z.enum(ALGORITHMS);
const asymmetricAlgorithmSchema = z.enum(ASYMMETRIC_ALGORITHMS);

/** RFC 9110 §5.1 field-name token, stored lower-case like node's parsed headers. */
const headerNameSchema = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be an HTTP header name')
  .transform((name) => name.toLowerCase())
  .refine((name) => !RESERVED_HEADERS.has(name), 'cannot be a header the gateway or HTTP itself relies on');

// The proxy strips every forwarded identity header from client requests; these must never be stripped.
const RESERVED_HEADERS = new Set([
  'authorization',
  'host',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'cookie',
  'x-request-id',
  'x-forwarded-for',
  'x-acgs-color',
]);

/** One statically configured verification key: a shared secret (HS*) or a public key in PEM (RS/PS/ES/EdDSA). */
export const staticKeySchema = z
  .strictObject({
    kid: z.string().min(1).optional(),
    algorithms: z.array(algorithmSchema).min(1, 'must list at least one algorithm'),
    secret: z.string().min(1).optional(),
    publicKey: z.string().min(1).optional(),
  })
  .superRefine((key, ctx) => {
    if ((key.secret === undefined) === (key.publicKey === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of secret or publicKey' });
      return;
    }
    if (key.secret !== undefined) {
      const bytes = Buffer.byteLength(key.secret, 'utf8');
      key.algorithms.forEach((alg, i) => {
        if (!isHmacAlgorithm(alg)) {
          ctx.addIssue({
            code: 'custom',
            path: ['algorithms', i],
            message: `${alg} cannot be used with a secret`,
          });
        } else if (bytes < HMAC_MIN_KEY_BYTES[alg]) {
          // RFC 7518 §3.2: the key must be at least as long as the hash output.
          ctx.addIssue({
            code: 'custom',
            path: ['secret'],
            message: `${alg} needs a secret of at least ${HMAC_MIN_KEY_BYTES[alg]} bytes (got ${bytes})`,
          });
        }
      });
      return;
    }
    const usable = publicKeyAlgorithms(key.publicKey!);
    if (typeof usable === 'string') {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: usable });
      return;
    }
    key.algorithms.forEach((alg, i) => {
      if (!usable.includes(alg)) {
        ctx.addIssue({
          code: 'custom',
          path: ['algorithms', i],
          message: `${alg} cannot be used with this key (it allows ${usable.join(', ')})`,
        });
      }
    });
  });

export const authConfigSchema = z.strictObject({
  /** Static keys; several at once for rotation. */
  keys: z.array(staticKeySchema).default([]),
  jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Minimum interval between JWKS refetches triggered by an unknown `kid`. */
  jwksCooldownMs: z.int().min(0).default(30_000),
  /** Age after which the JWKS is refreshed in the background (the old set keeps serving meanwhile). */
  jwksCacheMaxAgeMs: z.int().min(1000).default(600_000),
  jwksTimeoutMs: z.int().min(1).default(5_000),
  /** Algorithms accepted from JWKS keys (further narrowed by each key's type and its `alg`). */
  jwksAlgorithms: z
    .array(asymmetricAlgorithmSchema)
    .min(1)
    .default([...ASYMMETRIC_ALGORITHMS]),
  issuer: z.string().min(1).optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  clockToleranceSec: z.int().min(0).max(3600).default(30),
  maxTokenLength: z.int().min(16).default(8192),
  cache: z
    .strictObject({
      maxEntries: z.int().min(0).default(10_000),
      /** A verified token is served from the cache at most this long (and never past its `exp`). */
      maxTtlMs: z.int().min(0).default(300_000),
    })
    .prefault({}),
  /** Claim name → upstream request header. The key `roles` means the claim named by `rolesClaim`. */
  forwardHeaders: z
    .record(z.string().min(1), headerNameSchema)
    .default({ sub: 'x-acgs-sub', roles: 'x-acgs-roles' }),
  rolesClaim: z.string().min(1).default('roles'),
  /** Mode for services that have no entry of their own (and requests with no matched service). */
  defaultMode: z.enum(['required', 'optional', 'off']).default('optional'),
});

export type AuthConfig = z.output<typeof authConfigSchema>;
export type AuthConfigInput = z.input<typeof authConfigSchema>;
export type StaticKeyConfig = z.output<typeof staticKeySchema>;

export const authModeSchema = z.enum(['required', 'optional', 'off']);
export type AuthMode = z.output<typeof authModeSchema>;

/** Per service: a mode, or a mode plus route-prefix overrides (longest matching prefix wins). */
export const serviceAuthSchema = z.union([
  authModeSchema,
  z.strictObject({
    mode: authModeSchema,
    routes: z
      .array(
        z.strictObject({
          prefix: z.string().startsWith('/', 'must start with /'),
          mode: authModeSchema,
        }),
      )
      .default([]),
  }),
]);
export type ServiceAuthConfig = z.output<typeof serviceAuthSchema>;

/**
 * The `auth:` section from the file, with the environment merged in: JWT_SECRET and JWT_PUBLIC_KEY add a
 * key each (after the file's), JWKS_URL / JWT_ISSUER / JWT_AUDIENCE override the file, JWT_ALGORITHMS
 * narrows the algorithms of the keys that came from the environment. Throws a ZodError listing every
 * problem; environment problems carry the variable name as their path.
 */
export function authConfigFromEnv(env: NodeJS.ProcessEnv, fromFile: AuthConfigInput): AuthConfig {
  const issues: z.core.$ZodIssue[] = [];
  const merged: AuthConfigInput = { ...fromFile, keys: [...(fromFile.keys ?? [])] };
  // Which parts of the merged section came from which variable, so their problems are named by it.
  const sources = new Map<string, string>();

  const override = envValue(env, 'JWT_ALGORITHMS')
    ?.split(',')
    .map((alg) => alg.trim())
    .filter((alg) => alg !== '');
  if (override !== undefined) {
    for (const alg of override) {
      if (!(ALGORITHMS as readonly string[]).includes(alg)) {
        issues.push(
          envIssue('JWT_ALGORITHMS', `unknown algorithm ${alg} (expected one of ${ALGORITHMS.join(', ')})`),
        );
      }
    }
  }
  const narrow = (usable: readonly string[]): string[] =>
    override === undefined ? [...usable] : usable.filter((alg) => override.includes(alg));

  const secret = envValue(env, 'JWT_SECRET', false);
  if (secret !== undefined) {
    const algorithms = narrow(hmacAlgorithmsForSecret(Buffer.byteLength(secret, 'utf8')));
    if (algorithms.length === 0) {
      issues.push(
        envIssue(
          'JWT_SECRET',
          `must be at least ${HMAC_MIN_KEY_BYTES.HS256} bytes for an allowed HS* algorithm`,
        ),
      );
    } else {
      sources.set(`keys.${merged.keys!.length}`, 'JWT_SECRET');
      merged.keys!.push({ secret, algorithms: algorithms as StaticKeyConfig['algorithms'] });
    }
  }

  // Env files often carry a PEM on one line with literal \n escapes.
  const publicKey = envValue(env, 'JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  if (publicKey !== undefined) {
    const usable = publicKeyAlgorithms(publicKey);
    if (typeof usable === 'string') {
      issues.push(envIssue('JWT_PUBLIC_KEY', usable));
    } else {
      const algorithms = narrow(usable);
      if (algorithms.length === 0) {
        issues.push(
          envIssue('JWT_ALGORITHMS', `allows none of this key's algorithms (${usable.join(', ')})`),
        );
      } else {
        sources.set(`keys.${merged.keys!.length}`, 'JWT_PUBLIC_KEY');
        merged.keys!.push({ publicKey, algorithms: algorithms as StaticKeyConfig['algorithms'] });
      }
    }
  }

  const jwksUrl = envValue(env, 'JWKS_URL');
  if (jwksUrl !== undefined) {
    merged.jwksUrl = jwksUrl;
    sources.set('jwksUrl', 'JWKS_URL');
    if (override !== undefined) {
      const algorithms = narrow(ASYMMETRIC_ALGORITHMS);
      if (algorithms.length === 0)
        issues.push(envIssue('JWT_ALGORITHMS', 'allows no algorithm usable with JWKS keys'));
      else merged.jwksAlgorithms = algorithms as AuthConfig['jwksAlgorithms'];
    }
  }
  const issuer = envValue(env, 'JWT_ISSUER');
  if (issuer !== undefined) {
    merged.issuer = issuer;
    sources.set('issuer', 'JWT_ISSUER');
  }
  const audience = envValue(env, 'JWT_AUDIENCE')
    ?.split(',')
    .map((aud) => aud.trim())
    .filter((aud) => aud !== '');
  if (audience !== undefined && audience.length > 0) {
    merged.audience = audience.length === 1 ? audience[0] : audience;
    sources.set('audience', 'JWT_AUDIENCE');
  }

  const parsed = authConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [first, second] = issue.path;
      const variable = sources.get(first === 'keys' ? `keys.${String(second)}` : String(first));
      issues.push(variable === undefined ? issue : { ...issue, path: [variable] });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new z.ZodError(issues);
  return parsed.data;
}

/** The algorithms a PEM public key allows, or why it cannot be used. */
function publicKeyAlgorithms(pem: string): readonly string[] | string {
  // createPublicKey would happily derive the public half of a private key; refuse to hold one at all.
  if (pem.includes('PRIVATE KEY')) return 'is a private key: configure the public key only';
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'must be a PEM public key (SPKI or PKCS#1)';
  }
  try {
    return algorithmsForPublicKey(key);
  } catch (err) {
    return (err as Error).message;
  }
}

/** Unset and blank variables count as absent. Secrets are taken verbatim: their spaces are key bytes. */
function envValue(env: NodeJS.ProcessEnv, name: string, trim = true): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return trim ? raw.trim() : raw;
}

function envIssue(variable: string, message: string): z.core.$ZodIssue {
  return { code: 'custom', path: [variable], message, input: undefined };
}

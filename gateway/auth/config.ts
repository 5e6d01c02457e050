// Configuration of the JWT module: the `auth:` section and the per-service auth modes, composed into the
// one config schema (gateway/config/schema.ts); JWT_* variables are laid over the document by
// gateway/config/environment.ts first. Runtime code only ever sees the typed, already-valid AuthConfig.
import { z } from 'zod';
import { duration } from '../../core/duration.js';
import {
  ALGORITHMS,
  ASYMMETRIC_ALGORITHMS,
  HMAC_MIN_KEY_BYTES,
  isHmacAlgorithm,
  publicKeyAlgorithms,
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
  jwksCooldownMs: duration(0).default(30_000),
  /** Age after which the JWKS is refreshed in the background (the old set keeps serving meanwhile). */
  jwksCacheMaxAgeMs: duration(1000).default(600_000),
  jwksTimeoutMs: duration(1).default(5_000),
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
      maxTtlMs: duration(0).default(300_000),
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

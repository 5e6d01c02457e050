import { z } from 'zod';
import { duration } from '../../core/duration.js';
import { rolloutConfigSchema } from '../../rollout/config.js';
import { authConfigSchema, serviceAuthSchema } from '../auth/config.js';
import { policyConfigSchema } from '../policy/config.js';
import { rateLimitConfigSchema } from '../ratelimit/config.js';
import { screeningConfigSchema } from '../screening/config.js';

// The gateway's configuration file. Every field has a default, so `{}` plus services is a valid file;
// the embedded default lives in config/gateway.yaml. Runtime code receives the parsed, typed result.

const color = z.enum(['blue', 'green'], { message: "must be 'blue' or 'green'" });
const httpUrl = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a URL')
  .transform((value) => value.replace(/\/+$/, ''));

const timeoutsSchema = z.strictObject({
  connect: duration(1).default(2000),
  headers: duration(1).default(15_000),
  body: duration(1).default(30_000),
});

const breakerSchema = z.strictObject({
  /** Share of failed calls (transport errors, timeouts) in the rolling window that opens the breaker. */
  errorThresholdPercentage: z.number().min(1).max(100).default(50),
  /** Calls in the rolling window before the breaker may open at all. */
  volumeThreshold: z.number().int().min(1).default(5),
  /** How long an open breaker waits before letting one probe through. */
  resetTimeout: duration(10).default(5000),
  rollingCountTimeout: duration(100).default(10_000),
});

const poolSchema = z.strictObject({
  upstreams: z.array(httpUrl).min(1, 'must list at least one upstream URL'),
});

const demoColorSchema = z.strictObject({
  latencyMs: z.number().min(0).default(0),
  failRate: z.number().min(0).max(1).default(0),
});

const serviceSchema = z.strictObject({
  /** Path prefix clients use; default /api/<name>/. */
  prefix: z
    .string()
    .regex(/^\/[^?#\s]*\/$/, "must start and end with '/'")
    .optional(),
  stable: color.default('blue'),
  /** Initial split before any operator or rollout changes it. */
  weights: z.strictObject({ green: z.number().int().min(0).max(100).default(0) }).prefault({}),
  /** When every upstream of the chosen colour is out, send the request to the other colour. */
  failover: z.boolean().default(true),
  blue: poolSchema,
  green: poolSchema,
  /** Overrides of proxy.timeouts for this service; a field left out keeps the proxy-wide value. */
  timeouts: z
    .strictObject({
      connect: duration(1).optional(),
      headers: duration(1).optional(),
      body: duration(1).optional(),
    })
    .optional(),
  /** Demo behaviour per colour, used only by the in-process demo services. */
  demo: z.strictObject({ blue: demoColorSchema.optional(), green: demoColorSchema.optional() }).optional(),
  /** Whether a bearer token is required, optional or not used here (auth.defaultMode when absent). */
  auth: serviceAuthSchema.optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** CIDRs whose X-Forwarded-For is believed (nginx in front). */
      trustedProxies: z.array(z.string()).default([]),
      maxBodyBytes: z
        .number()
        .int()
        .min(0)
        .default(1024 * 1024 * 1024),
      maxHeaderBytes: z
        .number()
        .int()
        .min(1024)
        .default(16 * 1024),
      /**
       * Time allowed to receive a whole client request (headers and body); 0 turns it off. Enforced within
       * about a second (the server checks its connections every second, not node's default 30 s).
       */
      requestTimeout: duration(0).default(120_000),
      /**
       * A response the client stops reading (nginx's send_timeout): when no byte could be sent to the
       * client for this long, the connection is closed (499). Never shorter than a service's body
       * timeout plus a second, so a slow upstream is not blamed on the client.
       */
      sendTimeout: duration(100).default(60_000),
      /** Time allowed to receive the request line and headers (slowloris); at most requestTimeout. */
      headersTimeout: duration(1).default(10_000),
      /** Open client connections the data plane accepts at once; further ones are closed at accept. */
      maxConnections: z.number().int().min(1).default(10_000),
      /**
       * Open connections one client address may hold; 0 = no cap. Trusted proxies (nginx in front) are
       * exempt: they carry many clients over their connections.
       */
      maxConnectionsPerClient: z.number().int().min(0).default(256),
      /**
       * Request header names containing '_': nginx ignores them by default (underscores_in_headers off)
       * because CGI-style servers map '_' and '-' to the same variable, which lets `x-acgs_sub` pose as
       * `x-acgs-sub`. drop (default): removed before the policy and the upstream see the request;
       * reject: 400; allow: forwarded (identity headers are still stripped in either spelling).
       */
      headersWithUnderscores: z.enum(['drop', 'reject', 'allow']).default('drop'),
      /**
       * `%2F` and `%5C` in a path (Envoy's path_with_escaped_slashes_action). reject (default): 400;
       * unescape: decoded to '/' before routing, so router, policy and upstream all see a separator;
       * keep: kept encoded inside its segment, seen as `%2F` by router and policy, forwarded as `%2F`.
       */
      escapedSlashes: z.enum(['reject', 'unescape', 'keep']).default('reject'),
      keepAliveTimeout: duration(0).default(65_000),
      /** On SIGTERM, how long in-flight requests may take to finish before the process exits anyway. */
      drainTimeout: duration(0).default(15_000),
      accessLog: z.boolean().default(false),
      stickyCookie: z
        .strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9_-]+$/)
            .default('acgs_uid'),
          maxAgeSec: z
            .number()
            .int()
            .min(0)
            .default(30 * 24 * 3600),
          enabled: z.boolean().default(true),
        })
        .prefault({}),
    })
    .prefault({}),
  admin: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9901),
      auditLog: z.string().default('var/audit.jsonl'),
      /** A JWT verified by the auth keys is an admin credential when its roles include one of these. */
      jwtRoles: z.array(z.string().min(1)).default(['admin', 'operator', 'release']),
    })
    .prefault({}),
  proxy: z
    .strictObject({
      timeouts: timeoutsSchema.prefault({}),
      breaker: breakerSchema.prefault({}),
      connectionsPerUpstream: z.number().int().min(1).default(128),
      keepAliveTimeout: duration(100).default(30_000),
    })
    .prefault({}),
  services: z
    .record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'service names are lower-case words'), serviceSchema)
    .refine((services) => Object.keys(services).length > 0, 'must define at least one service'),
  redis: z.strictObject({ url: z.string().optional(), keyPrefix: z.string().default('acgs:') }).prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  /**
   * In-process demo upstreams for the embedded default: the services' upstream URLs are answered by this
   * process (each URL's host and port), with the behaviour of each service's `demo:` section.
   */
  demo: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
  /** The JWT module (gateway/auth/config.ts); absent = off, unless JWT_SECRET/JWT_PUBLIC_KEY/JWKS_URL. */
  auth: authConfigSchema.optional(),
  rateLimit: rateLimitConfigSchema.prefault({}),
  /** The policy module (gateway/policy/config.ts); absent = off, unless POLICY_BUNDLE. */
  policy: policyConfigSchema.optional(),
  /** Injection screening before the policy (gateway/screening/config.ts); on wherever a policy is. */
  screening: screeningConfigSchema.prefault({}),
  rollout: rolloutConfigSchema,
  /** Release-gate thresholds for `acgs-gateway validate` (release/validate/criteria.ts); the gateway ignores them. */
  validation: z.unknown().optional(),
  /** Release pipeline parameters, read by `acgs-gateway pipeline --config` (release/pipeline/config.ts). */
  pipeline: z.unknown().optional(),
});

export type GatewayConfig = z.output<typeof configSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type TimeoutsConfig = z.output<typeof timeoutsSchema>;
export type BreakerConfig = z.output<typeof breakerSchema>;

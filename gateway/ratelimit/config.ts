// The `rateLimit:` section of gateway.yaml. Parsed and validated once at start; the stage receives the
// typed output and never looks at raw YAML or the environment.
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { formatIssues } from '../config/errors.js';

/** Shortest and longest window: below 100 ms timer and network jitter dominate, above a day use a quota system. */
export const MIN_WINDOW_MS = 100;
export const MAX_WINDOW_MS = 86_400_000;
/** The exact log keeps one entry per admitted request, so its limit is capped to bound memory per key. */
export const MAX_LOG_LIMIT = 100_000;
export const MAX_LIMIT = 10_000_000;

const windowSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (!Number.isInteger(ms) || ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a duration such as '1s', '10s', '1m', '1h' or whole milliseconds, between ${MIN_WINDOW_MS} ms and 24h`,
    });
    return z.NEVER;
  }
  return ms;
});

const limitSchema = z
  .object({
    /** Used in metric labels and Redis keys, hence the conservative alphabet. */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
    /** Capped so limit × window stays an exact integer in a double (the window maths is integer-only). */
    limit: z.number().int().positive().max(MAX_LIMIT),
    window: windowSchema,
    algorithm: z.enum(['counter', 'log']).default('counter'),
    /** address: the client address, checked before authentication. subject: the verified `sub`, else the address. */
    by: z.enum(['address', 'subject']).default('address'),
    match: z
      .object({
        service: z.string().min(1).optional(),
        prefix: z.string().startsWith('/', 'must start with /').optional(),
      })
      .strict()
      .prefault({}),
    failMode: z.enum(['open', 'closed']).default('open'),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.algorithm === 'log' && l.limit > MAX_LOG_LIMIT) {
      ctx.addIssue({
        code: 'custom',
        path: ['limit'],
        message: `the log algorithm keeps one entry per request: at most ${MAX_LOG_LIMIT}; use 'counter' for more`,
      });
    }
  })
  .transform(({ window, ...rest }) => ({ ...rest, windowMs: window }));

export const rateLimitConfigSchema = z
  .object({
    /** Longest a decision may wait for Redis before the limit's failMode applies. */
    redisTimeoutMs: z.number().int().positive().max(10_000).default(50),
    /** Prefix of every Redis key, so several gateways (staging, production) can share one Redis. */
    keyPrefix: z.string().max(64).default('acgs:rl:'),
    /**
     * How many replicas share the limits. While Redis is unreachable each replica enforces
     * ceil(limit / replicas) from its memory, so the fleet as a whole stays near the limit.
     */
    replicas: z.number().int().positive().default(1),
    memory: z
      .object({ maxKeys: z.number().int().positive().default(100_000) })
      .strict()
      .prefault({}),
    limits: z.array(limitSchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.limits.forEach((l, i) => {
      if (seen.has(l.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['limits', i, 'name'],
          message: `duplicate limit name '${l.name}'`,
        });
      }
      seen.add(l.name);
    });
  });

export type RateLimitConfig = z.output<typeof rateLimitConfigSchema>;
export type RateLimitConfigInput = z.input<typeof rateLimitConfigSchema>;
export type LimitConfig = RateLimitConfig['limits'][number];

/** Parses the `rateLimit:` section; throws an Error listing every problem with its path. */
export function parseRateLimitConfig(input: unknown): RateLimitConfig {
  const result = rateLimitConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new Error(
      `invalid rate limit configuration:\n  ${formatIssues(result.error.issues, 'rateLimit').join('\n  ')}`,
    );
  }
  return result.data;
}

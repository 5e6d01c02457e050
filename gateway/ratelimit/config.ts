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
    /**
     * How a limit shared through Redis is kept. batched (default for counter): decided from local counts
     * plus the fleet total last read from Redis, synchronised in batches (README "Batched sync").
     * per-request (default, and the only choice, for log): one atomic script per decision.
     */
    sync: z.enum(['batched', 'per-request']).optional(),
    /** batched: local admissions of a key that trigger a sync before the interval ends (README for the default). */
    maxLocalHits: z.number().int().positive().max(MAX_LIMIT).optional(),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.algorithm === 'log' && l.sync === 'batched') {
      ctx.addIssue({
        code: 'custom',
        path: ['sync'],
        message:
          "the log algorithm is exact only with one script per decision: use 'per-request' or algorithm 'counter'",
      });
    }
    if (l.algorithm === 'log' && l.limit > MAX_LOG_LIMIT) {
      ctx.addIssue({
        code: 'custom',
        path: ['limit'],
        message: `the log algorithm keeps one entry per request: at most ${MAX_LOG_LIMIT}; use 'counter' for more`,
      });
    }
  })
  .transform(({ window, sync, ...rest }) => ({
    ...rest,
    windowMs: window,
    sync: sync ?? (rest.algorithm === 'log' ? 'per-request' : 'batched'),
  }));

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
    /** Batched limits (see `limits[].sync`): how often and after how many local hits a key is synchronised. */
    sync: z
      .object({
        /** Longest a local admission waits before the fleet hears of it. */
        intervalMs: z.number().int().min(10).max(10_000).default(100),
        /** Default of `limits[].maxLocalHits` for every batched limit that sets none. */
        maxLocalHits: z.number().int().positive().max(MAX_LIMIT).optional(),
      })
      .strict()
      .prefault({}),
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

/**
 * Local admissions of one key after which a batched limit syncs before its interval ends: the limit's own
 * `maxLocalHits`, else the section's, else a tenth of the limit spread over the other replicas, so that
 * the (replicas - 1) × maxLocalHits term of the over-admission bound stays within 10 % of the limit.
 */
export function maxLocalHitsOf(config: RateLimitConfig, limit: LimitConfig): number {
  const explicit = limit.maxLocalHits ?? config.sync.maxLocalHits;
  if (explicit !== undefined) return explicit;
  return Math.max(1, Math.floor(limit.limit / (10 * Math.max(1, config.replicas - 1))));
}

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

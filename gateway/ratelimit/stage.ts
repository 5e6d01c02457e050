// The two pipeline stages of rate limiting: per-address limits before authentication (cheap rejection of
// floods before any signature is checked), per-subject limits after it.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Closeable, RequestContext, Stage } from '../../core/types.js';
import { BatchedStore, type BatchedStoreEvents, type SyncResult } from './batched-store.js';
import { type LimitConfig, maxLocalHitsOf, type RateLimitConfig } from './config.js';
import { pushRateLimitHeaders, rateLimited } from './headers.js';
import { Limiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { createRateLimitMetrics } from './metrics.js';
import { RedisHealth } from './redis-health.js';
import { RedisLink } from './redis-link.js';
import { RedisStore } from './redis-store.js';
import type { LimitDecision } from './store.js';

export interface RateLimitStagesOptions {
  readonly config: RateLimitConfig;
  /** Shared by the replicas (see recommendedRedisOptions); null keeps every count in this process. */
  readonly redis: Redis | null;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The clock of the memory store. Default Date.now. */
  readonly now?: () => number;
  /** Which clock Redis windows follow; see RedisStoreOptions.clock. Default 'server'. */
  readonly redisClock?: 'server' | 'caller';
}

/** What the batched store reports goes to the Redis health (log once per change) and the sync metric. */
function batchedEvents(
  health: RedisHealth,
  metrics: ReturnType<typeof createRateLimitMetrics>,
): BatchedStoreEvents {
  const results: Record<SyncResult, { inc(): void }> = {
    ok: metrics.syncs.labels('ok'),
    error: metrics.syncs.labels('error'),
    timeout: metrics.syncs.labels('timeout'),
  };
  return {
    answered: () => health.success(),
    failed: (reason, cause) => health.down(reason, cause),
    synced: (result) => results[result].inc(),
  };
}

export interface RateLimitStages extends Closeable {
  /** The store of `sync: batched` limits; null without Redis or without such limits. */
  readonly batched: BatchedStore | null;
  /** Limits with `by: address`. */
  readonly beforeAuth: Stage;
  /** Limits with `by: subject` (the verified `sub`, else the client address). */
  readonly afterAuth: Stage;
}

const SLASH = 47;

/** One limit as the stage applies it; key parts precomputed so a request costs one concatenation. */
class Rule {
  private readonly addressHead: string;
  private readonly subjectHead: string;
  private readonly prefix: string | null;
  /** A prefix ending in '/' matches by string; otherwise only on a segment boundary (/v1 ≠ /v1beta). */
  private readonly prefixIsDir: boolean;

  constructor(
    readonly limiter: Limiter,
    keyPrefix: string,
  ) {
    const c = limiter.config;
    // The hash tag ({...}) covers limit and client, so keys spread over a Redis Cluster's slots.
    this.addressHead = `${keyPrefix}{${c.name}:a:`;
    this.subjectHead = `${keyPrefix}{${c.name}:s:`;
    this.prefix = c.match.prefix ?? null;
    this.prefixIsDir = this.prefix?.endsWith('/') ?? false;
  }

  matches(rest: string): boolean {
    const p = this.prefix;
    if (p === null) return true;
    if (!rest.startsWith(p)) return false;
    return this.prefixIsDir || rest.length === p.length || rest.charCodeAt(p.length) === SLASH;
  }

  /** Separate namespaces, so a `sub` that looks like an address never shares that address's budget. */
  key(ctx: RequestContext): string {
    if (this.limiter.config.by === 'subject') {
      const sub = ctx.claims?.sub;
      if (typeof sub === 'string' && sub !== '') return this.subjectHead + sub + '}';
    }
    return this.addressHead + ctx.clientIp + '}';
  }
}

/** Rules per service, in configuration order; limits without `match.service` appear under every service. */
interface RuleTable {
  readonly byService: Map<string, Rule[]>;
  readonly anyService: Rule[];
}

function buildTable(rules: Rule[]): RuleTable {
  const byService = new Map<string, Rule[]>();
  const anyService = rules.filter((r) => r.limiter.config.match.service === undefined);
  for (const r of rules) {
    const s = r.limiter.config.match.service;
    if (s !== undefined && !byService.has(s)) {
      byService.set(
        s,
        rules.filter(
          (x) => x.limiter.config.match.service === undefined || x.limiter.config.match.service === s,
        ),
      );
    }
  }
  return { byService, anyService };
}

/** Headers of the allowed tiers, or the 429 of the rejecting tier that asks for the longest wait. */
function settle(ctx: RequestContext, rules: Rule[], decisions: LimitDecision[]): void {
  let rejected = -1;
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!;
    if (!d.allowed && (rejected < 0 || d.retryAfterMs > decisions[rejected]!.retryAfterMs)) rejected = i;
  }
  if (rejected >= 0) throw rateLimited(rules[rejected]!.limiter.config.name, decisions[rejected]!);
  for (const d of decisions) pushRateLimitHeaders(ctx.responseHeaders, d);
}

function settleOne(ctx: RequestContext, rule: Rule, d: LimitDecision): void {
  if (!d.allowed) throw rateLimited(rule.limiter.config.name, d);
  pushRateLimitHeaders(ctx.responseHeaders, d);
}

function createStage(name: string, table: RuleTable, now: () => number): Stage {
  return {
    name,
    run(ctx: RequestContext): void | Promise<void> {
      if (ctx.service === null) return;
      const rules = table.byService.get(ctx.service) ?? table.anyService;
      if (rules.length === 0) return;
      const t = now();
      if (rules.length === 1) {
        // The common case: one tier per stage, no arrays.
        const rule = rules[0]!;
        if (!rule.matches(ctx.rest)) return;
        const d = rule.limiter.decide(rule.key(ctx), t);
        if (d instanceof Promise) return d.then((x) => settleOne(ctx, rule, x));
        settleOne(ctx, rule, d);
        return;
      }
      // Several tiers: all are asked at once (one auto-pipelined round trip), each counts the request.
      const matched: Rule[] = [];
      const pending: (LimitDecision | Promise<LimitDecision>)[] = [];
      let async = false;
      for (const rule of rules) {
        if (!rule.matches(ctx.rest)) continue;
        const d = rule.limiter.decide(rule.key(ctx), t);
        if (d instanceof Promise) async = true;
        matched.push(rule);
        pending.push(d);
      }
      if (async) {
        // A synchronous answer may be its limiter's reused scratch object, which a request deciding while
        // this one waits would overwrite: keep a copy.
        for (let i = 0; i < pending.length; i++) {
          const d = pending[i]!;
          if (!(d instanceof Promise)) pending[i] = { ...d };
        }
        return Promise.all(pending).then((ds) => settle(ctx, matched, ds));
      }
      settle(ctx, matched, pending as LimitDecision[]);
    },
  };
}

export function createRateLimitStages(opts: RateLimitStagesOptions): RateLimitStages {
  const { config, redis, logger } = opts;
  const now = opts.now ?? Date.now;
  const metrics = createRateLimitMetrics(opts.registry);
  const memory = new MemoryStore({ maxKeys: config.memory.maxKeys, now });
  const link = redis === null ? null : new RedisLink(redis, 1_000);
  const serverClock = (opts.redisClock ?? 'server') === 'server';
  const shared =
    redis === null || link === null
      ? null
      : new RedisStore({ redis, timeoutMs: config.redisTimeoutMs, clock: opts.redisClock ?? 'server', link });
  const health = redis === null ? null : new RedisHealth(logger, metrics);
  const batched =
    shared === null || link === null || !config.limits.some((l) => l.sync === 'batched')
      ? null
      : new BatchedStore({
          transport: { sync: (...a) => shared.sync(...a), probe: () => redis!.ping() },
          link,
          intervalMs: config.sync.intervalMs,
          timeoutMs: config.redisTimeoutMs,
          serverClock,
          maxKeys: config.memory.maxKeys,
          now,
          events: batchedEvents(health!, metrics),
        });

  const toRule = (c: LimitConfig): Rule =>
    new Rule(
      new Limiter({
        config: c,
        store: shared ?? memory,
        fallback: shared === null ? null : memory,
        health,
        metrics,
        replicas: config.replicas,
        batched: c.sync === 'batched' ? batched : null,
        maxLocalHits: maxLocalHitsOf(config, c),
      }),
      config.keyPrefix,
    );
  const address = config.limits.filter((c) => c.by === 'address').map(toRule);
  const subject = config.limits.filter((c) => c.by === 'subject').map(toRule);

  return {
    beforeAuth: createStage('ratelimit:address', buildTable(address), now),
    afterAuth: createStage('ratelimit:subject', buildTable(subject), now),
    batched,
    async close() {
      await batched?.close();
      await memory.close();
      await shared?.close();
    },
  };
}

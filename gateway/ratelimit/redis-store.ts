// Store shared by every replica: one atomic Lua script per decision (redis-scripts.ts) on a client with
// auto-pipelining, so concurrent requests share round trips. A decision never waits longer than
// `timeoutMs`: it rejects with StoreUnavailableError and the limiter applies the limit's failMode.
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import type { SyncReply } from './batched-counter.js';
import { RedisLink, TIMEOUT } from './redis-link.js';
import { COUNTER_LUA, LOG_LUA, SYNC_LUA } from './redis-scripts.js';
import { type Algorithm, type LimitDecision, type RateLimitStore, StoreUnavailableError } from './store.js';

/**
 * Client options that suit the rate limiter: commands fail at once while disconnected instead of queueing
 * (the store checks the connection first anyway), and a command in flight when the connection drops is not
 * replayed after reconnecting, which would count the request twice.
 */
export const recommendedRedisOptions = {
  enableAutoPipelining: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (times: number) => Math.min(100 * times, 1_000),
} satisfies RedisOptions;

const COUNTER_COMMAND = 'acgsRateLimitCounter';
const LOG_COMMAND = 'acgsRateLimitLog';
const SYNC_COMMAND = 'acgsRateLimitSync';

type ScriptReply = [allowed: number, remaining: number, resetMs: number, retryAfterMs: number];

interface RateLimitCommands {
  acgsRateLimitCounter(
    key: string,
    limit: number,
    windowMs: number,
    nowMs: number | '',
  ): Promise<ScriptReply>;
  acgsRateLimitLog(
    key: string,
    limit: number,
    windowMs: number,
    nowMs: number | '',
    member: string,
  ): Promise<ScriptReply>;
  acgsRateLimitSync(
    key: string,
    windowMs: number,
    bw: number,
    bc: number,
    bp: number,
    nowMs: number | '',
  ): Promise<SyncReply>;
}

export interface RedisStoreOptions {
  /** Shared with the rest of the gateway; the store defines its scripts on it and never closes it. */
  readonly redis: Redis;
  /** Longest a decision waits for Redis. */
  readonly timeoutMs: number;
  /**
   * 'server' (default): windows follow the Redis server's TIME, so replicas with skewed clocks agree.
   * 'caller': the nowMs given to hit(); for tests that drive a virtual clock.
   */
  readonly clock?: 'server' | 'caller';
  /**
   * After a timeout (Redis connected but not answering), decisions skip Redis for this long, then one
   * decision probes it: a hung Redis costs a request nothing instead of the full timeout. Default 1 s.
   */
  readonly backoffMs?: number;
  /** Back-off state shared with the batched store of the same client; made here when not given. */
  readonly link?: RedisLink;
}

/** Defines the scripts once per client (EVALSHA, falling back to EVAL after a Redis restart flushed them). */
function defineScripts(redis: Redis): RateLimitCommands {
  const commands = redis as unknown as Partial<RateLimitCommands>;
  if (typeof commands.acgsRateLimitCounter !== 'function') {
    redis.defineCommand(COUNTER_COMMAND, { numberOfKeys: 1, lua: COUNTER_LUA });
  }
  if (typeof commands.acgsRateLimitLog !== 'function') {
    redis.defineCommand(LOG_COMMAND, { numberOfKeys: 1, lua: LOG_LUA });
  }
  if (typeof commands.acgsRateLimitSync !== 'function') {
    redis.defineCommand(SYNC_COMMAND, { numberOfKeys: 1, lua: SYNC_LUA });
  }
  return redis as unknown as RateLimitCommands;
}

function toDecision(reply: ScriptReply, limit: number): LimitDecision {
  return { allowed: reply[0] === 1, limit, remaining: reply[1], resetMs: reply[2], retryAfterMs: reply[3] };
}

export class RedisStore implements RateLimitStore {
  private readonly redis: Redis;
  private readonly commands: RateLimitCommands;
  private readonly timeoutMs: number;
  private readonly serverClock: boolean;
  readonly link: RedisLink;
  /** Log members are `<store id>:<sequence>`: unique across replicas without asking Redis for an id. */
  private readonly memberPrefix = `${randomBytes(6).toString('base64url')}:`;
  private sequence = 0;

  constructor(opts: RedisStoreOptions) {
    this.redis = opts.redis;
    this.commands = defineScripts(opts.redis);
    this.timeoutMs = opts.timeoutMs;
    this.serverClock = (opts.clock ?? 'server') === 'server';
    this.link = opts.link ?? new RedisLink(opts.redis, opts.backoffMs ?? 1_000);
  }

  hit(
    key: string,
    limit: number,
    windowMs: number,
    algorithm: Algorithm,
    nowMs: number,
  ): Promise<LimitDecision> {
    const unavailable = this.link.admitProbe();
    if (unavailable !== null) return Promise.reject(unavailable);
    const now = this.serverClock ? '' : nowMs;
    const reply =
      algorithm === 'counter'
        ? this.commands.acgsRateLimitCounter(key, limit, windowMs, now)
        : this.commands.acgsRateLimitLog(key, limit, windowMs, now, this.memberPrefix + this.sequence++);
    return new Promise<LimitDecision>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.link.failed();
        reject(TIMEOUT);
      }, this.timeoutMs);
      reply.then(
        (r) => {
          clearTimeout(timer);
          this.link.answered();
          resolve(toDecision(r, limit));
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(new StoreUnavailableError('error', { cause: err }));
        },
      );
    });
  }

  /** One sync of a batched key (SYNC_LUA); the batched store bounds its wait. */
  sync(key: string, windowMs: number, bw: number, bc: number, bp: number, nowMs: number): Promise<SyncReply> {
    return this.commands.acgsRateLimitSync(key, windowMs, bw, bc, bp, this.serverClock ? '' : nowMs);
  }

  /** The client belongs to the caller; nothing of the store's own needs closing. */
  async close(): Promise<void> {}
}

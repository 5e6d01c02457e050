import type { Redis, Result } from 'ioredis';
import type { Closeable } from '../core/types.js';
import { type RolloutKeys, rolloutKeys } from './keys.js';

/** Who drives the rollout controllers: exactly one replica of the fleet. */
export interface Leadership extends Closeable {
  /** Whether this replica may act now. */
  isLeader(): boolean;
  /** The fencing token of the current tenure (every weight write carries it); null when not leader. */
  fence(): number | null;
}

/** One replica, no Redis: always the leader. */
export class LocalLeadership implements Leadership {
  isLeader(): boolean {
    return true;
  }
  fence(): number | null {
    return null;
  }
  async close(): Promise<void> {}
}

// KEYS[1] lease, KEYS[2] fencing counter; ARGV id, ttl ms. Returns the new fencing token, 0 when taken.
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end       -- another replica holds it
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])     -- free (or still ours after a missed renewal)
return redis.call('INCR', KEYS[2])                     -- a fresh token for every tenure
`;

// KEYS[1] lease; ARGV id, ttl ms. Extends the lease only while we still hold it.
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

// KEYS[1] lease; ARGV id. Hands the lease back on a clean shutdown so a successor need not wait the TTL.
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    acgsLeaseAcquire(lease: string, fence: string, id: string, ttlMs: string): Result<number, Context>;
    acgsLeaseRenew(lease: string, id: string, ttlMs: string): Result<number, Context>;
    acgsLeaseRelease(lease: string, id: string): Result<number, Context>;
  }
}

export interface RedisLeaderLeaseOptions {
  readonly redis: Redis;
  readonly prefix: string;
  /** Unique per replica (hostname:pid:random). */
  readonly id: string;
  readonly ttlMs: number;
  readonly now?: () => number;
  /** Called when this replica becomes or stops being the leader. */
  readonly onChange?: (leader: boolean, fence: number | null) => void;
}

/**
 * A leader lease: `SET` only when free, renewed every ttl/3 by a compare-and-pexpire, a fencing token
 * from INCR on every acquisition. Leadership is trusted only until the local deadline of the last
 * successful acquire/renew (measured from when it was sent, less a 10 % margin for clock drift), so a
 * replica cut off from Redis stops acting before its lease can have passed to another.
 */
export class RedisLeaderLease implements Leadership {
  readonly #redis: Redis;
  readonly #keys: RolloutKeys;
  readonly #id: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #onChange: ((leader: boolean, fence: number | null) => void) | undefined;
  #fence: number | null = null;
  #validUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #closed = false;
  #wasLeader = false;

  constructor(options: RedisLeaderLeaseOptions) {
    this.#redis = options.redis;
    this.#keys = rolloutKeys(options.prefix);
    this.#id = options.id;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
    if (typeof this.#redis.acgsLeaseAcquire !== 'function') {
      this.#redis.defineCommand('acgsLeaseAcquire', { numberOfKeys: 2, lua: ACQUIRE });
      this.#redis.defineCommand('acgsLeaseRenew', { numberOfKeys: 1, lua: RENEW });
      this.#redis.defineCommand('acgsLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
    }
  }

  get id(): string {
    return this.#id;
  }

  /** Tries once now, then every ttl/3. Resolves after the first attempt. */
  async start(): Promise<void> {
    await this.attempt();
    this.#timer = setInterval(() => void this.attempt(), Math.max(10, Math.floor(this.#ttlMs / 3)));
    this.#timer.unref();
  }

  isLeader(): boolean {
    return this.#fence !== null && this.#now() < this.#validUntil;
  }

  fence(): number | null {
    return this.isLeader() ? this.#fence : null;
  }

  /** One acquire-or-renew round; never throws (a Redis error just lets the deadline run out). */
  attempt(): Promise<void> {
    this.#running ??= this.#round().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #round(): Promise<void> {
    if (this.#closed) return;
    const sentAt = this.#now();
    const ttl = String(this.#ttlMs);
    try {
      if (this.isLeader()) {
        const renewed = await this.#redis.acgsLeaseRenew(this.#keys.leader, this.#id, ttl);
        if (renewed === 1) this.#validUntil = sentAt + this.#ttlMs * 0.9;
        else this.#fence = null;
      } else {
        const fence = await this.#redis.acgsLeaseAcquire(this.#keys.leader, this.#keys.fence, this.#id, ttl);
        if (fence > 0) {
          this.#fence = fence;
          this.#validUntil = sentAt + this.#ttlMs * 0.9;
        } else {
          this.#fence = null;
        }
      }
    } catch {
      // Unreachable Redis: keep the deadline; leadership lapses by itself when it passes.
    }
    this.#notify();
  }

  #notify(): void {
    const leader = this.isLeader();
    if (leader === this.#wasLeader) return;
    this.#wasLeader = leader;
    this.#onChange?.(leader, this.fence());
  }

  /** Stops renewing and hands the lease back if still held. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
    if (this.#fence !== null) {
      this.#fence = null;
      await this.#redis.acgsLeaseRelease(this.#keys.leader, this.#id).catch(() => {});
    }
    this.#notify();
  }
}

RedisLeaderLease satisfies new (
  options: RedisLeaderLeaseOptions,
) => Leadership;

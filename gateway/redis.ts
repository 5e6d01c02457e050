import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ReadinessCheck } from '../core/types.js';
import { recommendedRedisOptions } from './ratelimit/redis-store.js';

/**
 * The gateway's connections to Redis, with one owner: made at start, checked by /readyz, closed at
 * shutdown. Two clients because two kinds of work share the server: rate-limit decisions on the hot path
 * must fail fast (no offline queue, bounded retries) so their failMode applies, while the rollout
 * machinery's background work (weights, windows, the leader lease) may wait out a blip.
 */
export class RedisConnections {
  /** For per-request decisions: auto-pipelined, never queued while disconnected. */
  readonly hot: Redis;
  /** For background work: queued and retried while Redis restarts. */
  readonly background: Redis;

  private constructor(url: string, logger: Logger) {
    this.hot = new Redis(url, { ...recommendedRedisOptions, lazyConnect: true });
    this.background = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: true });
    let lastError = '';
    this.hot.on('error', (err: Error) => {
      if (err.message !== lastError) logger.warn({ err: err.message }, 'redis connection problem');
      lastError = err.message;
    });
    this.hot.on('ready', () => {
      if (lastError !== '') logger.info('redis connection restored');
      lastError = '';
    });
    this.background.on('error', (err: Error) =>
      logger.debug({ err: err.message }, 'redis (background) connection problem'),
    );
  }

  /** Connects both; not ready within 3 s, the gateway starts anyway and /readyz says why. */
  static async open(url: string, logger: Logger): Promise<RedisConnections> {
    const connections = new RedisConnections(url, logger);
    const within3s = (p: Promise<unknown>) =>
      Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 3000).unref())]);
    await Promise.all([within3s(connections.hot.connect()), within3s(connections.background.connect())]);
    return connections;
  }

  readonly readiness: ReadinessCheck = () => {
    if (this.hot.status !== 'ready') return `redis is ${this.hot.status}`;
    if (this.background.status !== 'ready') return `redis (background) is ${this.background.status}`;
    return null;
  };

  async close(): Promise<void> {
    this.hot.disconnect();
    this.background.disconnect();
  }
}

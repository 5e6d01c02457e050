import type { Redis } from 'ioredis';
import type { Color } from '../core/types.js';
import { LATENCY_BUCKETS } from './latency-histogram.js';
import type { LiveWindows, WindowBucket } from './live-windows.js';
import { emptyCounts, summarise, type WindowCounts, type WindowSummary } from './window-counts.js';
import type { WindowSource } from './window-source.js';

export interface RedisFleetWindowsOptions {
  /** Not closed by this class. */
  readonly redis: Redis;
  readonly prefix: string;
  /** This replica's windows, whose new counts are flushed. */
  readonly local: LiveWindows;
  readonly flushIntervalMs?: number;
  /** How long a second's hash lives in Redis: the longest window the leader can read. */
  readonly retentionSeconds?: number;
}

/**
 * The fleet-wide window: every replica adds what it recorded since its last flush into one hash per
 * service, colour and second (HINCRBY, so replicas never overwrite each other), pipelined about once a
 * second; the leader sums the hashes of the seconds it needs. Fields: r (requests), e (errors), h<i>
 * (latency bucket i, only the non-zero ones).
 */
export class RedisFleetWindows implements WindowSource {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #local: LiveWindows;
  readonly #flushIntervalMs: number;
  readonly #retention: number;
  /** Buckets a failed flush could not write, retried with the next one. */
  #pending: WindowBucket[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | null = null;

  constructor(options: RedisFleetWindowsOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#local = options.local;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#retention = options.retentionSeconds ?? options.local.seconds + 60;
  }

  key(service: string, color: Color, second: number): string {
    return `${this.#prefix}win:{${service}}:${color}:${second}`;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.flush().catch(() => {
        // Kept in #pending and retried; the analysis meanwhile sees this replica's share late.
      });
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  /** Adds every count recorded since the previous flush into Redis. One flush at a time. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    const buckets = [...this.#pending, ...this.#local.exportDelta()];
    this.#pending = [];
    if (buckets.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const bucket of buckets) {
      const key = this.key(bucket.service, bucket.color, bucket.second);
      pipeline.hincrby(key, 'r', bucket.requests);
      if (bucket.errors > 0) pipeline.hincrby(key, 'e', bucket.errors);
      bucket.hist.forEach((count, i) => {
        if (count > 0) pipeline.hincrby(key, `h${i}`, count);
      });
      pipeline.expire(key, this.#retention);
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      if (results.some(([error]) => error)) throw new Error('window flush partly failed');
    } catch (error) {
      // A partial failure may double-count a few seconds on retry; losing them would be worse for the
      // error rate of a small window. Drop what would have expired anyway.
      const oldest = Math.floor(Date.now() / 1000) - this.#retention;
      this.#pending = buckets.filter((bucket) => bucket.second > oldest);
      throw error;
    }
  }

  /** Fleet-wide sums of the last `seconds` seconds up to `nowMs`, this replica's latest flushed first. */
  async counts(service: string, color: Color, seconds: number, nowMs: number): Promise<WindowCounts> {
    await this.flush().catch(() => {});
    const nowSecond = Math.floor(nowMs / 1000);
    const span = Math.min(Math.max(1, Math.floor(seconds)), this.#retention);
    const pipeline = this.#redis.pipeline();
    for (let second = nowSecond - span + 1; second <= nowSecond; second++) {
      pipeline.hgetall(this.key(service, color, second));
    }
    const out = emptyCounts();
    for (const [error, fields] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      addFields(out, fields as Record<string, string>);
    }
    return out;
  }

  async read(service: string, color: Color, seconds: number, nowMs: number): Promise<WindowSummary> {
    const span = Math.min(seconds, this.#retention);
    return summarise(await this.counts(service, color, span, nowMs), span);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush().catch(() => {});
  }
}

function addFields(into: WindowCounts, fields: Record<string, string>): void {
  for (const [field, value] of Object.entries(fields)) {
    const n = Number(value);
    if (field === 'r') into.requests += n;
    else if (field === 'e') into.errors += n;
    else if (field.startsWith('h')) {
      const i = Number(field.slice(1));
      if (i >= 0 && i < LATENCY_BUCKETS) into.hist[i]! += n;
    }
  }
}

RedisFleetWindows satisfies new (
  options: RedisFleetWindowsOptions,
) => WindowSource;

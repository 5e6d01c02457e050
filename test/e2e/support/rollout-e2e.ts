// Shared by the rollout and fleet end-to-end tests: demo services on free ports, a traffic generator that
// spreads requests over many sticky users and counts what the clients saw, admin calls, bounded waits,
// and Redis key cleanup.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import type { AuditEntry } from '../../../gateway/admin/audit-log.js';
import type { RolloutStatus } from '../../../rollout/manager.js';
import type { WindowSummary } from '../../../rollout/window-counts.js';
import { ADMIN_AUTH, type ServiceSpec } from '../../helpers/gateway.js';
import { freePort } from '../../helpers/ports.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix no other test (or run) uses. */
export function uniquePrefix(label: string): string {
  return `test:e2e:${label}:${randomBytes(5).toString('hex')}:`;
}

export interface DemoColor {
  latencyMs?: number;
  failRate?: number;
}

/** A service whose blue and green are in-process demo upstreams on free loopback ports. */
export async function demoService(
  green: DemoColor = {},
  blue: DemoColor = {},
  more: Record<string, unknown> = {},
): Promise<ServiceSpec> {
  const [b, g] = [await freePort(), await freePort()];
  return {
    blue: [`http://127.0.0.1:${b}`],
    green: [`http://127.0.0.1:${g}`],
    demo: { blue: { latencyMs: 0, failRate: 0, ...blue }, green: { latencyMs: 0, failRate: 0, ...green } },
    ...more,
  };
}

/**
 * Runs `start` (a gateway or a replica on demo services from `demoService`) until it does not fail with
 * EADDRINUSE, at most three times: the demo ports are picked free just before the start, and a parallel
 * test may take one of them in between. `start` must pick its ports itself, so each attempt gets new ones.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

/** Fast, e2e-sized rollout machinery (the config section). */
export const FAST_ROLLOUT = {
  tickMs: 100,
  flushIntervalMs: 200,
  weightRereadMs: 200,
  leaseTtlMs: 1500,
};

export interface Sample {
  /** Date.now() when the answer arrived. */
  readonly at: number;
  readonly color: string;
  readonly status: number;
  /** Index of the target URL the request went to. */
  readonly target: number;
}

export interface TrafficOptions {
  /** Data-plane base URLs; the workers are spread round-robin over them. */
  readonly urls: readonly string[];
  readonly service: string;
  /** Concurrent workers (each one request at a time). */
  readonly concurrency?: number;
  /** Distinct sticky users cycled through (cookie acgs_uid=user00000001, ...). */
  readonly users?: number;
  /** Pause after every request of a worker (throttles the rate). */
  readonly pauseMs?: number;
  /** Safety bounds: the generator stops by itself after either. */
  readonly maxRequests?: number;
  readonly maxDurationMs?: number;
}

/** Steady client traffic until stop(); every answer is kept as a Sample. */
export class Traffic {
  readonly samples: Sample[] = [];
  transportErrors = 0;
  readonly #pools: Pool[];
  readonly #done: Promise<void>;
  #stopped = false;
  #closing: Promise<void> | null = null;
  #next = 0;

  constructor(readonly options: TrafficOptions) {
    this.#pools = options.urls.map((url) => new Pool(url, { connections: 64, pipelining: 1 }));
    const concurrency = options.concurrency ?? 16;
    this.#done = Promise.all(Array.from({ length: concurrency }, (_, i) => this.#worker(i))).then(() => {});
  }

  async #worker(index: number): Promise<void> {
    const {
      service,
      users = 5000,
      pauseMs = 0,
      maxRequests = 400_000,
      maxDurationMs = 45_000,
    } = this.options;
    const deadline = Date.now() + maxDurationMs;
    const target = index % this.#pools.length;
    const pool = this.#pools[target]!;
    while (!this.#stopped && this.samples.length < maxRequests && Date.now() < deadline) {
      const user = `user${String(this.#next++ % users).padStart(8, '0')}`;
      try {
        const res = await pool.request({
          path: `/api/${service}/items/${user}`,
          method: 'GET',
          headers: { cookie: `acgs_uid=${user}` },
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        await res.body.dump();
        const color = String(res.headers['x-acgs-color'] ?? 'none');
        this.samples.push({ at: Date.now(), color, status: res.statusCode, target });
      } catch {
        this.transportErrors++;
        await sleep(10);
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /** Samples answered at or after `since` (ms). */
  after(since: number, until = Number.POSITIVE_INFINITY): Sample[] {
    return this.samples.filter((s) => s.at >= since && s.at < until);
  }

  /** Stops the workers and closes the pools; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#closing ??= this.#done.then(async () => {
      await Promise.all(this.#pools.map((p) => p.close()));
    });
    return this.#closing;
  }
}

export interface Summary {
  total: number;
  green: number;
  blue: number;
  failed: number;
  greenFailed: number;
}

export function summarise(samples: readonly Sample[]): Summary {
  const s: Summary = { total: 0, green: 0, blue: 0, failed: 0, greenFailed: 0 };
  for (const x of samples) {
    s.total++;
    if (x.color === 'green') s.green++;
    if (x.color === 'blue') s.blue++;
    if (x.status >= 500) {
      s.failed++;
      if (x.color === 'green') s.greenFailed++;
    }
  }
  return s;
}

/**
 * What the admin routes these tests call answer, as one type: a rollout status, an error body, the audit
 * log or a service view. Each test reads only the fields of the route it called.
 */
export type AdminJson = RolloutStatus & {
  error: { code: string; message: string; requestId: string };
  entries: (AuditEntry & { before?: { state?: string }; after?: { state?: string } })[];
  colors: Record<'blue' | 'green', { weight: number; window: WindowSummary }>;
};

export interface AdminAnswer<T = AdminJson> {
  status: number;
  json: T;
  headers: Headers;
}

/** One admin API call with the operator token. */
export async function admin<T = AdminJson>(
  adminUrl: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<AdminAnswer<T>> {
  const headers: Record<string, string> = { ...ADMIN_AUTH };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text === '' ? null : JSON.parse(text)) as T, headers: res.headers };
}

export { waitFor } from '../../helpers/wait.js';

/** The rollout status of a service (GET /admin/services/:name/rollout). */
export async function rolloutStatus(adminUrl: string, service: string): Promise<RolloutStatus> {
  const res = await admin<RolloutStatus>(adminUrl, 'GET', `/admin/services/${service}/rollout`);
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.json)}`);
  return res.json;
}

/** The split a replica routes with (GET /admin/services/:name). */
export async function servedGreen(adminUrl: string, service: string): Promise<number> {
  const res = await admin(adminUrl, 'GET', `/admin/services/${service}`);
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.json)}`);
  return (res.json as { weights: { green: number } }).weights.green;
}

/** Deletes every key under `prefix` (SCAN in batches, bounded). */
export async function deleteKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export { capturingLogger } from '../helpers/logger.js';
export { metricValue } from '../helpers/metrics.js';
export { freePort } from '../helpers/ports.js';
export { waitFor } from '../helpers/wait.js';

// Shared by the rate-limit tests: real Redis servers, unique key prefixes, request contexts.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RequestContext } from '../../core/types.js';
import { requestContext } from '../helpers/context.js';
import { waitFor } from '../helpers/wait.js';

export const SHARED_REDIS = { host: '127.0.0.1', port: 6379 };

/** A key prefix no other test run uses, so test files can share the one Redis in parallel. */
export function uniquePrefix(label: string): string {
  return `test:rl:${label}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (bounded: SCAN in batches). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Polls `check` every few ms until it is true; fails after `timeoutMs`. */
/** A redis-server of the test's own, which it may kill, freeze and restart without disturbing others. */
export class OwnRedis {
  private child: ChildProcess | null = null;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    this.child = child;
    const probe = new Redis({
      port: this.port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    probe.on('error', () => {}); // refused until the server listens: expected
    try {
      await waitFor(`redis-server on port ${this.port}`, async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        try {
          if (probe.status !== 'ready') await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      });
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: the connection drops at once, as when a Redis host dies. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  /** SIGSTOP: connected but silent, as a Redis stuck in a long command or a network black hole. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }
}

export function makeCtx(over: Partial<RequestContext> = {}): RequestContext {
  return requestContext({
    headers: {},
    clientIp: '192.0.2.1',
    path: '/api/ac/v1/things',
    rest: '/v1/things',
    ...over,
  });
}

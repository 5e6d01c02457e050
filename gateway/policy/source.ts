// Where bundles come from at run time: a file read once at start, or an http(s) URL polled with
// If-None-Match so an unchanged bundle costs one 304. A failed fetch or a refused bundle keeps the
// active one; the failure shows in GET /admin/policy and in acgs_policy_bundle_load_failures_total.
import { readFile } from 'node:fs/promises';
import { type Dispatcher, request } from 'undici';
import { MAX_UNCOMPRESSED_BYTES } from './archive.js';
import { BundleError } from './bundle-error.js';
import { errorMessage } from './engine.js';
import type { MinimalLogger } from './log-once.js';
import type { PolicyManager } from './manager.js';

export interface BundleSourceOptions {
  /** A file path or an http(s) URL (POLICY_BUNDLE). */
  readonly location: string;
  readonly manager: PolicyManager;
  readonly pollIntervalMs: number;
  /** 0..1: each wait is pollIntervalMs × (1 ± jitter), so replicas do not poll in step. */
  readonly pollJitter: number;
  readonly logger?: MinimalLogger;
  readonly dispatcher?: Dispatcher;
  readonly random?: () => number;
  /** Per-request timeout for the URL fetch. */
  readonly timeoutMs?: number;
}

export interface BundleSource {
  /** Loads the bundle once; resolves true when a bundle is active afterwards. Starts polling for URLs. */
  start(): Promise<boolean>;
  /** One poll now (URL) or one re-read (file); resolves with what happened. */
  poll(): Promise<'loaded' | 'unchanged' | 'failed'>;
  close(): Promise<void>;
}

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

export function createBundleSource(opts: BundleSourceOptions): BundleSource {
  return isUrl(opts.location) ? new UrlSource(opts) : new FileSource(opts);
}

class FileSource implements BundleSource {
  constructor(private readonly opts: BundleSourceOptions) {}

  async start(): Promise<boolean> {
    await this.poll();
    return this.opts.manager.isReady();
  }

  async poll(): Promise<'loaded' | 'failed'> {
    const { location, manager } = this.opts;
    let buffer: Buffer;
    try {
      buffer = await readFile(location);
    } catch (err) {
      manager.recordFailure(
        location,
        new BundleError('fetch', `cannot read ${location}: ${errorMessage(err)}`),
      );
      return 'failed';
    }
    try {
      await manager.load(buffer, location);
      return 'loaded';
    } catch {
      return 'failed'; // recorded and logged by the manager
    }
  }

  async close(): Promise<void> {}
}

class UrlSource implements BundleSource {
  #etag: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #inFlight: Promise<unknown> | null = null;

  constructor(private readonly opts: BundleSourceOptions) {}

  async start(): Promise<boolean> {
    await this.poll();
    this.#schedule();
    return this.opts.manager.isReady();
  }

  poll(): Promise<'loaded' | 'unchanged' | 'failed'> {
    const run = this.#poll();
    this.#inFlight = run;
    return run;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight?.catch(() => undefined);
  }

  #schedule(): void {
    if (this.#closed) return;
    const { pollIntervalMs, pollJitter } = this.opts;
    const random = this.opts.random ?? Math.random;
    const delay = Math.max(0, pollIntervalMs * (1 + pollJitter * (2 * random() - 1)));
    this.#timer = setTimeout(() => {
      this.poll().finally(() => this.#schedule());
    }, delay);
    // Polling alone must not keep the process alive.
    this.#timer.unref();
  }

  async #poll(): Promise<'loaded' | 'unchanged' | 'failed'> {
    const { location, manager } = this.opts;
    let buffer: Buffer;
    let etag: string | null;
    try {
      const res = await request(location, {
        method: 'GET',
        headers: this.#etag ? { 'if-none-match': this.#etag } : {},
        dispatcher: this.opts.dispatcher,
        headersTimeout: this.opts.timeoutMs ?? 10_000,
        bodyTimeout: this.opts.timeoutMs ?? 10_000,
      });
      if (res.statusCode === 304) {
        await res.body.dump();
        return 'unchanged';
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`HTTP ${res.statusCode}`);
      }
      buffer = await readLimited(res.body, MAX_UNCOMPRESSED_BYTES);
      const header = res.headers.etag;
      etag = typeof header === 'string' ? header : null;
    } catch (err) {
      manager.recordFailure(
        location,
        new BundleError('fetch', `cannot fetch ${location}: ${errorMessage(err)}`),
      );
      return 'failed';
    }
    // Remember the ETag even when the bundle is refused: the same bytes would be refused again, and
    // a fixed bundle arrives with a new ETag.
    this.#etag = etag;
    try {
      await manager.load(buffer, location);
      return 'loaded';
    } catch {
      return 'failed';
    }
  }
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new Error(`bundle larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

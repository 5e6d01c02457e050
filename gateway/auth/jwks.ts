// A remote JSON Web Key Set (RFC 7517 §5): fetched with undici, held in memory, and refreshed
//  - when a token names a `kid` the set does not have, at most once per cooldown (so a flood of random
//    kids costs the JWKS server one request per interval, however many tokens arrive), and
//  - in the background once the set is older than its max age (the old set keeps serving meanwhile).
// A failed or unusable fetch keeps the last good set: an outage of the identity provider must not log
// everybody out. Keys stay usable exactly as long as the set served by the provider contains them.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Closeable } from '../../core/types.js';
import { algorithmsForPublicKey } from './algorithms.js';
import type { VerificationKey } from './keys.js';

export interface JwksOptions {
  readonly url: string;
  readonly cooldownMs: number;
  readonly maxAgeMs: number;
  readonly timeoutMs: number;
  /** Algorithms accepted from this set at all; each key is narrowed further by its type and `alg`. */
  readonly algorithms: readonly string[];
  readonly now: () => number;
  readonly logger: Logger;
}

/** A JWKS document larger than this is refused (a real one is a few kilobytes). */
const MAX_JWKS_BYTES = 1024 * 1024;

export class JwksKeySet implements Closeable {
  readonly #options: JwksOptions;
  readonly #closing = new AbortController();
  #byKid = new Map<string, VerificationKey[]>();
  #all: readonly VerificationKey[] = [];
  #loadedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<void> | null = null;
  readonly #firstAttempt: Promise<void>;

  constructor(options: JwksOptions) {
    this.#options = options;
    this.#firstAttempt = this.#refresh();
  }

  /** Settles after the first fetch attempt (never rejects: a failure is logged and retried on demand). */
  ready(): Promise<void> {
    return this.#firstAttempt;
  }

  /** Keys currently held under this kid, without any I/O. */
  byKid(kid: string): readonly VerificationKey[] | undefined {
    this.#refreshIfStale();
    return this.#byKid.get(kid);
  }

  /** Every key currently held, for tokens without a kid. */
  all(): readonly VerificationKey[] {
    this.#refreshIfStale();
    return this.#all;
  }

  /**
   * Called for a kid the set does not hold (or an empty set): joins the fetch in flight (the first one
   * included), or starts one if the cooldown has passed since the last attempt. Undefined when there is
   * nothing to wait for.
   */
  refreshForUnknownKid(): Promise<void> | undefined {
    if (this.#inFlight !== null) return this.#inFlight;
    if (this.#options.now() - this.#attemptedAt < this.#options.cooldownMs) return undefined;
    return this.#refresh();
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await this.#inFlight;
  }

  #refreshIfStale(): void {
    const now = this.#options.now();
    if (
      this.#inFlight === null &&
      now - this.#loadedAt > this.#options.maxAgeMs &&
      now - this.#attemptedAt >= this.#options.cooldownMs
    ) {
      void this.#refresh();
    }
  }

  #refresh(): Promise<void> {
    if (this.#closing.signal.aborted) return Promise.resolve();
    this.#attemptedAt = this.#options.now();
    const attempt = this.#fetchKeys()
      .then((keys) => {
        this.#install(keys);
        this.#loadedAt = this.#options.now();
        this.#options.logger.debug({ url: this.#options.url, keys: keys.length }, 'JWKS refreshed');
      })
      .catch((err: unknown) => {
        if (this.#closing.signal.aborted) return;
        this.#options.logger.warn(
          { url: this.#options.url, err, keptKeys: this.#all.length },
          'JWKS fetch failed; keeping the last good key set',
        );
      })
      .finally(() => {
        this.#attemptedAt = this.#options.now();
        this.#inFlight = null;
      });
    this.#inFlight = attempt;
    return attempt;
  }

  #install(keys: VerificationKey[]): void {
    const byKid = new Map<string, VerificationKey[]>();
    for (const key of keys) {
      if (key.kid === undefined) continue;
      const list = byKid.get(key.kid);
      if (list === undefined) byKid.set(key.kid, [key]);
      else list.push(key);
    }
    // Swapped as a whole: keys the provider dropped stop verifying from this moment on.
    this.#byKid = byKid;
    this.#all = Object.freeze(keys);
  }

  async #fetchKeys(): Promise<VerificationKey[]> {
    const { url, timeoutMs } = this.#options;
    const response = await request(url, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(timeoutMs)]),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`JWKS answered ${response.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_JWKS_BYTES) {
        response.body.destroy();
        throw new Error(`JWKS document exceeds ${MAX_JWKS_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const document: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const jwks = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(jwks)) throw new Error('JWKS document has no "keys" array');
    const keys = jwks.flatMap((jwk) => this.#toVerificationKey(jwk) ?? []);
    // An empty or entirely unusable set is far more likely a provider fault than a real revocation of
    // every key; treat it as a failed fetch.
    if (keys.length === 0) throw new Error('JWKS holds no usable signature key');
    return keys;
  }

  /** A usable public signature key, or null (skipped: encryption key, private or symmetric key, ...). */
  #toVerificationKey(jwk: unknown): VerificationKey | null {
    if (typeof jwk !== 'object' || jwk === null) return null;
    const fields = jwk as Record<string, unknown>;
    // RFC 7517 §4.2/§4.3: skip keys meant for encryption.
    if (fields.use !== undefined && fields.use !== 'sig') return null;
    if (Array.isArray(fields.key_ops) && !fields.key_ops.includes('verify')) return null;
    // Symmetric keys have no place in a published set; private parts should never be published.
    if (fields.kty === 'oct' || fields.d !== undefined) return null;
    let key: KeyObject;
    let usable: readonly string[];
    try {
      key = createPublicKey({ key: fields as JsonWebKey, format: 'jwk' });
      usable = algorithmsForPublicKey(key);
    } catch {
      return null;
    }
    const declared = typeof fields.alg === 'string' ? fields.alg : undefined;
    const algorithms = usable.filter(
      (alg) => this.#options.algorithms.includes(alg) && (declared === undefined || declared === alg),
    );
    if (algorithms.length === 0) return null;
    return {
      kid: typeof fields.kid === 'string' ? fields.kid : undefined,
      key,
      algorithms: Object.freeze(algorithms),
    };
  }
}

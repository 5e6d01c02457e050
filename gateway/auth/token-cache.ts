// Bounded LRU of verified tokens, keyed by the token string itself. Repeated traffic with the same token
// then costs one Map lookup instead of a signature check. An entry is never served at or past its
// expiry (the token's `exp`, capped by a maximum lifetime so a key the JWKS dropped stops being trusted
// for long-lived tokens too).
import type { Claims } from '../../core/types.js';

/** What the stage needs to apply a verified token to a request, computed once per token. */
export interface VerifiedToken {
  readonly claims: Claims;
  /** The verified `sub`, or null when it is not a non-empty string. */
  readonly subject: string | null;
  /** Forwarded identity headers, flat [name, value, ...]. */
  readonly upstreamHeaders: readonly string[];
  /** Epoch milliseconds from which the entry must not be served any more. */
  readonly expiresAt: number;
}

/** The slice of a prom-client Counter the cache uses. */
interface Count {
  inc(): void;
}

export class TokenCache {
  readonly #entries = new Map<string, VerifiedToken>();
  readonly #maxEntries: number;
  readonly #hits: Count;
  readonly #misses: Count;

  constructor(maxEntries: number, hits: Count, misses: Count) {
    this.#maxEntries = maxEntries;
    this.#hits = hits;
    this.#misses = misses;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, now: number): VerifiedToken | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) {
      this.#misses.inc();
      return undefined;
    }
    if (now >= entry.expiresAt) {
      this.#entries.delete(token);
      this.#misses.inc();
      return undefined;
    }
    // Map iteration order is insertion order: re-inserting marks the entry most recently used.
    this.#entries.delete(token);
    this.#entries.set(token, entry);
    this.#hits.inc();
    return entry;
  }

  set(token: string, entry: VerifiedToken): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(token);
    this.#entries.set(token, entry);
    if (this.#entries.size > this.#maxEntries) {
      // The first key is the least recently used.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}

// Bounded LRU of verified tokens, keyed by the token string itself. Repeated traffic with the same token
// then costs one Map lookup instead of a signature check. An entry is never served at or past its
// expiry (the token's `exp`, capped by a maximum lifetime so a key the JWKS dropped stops being trusted
// for long-lived tokens too).
//
// Recency is a doubly linked list through the entries, so a hit (the common case: one per authenticated
// request) moves two pointers and leaves the Map alone. The obvious Map LRU (delete and re-insert on every
// hit) makes V8 rehash the Map's table every few hits, and since the cache lives in the old generation the
// new table is allocated there too: ~50 bytes of old-generation garbage per request that only a full
// collection reclaims.
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

/** One cached token: a node of the recency list (head = most recently used, tail = least). */
class Node {
  prev: Node | null = null;
  next: Node | null = null;

  constructor(
    readonly token: string,
    public entry: VerifiedToken,
  ) {}
}

export class TokenCache {
  readonly #nodes = new Map<string, Node>();
  #head: Node | null = null;
  #tail: Node | null = null;
  readonly #maxEntries: number;
  readonly #hits: Count;
  readonly #misses: Count;

  constructor(maxEntries: number, hits: Count, misses: Count) {
    this.#maxEntries = maxEntries;
    this.#hits = hits;
    this.#misses = misses;
  }

  get size(): number {
    return this.#nodes.size;
  }

  get(token: string, now: number): VerifiedToken | undefined {
    const node = this.#nodes.get(token);
    if (node === undefined) {
      this.#misses.inc();
      return undefined;
    }
    if (now >= node.entry.expiresAt) {
      this.#remove(node);
      this.#misses.inc();
      return undefined;
    }
    this.#touch(node);
    this.#hits.inc();
    return node.entry;
  }

  set(token: string, entry: VerifiedToken): void {
    if (this.#maxEntries === 0) return;
    const existing = this.#nodes.get(token);
    if (existing !== undefined) {
      existing.entry = entry;
      this.#touch(existing);
      return;
    }
    const node = new Node(token, entry);
    this.#nodes.set(token, node);
    this.#pushHead(node);
    if (this.#nodes.size > this.#maxEntries) this.#remove(this.#tail!);
  }

  clear(): void {
    this.#nodes.clear();
    this.#head = null;
    this.#tail = null;
  }

  /** Makes `node` the most recently used. */
  #touch(node: Node): void {
    if (node === this.#head) return;
    this.#unlink(node);
    this.#pushHead(node);
  }

  #remove(node: Node): void {
    this.#nodes.delete(node.token);
    this.#unlink(node);
  }

  #unlink(node: Node): void {
    if (node.prev === null) this.#head = node.next;
    else node.prev.next = node.next;
    if (node.next === null) this.#tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
  }

  #pushHead(node: Node): void {
    node.next = this.#head;
    if (this.#head === null) this.#tail = node;
    else this.#head.prev = node;
    this.#head = node;
  }
}

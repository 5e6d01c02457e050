// Decisions remembered by the exact input text the engine evaluated. Sound by construction when the
// engine is a pure function of (input text, bundle): the key is the whole serialised input the wasm
// module receives (no more, no less: the projection decides what that is), the bundle's data is fixed
// for the engine's life, each engine has its own cache (a swapped-in bundle starts empty), and an
// engine whose module imports a builtin that could answer differently for the same input (time, random,
// network: see builtins.ts) gets no cache at all.
//
// Bounded with two generations (a cheap approximation of LRU): entries go into `young`; when it is full,
// `old` is dropped and `young` becomes `old`. A hit in `old` moves the entry back into `young`.
import type { PolicyDecision } from './decision.js';

/** Longer inputs are evaluated every time: a cache of huge keys would cost more memory than it saves. */
export const MAX_KEY_LENGTH = 4096;

export class DecisionCache {
  readonly #generation: number;
  #young = new Map<string, PolicyDecision>();
  #old = new Map<string, PolicyDecision>();
  hits = 0;
  misses = 0;

  /** At most 2 × `generation` entries are held. */
  constructor(generation: number) {
    this.#generation = Math.max(1, Math.floor(generation));
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(key: string): PolicyDecision | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) {
      this.hits++;
      return young;
    }
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.hits++;
      this.#old.delete(key);
      this.#put(key, old);
      return old;
    }
    this.misses++;
    return undefined;
  }

  set(key: string, decision: PolicyDecision): void {
    if (key.length > MAX_KEY_LENGTH) return;
    this.#put(key, decision);
  }

  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }

  #put(key: string, decision: PolicyDecision): void {
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, decision);
  }
}

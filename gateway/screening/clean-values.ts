// Values already screened and found clean, per target, so a request made of values seen before (the
// same Host, User-Agent, Accept, path, ...) costs set lookups instead of a libddwaf run.
//
// Why it is sound: every rule of ours is one condition over single values (compile.ts), libddwaf is given
// values without their keys, and a run carries no state from one request to the next (ephemeral data, a
// fresh context each time). So whether a rule matches a request is whether it matches one of its values
// alone, and a value that matched nothing once matches nothing again *under the same ruleset*. Each
// ruleset handle has its own cache: a rules swap starts from nothing. Only a run that saw every value and
// finished within its budget with no match marks its values clean; an attack (any match), a timeout or a
// run cut short by decoys marks nothing.
//
// Bounded with two generations per target (a cheap LRU): values go into `young`; when it is full, `old`
// is dropped and `young` becomes `old`. Long values (bodies, long headers) are never remembered.
import { Leaves } from './leaves.js';
import { TARGETS, type Target } from './rules-format.js';
import type { RequestLeaves } from './targets.js';

/** Longer values are always inspected: remembering them would cost more memory than it saves. */
export const MAX_REMEMBERED_LENGTH = 256;

class TwoGenerationSet {
  #young = new Set<string>();
  #old = new Set<string>();
  readonly #generation: number;

  constructor(generation: number) {
    this.#generation = generation;
  }

  has(value: string): boolean {
    if (this.#young.has(value)) return true;
    if (!this.#old.has(value)) return false;
    this.#old.delete(value);
    this.add(value);
    return true;
  }

  add(value: string): void {
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Set();
    }
    this.#young.add(value);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }
}

export class CleanValues {
  readonly #byTarget: Record<Target, TwoGenerationSet>;
  /** Values answered from the cache, and values that had to be inspected. */
  hits = 0;
  misses = 0;

  /** At most 2 × `perTarget` values are held per target; 0 remembers nothing. */
  constructor(readonly perTarget: number) {
    this.#byTarget = Object.fromEntries(
      TARGETS.map((t) => [t, new TwoGenerationSet(Math.max(1, perTarget))]),
    ) as Record<Target, TwoGenerationSet>;
  }

  get size(): number {
    let n = 0;
    for (const t of TARGETS) n += this.#byTarget[t].size;
    return n;
  }

  /**
   * The leaves not known to be clean (keys kept, so a match still names its parameter), or null when
   * every value of the request is known clean.
   */
  unknownOf(leaves: RequestLeaves): RequestLeaves | null {
    if (this.perTarget === 0) return leaves;
    let pending: RequestLeaves | null = null;
    for (const target of TARGETS) {
      const l = leaves[target];
      if (l === undefined || l.size === 0) continue;
      const known = this.#byTarget[target];
      let rest: Leaves | null = null;
      const { values, keys } = l;
      for (let i = 0; i < values.length; i++) {
        const value = values[i]!;
        if (value.length <= MAX_REMEMBERED_LENGTH && known.has(value)) {
          this.hits++;
          continue;
        }
        this.misses++;
        if (rest === null) rest = new Leaves();
        rest.keep(keys[i]!, value);
      }
      if (rest !== null) {
        if (pending === null) pending = {};
        pending[target] = rest;
      }
    }
    return pending;
  }

  /** Marks every value of `leaves` clean (call only after a complete run over them found nothing). */
  remember(leaves: RequestLeaves): void {
    if (this.perTarget === 0) return;
    for (const target of TARGETS) {
      const l = leaves[target];
      if (l === undefined) continue;
      const known = this.#byTarget[target];
      for (const value of l.values) if (value.length <= MAX_REMEMBERED_LENGTH) known.add(value);
    }
  }
}

// Seeded randomness for the chaos and fuzz suites: every run prints its seed, and CHAOS_SEED replays it.
import { randomInt } from 'node:crypto';

/** The run's seed: CHAOS_SEED when set (to replay a failure), else a fresh random one. */
export function chaosSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.CHAOS_SEED;
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`CHAOS_SEED must be a non-negative integer, got ${given}`);
    return n >>> 0;
  }
  return randomInt(0, 2 ** 31);
}

/** mulberry32: small, fast and good enough to drive a schedule; the same seed gives the same sequence. */
export class Rng {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An independent stream for one worker, so adding a worker does not shift the others' draws. */
  fork(label: number): Rng {
    return new Rng((this.seed ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0);
  }
}

/** Prefix of every assertion message: the seed that replays the run. */
export function replayHint(seed: number): string {
  return `[replay: CHAOS_SEED=${seed}]`;
}

import type { OutcomeRecorder } from '../core/outcome.js';
import type { Color } from '../core/types.js';
import { bucketIndex, LATENCY_BUCKETS } from './latency-histogram.js';
import { emptyCounts, summarise, type WindowCounts, type WindowSummary } from './window-counts.js';

export interface LiveWindowsOptions {
  /** Every service that will be recorded; others are ignored (the hot path never grows the arrays). */
  readonly services: readonly string[];
  /** Ring length in seconds: the longest window that can be read. */
  readonly seconds?: number;
  /** Epoch milliseconds. */
  readonly now?: () => number;
}

/** One second of one service and colour, as exported for the fleet merge (JSON-serialisable). */
export interface WindowBucket extends WindowCounts {
  service: string;
  color: Color;
  /** Epoch second. */
  second: number;
}

const colorIndex = (color: Color): number => (color === 'green' ? 1 : 0);
const COLOR_OF: readonly Color[] = ['blue', 'green'];

/**
 * Per service × colour, a ring of per-second buckets: requests, errors and a latency histogram with the
 * fixed bounds of latency-histogram.ts. Everything lives in typed arrays allocated up front, so `record`
 * (the proxy's hot path) only does a Map lookup and a few integer writes. A slot is reused when its
 * second comes round again: the stamp tells whether it still holds the second being written or read.
 */
export class LiveWindows implements OutcomeRecorder {
  readonly seconds: number;
  readonly services: readonly string[];
  readonly #now: () => number;
  readonly #index = new Map<string, number>();
  /** Epoch second each slot holds, -1 when never written. Indexed by series * seconds + slot. */
  readonly #stamp: Float64Array;
  readonly #requests: Uint32Array;
  readonly #errors: Uint32Array;
  readonly #hist: Uint32Array;
  // What exportDelta already handed out for the slot's current second: the next export sends the rest.
  readonly #sentRequests: Uint32Array;
  readonly #sentErrors: Uint32Array;
  readonly #sentHist: Uint32Array;

  constructor(options: LiveWindowsOptions) {
    this.seconds = options.seconds ?? 120;
    if (!Number.isInteger(this.seconds) || this.seconds < 1) throw new RangeError('seconds must be >= 1');
    this.services = [...options.services];
    this.#now = options.now ?? Date.now;
    for (const [i, name] of this.services.entries()) this.#index.set(name, i);
    const slots = this.services.length * 2 * this.seconds;
    this.#stamp = new Float64Array(slots).fill(-1);
    this.#requests = new Uint32Array(slots);
    this.#errors = new Uint32Array(slots);
    this.#hist = new Uint32Array(slots * LATENCY_BUCKETS);
    this.#sentRequests = new Uint32Array(slots);
    this.#sentErrors = new Uint32Array(slots);
    this.#sentHist = new Uint32Array(slots * LATENCY_BUCKETS);
  }

  record(service: string, color: Color, status: number, durationMs: number, transportError: boolean): void {
    const s = this.#index.get(service);
    if (s === undefined) return;
    const second = Math.floor(this.#now() / 1000);
    const slot = (s * 2 + colorIndex(color)) * this.seconds + (second % this.seconds);
    if (this.#stamp[slot] !== second) this.#reset(slot, second);
    this.#requests[slot]!++;
    if (transportError || status >= 500) this.#errors[slot]!++;
    this.#hist[slot * LATENCY_BUCKETS + bucketIndex(durationMs)]!++;
  }

  /** Sums of the last `seconds` seconds, the current (partial) second included. */
  counts(service: string, color: Color, seconds: number, nowMs = this.#now()): WindowCounts {
    const out = emptyCounts();
    const s = this.#index.get(service);
    if (s === undefined) return out;
    const nowSecond = Math.floor(nowMs / 1000);
    const span = Math.min(Math.max(1, Math.floor(seconds)), this.seconds);
    const base = (s * 2 + colorIndex(color)) * this.seconds;
    for (let second = nowSecond - span + 1; second <= nowSecond; second++) {
      const slot = base + (((second % this.seconds) + this.seconds) % this.seconds);
      if (this.#stamp[slot] !== second) continue;
      out.requests += this.#requests[slot]!;
      out.errors += this.#errors[slot]!;
      const h = slot * LATENCY_BUCKETS;
      for (let b = 0; b < LATENCY_BUCKETS; b++) out.hist[b]! += this.#hist[h + b]!;
    }
    return out;
  }

  summary(service: string, color: Color, seconds: number, nowMs = this.#now()): WindowSummary {
    return summarise(this.counts(service, color, seconds, nowMs), Math.min(seconds, this.seconds));
  }

  /**
   * What was recorded since the previous call, per second still in the ring: the fleet flush adds these
   * into Redis (HINCRBY), so each count must be handed out exactly once.
   */
  exportDelta(nowMs = this.#now()): WindowBucket[] {
    const out: WindowBucket[] = [];
    const oldest = Math.floor(nowMs / 1000) - this.seconds + 1;
    for (let series = 0; series < this.services.length * 2; series++) {
      for (let i = 0; i < this.seconds; i++) {
        const slot = series * this.seconds + i;
        const second = this.#stamp[slot]!;
        if (second < oldest) continue;
        const requests = this.#requests[slot]! - this.#sentRequests[slot]!;
        const errors = this.#errors[slot]! - this.#sentErrors[slot]!;
        if (requests === 0 && errors === 0) continue;
        const hist = new Array<number>(LATENCY_BUCKETS);
        const h = slot * LATENCY_BUCKETS;
        for (let b = 0; b < LATENCY_BUCKETS; b++) {
          hist[b] = this.#hist[h + b]! - this.#sentHist[h + b]!;
          this.#sentHist[h + b] = this.#hist[h + b]!;
        }
        this.#sentRequests[slot] = this.#requests[slot]!;
        this.#sentErrors[slot] = this.#errors[slot]!;
        out.push({
          service: this.services[series >> 1]!,
          color: COLOR_OF[series & 1]!,
          second,
          requests,
          errors,
          hist,
        });
      }
    }
    return out;
  }

  /**
   * Adds buckets recorded elsewhere (another replica's export) into this ring. They count as already
   * exported, so a later exportDelta does not send them back out.
   */
  import(buckets: readonly WindowBucket[], nowMs = this.#now()): void {
    const oldest = Math.floor(nowMs / 1000) - this.seconds + 1;
    for (const bucket of buckets) {
      const s = this.#index.get(bucket.service);
      if (s === undefined || bucket.second < oldest) continue;
      const slot = (s * 2 + colorIndex(bucket.color)) * this.seconds + (bucket.second % this.seconds);
      if (this.#stamp[slot] !== bucket.second) {
        // An older second in this slot is overwritten; a newer one wins over the imported bucket.
        if (this.#stamp[slot]! > bucket.second) continue;
        this.#reset(slot, bucket.second);
      }
      this.#requests[slot]! += bucket.requests;
      this.#sentRequests[slot]! += bucket.requests;
      this.#errors[slot]! += bucket.errors;
      this.#sentErrors[slot]! += bucket.errors;
      const h = slot * LATENCY_BUCKETS;
      for (let b = 0; b < LATENCY_BUCKETS; b++) {
        const count = bucket.hist[b] ?? 0;
        this.#hist[h + b]! += count;
        this.#sentHist[h + b]! += count;
      }
    }
  }

  #reset(slot: number, second: number): void {
    this.#stamp[slot] = second;
    this.#requests[slot] = 0;
    this.#errors[slot] = 0;
    this.#sentRequests[slot] = 0;
    this.#sentErrors[slot] = 0;
    const h = slot * LATENCY_BUCKETS;
    this.#hist.fill(0, h, h + LATENCY_BUCKETS);
    this.#sentHist.fill(0, h, h + LATENCY_BUCKETS);
  }
}

// Latency at a fixed request rate, open loop: what a proxy adds to a request at a load it carries, the way
// wrk2 and Nighthawk measure it. The saturated runs (load.ts) cannot answer that: a closed loop of c
// connections at full speed keeps c requests queued all the time, so its p99 is about c / throughput plus
// queueing, and says how fast a contender is, not what it adds. autocannon's own rate option does not help:
// it sends each second's budget as a burst at full speed and then waits, which is saturation again.
// The generator is bench/loadgen/paced.ts, in a process of its own (how it paces and times: there).
import { PATH } from './load.js';
import { firstJsonLine, spawnChild, stopChild } from './proc.js';

export interface PacedOptions {
  /** The compiled generator script (compileScripts()'s `paced`). */
  readonly script: string;
  readonly url: string;
  readonly connections: number;
  /** Requests per second over all connections. */
  readonly rate: number;
  readonly durationSec: number;
  /** Seconds at the same rate before the measured ones, not counted (connections opened, generator warm). */
  readonly warmupSec: number;
  /** One Authorization value per token; requests alternate between them. */
  readonly authorizations: readonly string[];
}

export interface PacedResult {
  readonly connections: number;
  /** The rate asked for. */
  readonly rate: number;
  /** 2xx answers per second completed over the run (short of the rate when the contender cannot carry it). */
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly ok: number;
  readonly non2xx: number;
  /** Connection errors, timeouts and requests unanswered 10 s after the last was sent. */
  readonly errors: number;
  /** p99 of how late the generator sent requests after their due time (its own timer and event loop). */
  readonly sendLagP99Ms: number;
}

type Wire = { [K in keyof PacedResult]: number | null };

export async function runPaced(o: PacedOptions): Promise<PacedResult> {
  const child = spawnChild('paced load', process.execPath, [
    o.script,
    o.url,
    PATH,
    String(o.connections),
    String(o.rate),
    String(o.durationSec),
    String(o.warmupSec),
    ...o.authorizations,
  ]);
  try {
    const wire = await firstJsonLine<Wire>(child, (o.warmupSec + o.durationSec + 30) * 1000);
    const num = (v: number | null | undefined) => (typeof v === 'number' ? v : Number.NaN);
    return {
      connections: num(wire.connections),
      rate: num(wire.rate),
      achievedRps: num(wire.achievedRps),
      p50Ms: num(wire.p50Ms),
      p99Ms: num(wire.p99Ms),
      p999Ms: num(wire.p999Ms),
      maxMs: num(wire.maxMs),
      ok: num(wire.ok),
      non2xx: num(wire.non2xx),
      errors: num(wire.errors),
      sendLagP99Ms: num(wire.sendLagP99Ms),
    };
  } finally {
    await stopChild(child);
  }
}

// One load run with autocannon 8 (programmatic API, in the orchestrator process). Latency percentiles
// come from each response's own timing (autocannon's 'response' event, float milliseconds), because
// autocannon's summary histogram is in whole milliseconds, too coarse for a "≤ 2 ms added p99" target.
import autocannon, { type Options } from 'autocannon';
import { type CpuTargets, type CpuWindow, cpuWindow, sampleCpu } from './cpu.js';
import { memoryOf } from './proc.js';

export const PATH = '/api/ac/bench?id=42';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationSec: number;
  /** One Authorization value per token; requests alternate between them on every connection. */
  readonly authorizations: readonly string[];
  /** Processes whose memory is sampled every 100 ms during the run. */
  readonly pids: readonly number[];
  /** Processes whose CPU time is read at the start and the end of the run (measurements only). */
  readonly cpu?: CpuTargets;
}

export interface LoadResult {
  readonly connections: number;
  readonly durationSec: number;
  /** 2xx responses per second: what a client got done. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly statusCodes: Record<string, number>;
  /** Peak VmRSS (summed over the contender's processes) seen during the run, KiB. */
  readonly peakRssKb: number;
  /** CPU per request of the contender, upstream, Redis and load generator over the run (when asked). */
  readonly cpu?: CpuWindow;
}

export function autocannonOptions(
  o: Pick<LoadOptions, 'url' | 'connections' | 'durationSec' | 'authorizations'>,
): Options {
  return {
    url: o.url,
    connections: o.connections,
    duration: o.durationSec,
    pipelining: 1,
    timeout: 10,
    requests: o.authorizations.map((authorization) => ({
      method: 'GET',
      path: PATH,
      headers: { authorization },
    })),
  };
}

/** The command line printed with the results (the requests array has no CLI flag, hence the API form). */
export function loadCommand(connections: readonly number[], durationSec: number): string {
  return `autocannon({ url: <contender>, connections: ${connections.join('|')}, duration: ${durationSec}, pipelining: 1, timeout: 10, requests: [GET ${PATH} + 'authorization: Bearer <RS256 JWT>', GET ${PATH} + 'authorization: Bearer <ES256 JWT>'] })`;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 18);
  let count = 0;
  let peakRssKb = 0;
  const sample = () => {
    if (o.pids.length === 0) return;
    const { rssKb } = memoryOf(o.pids);
    if (rssKb > peakRssKb) peakRssKb = rssKb;
  };
  sample();
  const timer = setInterval(sample, 100);
  // The CPU window is the load run itself: read right before autocannon starts and right after it ends.
  const cpuStart = o.cpu === undefined ? null : sampleCpu(o.cpu);
  const instance = autocannon(autocannonOptions(o));
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode >= 300) return;
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[count++] = responseTime;
  });
  const result = await instance;
  const cpuEnd = o.cpu === undefined ? null : sampleCpu(o.cpu);
  clearInterval(timer);
  sample();
  const sorted = latencies.subarray(0, count).sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, { count: n }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = n;
  return {
    connections: o.connections,
    durationSec: result.duration,
    rps: result['2xx'] / result.duration,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    statusCodes,
    peakRssKb,
    ...(o.cpu !== undefined && cpuStart !== null && cpuEnd !== null
      ? { cpu: cpuWindow(o.cpu, cpuStart, cpuEnd, result['2xx'] + result.non2xx) }
      : {}),
  };
}

/** Nearest-rank quantile of an ascending array; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

// What a bench run reports: per contender and connection count a summary (measured, skipped with why, or
// CRASHED), the table, the target lines and the crash report with each dead contender's last output lines.
import type { Contender } from './contenders.js';
import type { Liveness } from './liveness.js';
import { type LoadResult, median } from './load.js';
import type { PacedResult } from './paced.js';
import { fmt, fmtInt, markdownTable } from './report.js';

/** The ratio column's peer. */
export const REFERENCE = 'fastify-proxy';

export interface Measurement extends LoadResult {
  readonly round: number;
}

/** A contender found dead after a warm-up or a measurement. */
export interface Crash {
  readonly id: string;
  readonly round: number;
  readonly connections: number;
  readonly phase: 'stage check' | 'warm-up' | 'measurement' | 'fixed-rate run';
  readonly reason: 'exited' | 'unresponsive';
  readonly process: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly summary: string;
  readonly tail: string;
}

export interface ContenderSummary {
  readonly id: string;
  readonly label: string;
  readonly connections: number;
  /** 'crashed': died in at least one round at this connection count; its numbers are not a result. */
  readonly status: 'measured' | 'skipped' | 'crashed';
  readonly reason?: string;
  readonly crashes: readonly Crash[];
  readonly rps: number;
  /**
   * The contender's best round (highest req/s). This host's disturbances (slow phases of the shared
   * memory system, preemption) only ever slow a contender down, so its best round is the closest
   * estimate of its undisturbed speed; the ratio of two best rounds is the minimum-time estimator of
   * Chen and Revels, "Robust benchmarking in noisy environments" (2016). Reported next to the median of
   * the per-round ratios, not instead of it.
   */
  readonly bestRps: number;
  /** Rounds measured (0 when skipped or crashed). */
  readonly rounds: number;
  readonly ratioToReference: number;
  /**
   * The contender's CPU µs per request over the reference's, per round and then the median (as the
   * throughput ratio): steadier than the ratio of the two medians when a round ran on a busier machine.
   */
  readonly cpuRatioToReference: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
  readonly peakRssMiB: number;
  /**
   * µs of CPU per request (median over rounds; NaN where n/a): the contender's processes, its main thread
   * (Node contenders), the upstream, Redis and the load generator.
   */
  readonly cpuUsPerRequest: CpuMedians;
}

export interface CpuMedians {
  readonly contender: number;
  readonly mainThread: number;
  readonly upstream: number;
  readonly redis: number;
  readonly loadgen: number;
}

const NO_CPU: CpuMedians = {
  contender: Number.NaN,
  mainThread: Number.NaN,
  upstream: Number.NaN,
  redis: Number.NaN,
  loadgen: Number.NaN,
};

/** Median over rounds of each CPU figure; a round where a figure is n/a (null) does not count for it. */
export function cpuMedians(list: readonly Pick<LoadResult, 'cpu'>[]): CpuMedians {
  const of = (field: keyof CpuMedians) => median(list.map((m) => m.cpu?.usPerRequest[field] ?? Number.NaN));
  return {
    contender: of('contender'),
    mainThread: of('mainThread'),
    upstream: of('upstream'),
    redis: of('redis'),
    loadgen: of('loadgen'),
  };
}

export function summarise(
  selected: readonly Pick<Contender, 'id' | 'label'>[],
  connectionsList: readonly number[],
  measurements: Map<string, Measurement[]>,
  skipped: Map<string, string>,
  crashes: readonly Crash[],
): ContenderSummary[] {
  const out: ContenderSummary[] = [];
  for (const connections of connectionsList) {
    const reference = measurements.get(`${REFERENCE}@${connections}`) ?? [];
    for (const c of selected) {
      const list = measurements.get(`${c.id}@${connections}`) ?? [];
      // Connection counts run in list order; a crash at an earlier one ends that round for the contender,
      // so it counts at the later ones too.
      const crashed = crashes.filter(
        (x) => x.id === c.id && (x.connections === connections || x.phase === 'stage check'),
      );
      const missedRounds = crashes.filter(
        (x) =>
          x.id === c.id &&
          x.phase !== 'stage check' &&
          connectionsList.indexOf(x.connections) < connectionsList.indexOf(connections),
      );
      const allCrashes = [...crashed, ...missedRounds];
      if (allCrashes.length > 0) {
        const first = allCrashes[0]!;
        out.push({
          id: c.id,
          label: c.label,
          connections,
          status: 'crashed',
          reason:
            first.connections === connections || first.phase === 'stage check'
              ? `CRASHED (${first.summary}) in ${first.phase}, round ${first.round + 1}`
              : `CRASHED earlier in round ${first.round + 1} (c=${first.connections}: ${first.summary})`,
          crashes: allCrashes,
          rps: Number.NaN,
          bestRps: Number.NaN,
          rounds: 0,
          ratioToReference: Number.NaN,
          cpuRatioToReference: Number.NaN,
          p50Ms: Number.NaN,
          p99Ms: Number.NaN,
          errors: 0,
          non2xx: 0,
          statusCodes: {},
          peakRssMiB: Number.NaN,
          cpuUsPerRequest: NO_CPU,
        });
        continue;
      }
      if (list.length === 0) {
        out.push({
          id: c.id,
          label: c.label,
          connections,
          status: 'skipped',
          reason: skipped.get(c.id) ?? 'failed to start in every round',
          crashes: [],
          rps: Number.NaN,
          bestRps: Number.NaN,
          rounds: 0,
          ratioToReference: Number.NaN,
          cpuRatioToReference: Number.NaN,
          p50Ms: Number.NaN,
          p99Ms: Number.NaN,
          errors: 0,
          non2xx: 0,
          statusCodes: {},
          peakRssMiB: Number.NaN,
          cpuUsPerRequest: NO_CPU,
        });
        continue;
      }
      // Ratio per round (the two measured minutes apart at most), then the median of those.
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      for (const m of list) {
        const ref = reference.find((r) => r.round === m.round);
        ratios.push(ref === undefined ? Number.NaN : m.rps / ref.rps);
        const cpu = m.cpu?.usPerRequest.contender;
        const refCpu = ref?.cpu?.usPerRequest.contender;
        cpuRatios.push(cpu == null || refCpu == null ? Number.NaN : cpu / refCpu);
      }
      const statusCodes: Record<string, number> = {};
      for (const m of list)
        for (const [code, n] of Object.entries(m.statusCodes))
          statusCodes[code] = (statusCodes[code] ?? 0) + n;
      out.push({
        id: c.id,
        label: c.label,
        connections,
        status: 'measured',
        crashes: [],
        rps: median(list.map((m) => m.rps)),
        bestRps: Math.max(...list.map((m) => m.rps)),
        rounds: list.length,
        ratioToReference: median(ratios),
        cpuRatioToReference: median(cpuRatios),
        p50Ms: median(list.map((m) => m.p50Ms)),
        p99Ms: median(list.map((m) => m.p99Ms)),
        errors: list.reduce((s, m) => s + m.errors, 0),
        non2xx: list.reduce((s, m) => s + m.non2xx, 0),
        statusCodes,
        peakRssMiB: c.id === 'direct' ? Number.NaN : Math.max(...list.map((m) => m.peakRssKb)) / 1024,
        cpuUsPerRequest: cpuMedians(list),
      });
    }
  }
  return out;
}

export function resultsTable(
  summaries: readonly ContenderSummary[],
  connectionsList: readonly number[],
): string {
  const rows: string[][] = [];
  for (const connections of connectionsList) {
    for (const s of summaries.filter((x) => x.connections === connections)) {
      if (s.status !== 'measured') {
        rows.push([s.label, String(connections), s.reason ?? s.status, '', '', '', '', '', '', '', '', '']);
        continue;
      }
      rows.push([
        s.label,
        String(connections),
        fmtInt(s.rps),
        s.id === REFERENCE ? '1.00×' : `${fmt(s.ratioToReference, 2)}×`,
        fmt(s.p50Ms, 2),
        fmt(s.p99Ms, 2),
        fmtInt(s.errors),
        fmtInt(s.non2xx),
        s.id === 'direct' ? '(upstream)' : fmt(s.peakRssMiB, 0),
        s.id === 'direct' ? '(none)' : cpuCell(s.cpuUsPerRequest.contender),
        s.id === 'direct' ? '(none)' : cpuCell(s.cpuUsPerRequest.mainThread),
        cpuCompact(s.cpuUsPerRequest),
      ]);
    }
  }
  return markdownTable(
    [
      'contender',
      'conns',
      'req/s (2xx, median)',
      '× @fastify/http-proxy',
      'p50 ms',
      'p99 ms',
      'errors',
      'non-2xx',
      'peak RSS MiB',
      'CPU µs/req (contender)',
      'main thread µs/req',
      'upstream / redis / loadgen µs/req',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** µs of CPU per request, n/a where it could not be read (a process gone mid-window, no Node main thread). */
export function cpuCell(v: number): string {
  return Number.isFinite(v) ? fmt(v, 1) : 'n/a';
}

/** `upstream / redis / loadgen` µs per request. */
export function cpuCompact(c: Pick<CpuMedians, 'upstream' | 'redis' | 'loadgen'>): string {
  return `${cpuCell(c.upstream)} / ${cpuCell(c.redis)} / ${cpuCell(c.loadgen)}`;
}

export function targetLines(
  summaries: readonly ContenderSummary[],
  connectionsList: readonly number[],
): string[] {
  const get = (id: string, c: number) =>
    summaries.find((s) => s.id === id && s.connections === c && s.status === 'measured');
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : 'missed');
  /** The same target on the two contenders' best rounds (ContenderSummary.bestRps), given 2+ rounds. */
  const best = (a: ContenderSummary, b: ContenderSummary, target: number) => {
    if (a.rounds < 2 || b.rounds < 2) return '';
    const ratio = a.bestRps / b.bestRps;
    return `; best round against best round ${fmt(ratio, 2)}× (${verdict(ratio >= target)})`;
  };
  /** The full pipeline's targets at one connection count: throughput, peak RSS, the CPU budget. */
  function fullPipelineLines(c: number): string[] {
    const out: string[] = [];
    const full = get('gateway-full', c);
    if (full === undefined) {
      const s = summaries.find((x) => x.id === 'gateway-full' && x.connections === c);
      out.push(
        `c=${c}: full pipeline not measured (${s?.reason ?? 'not selected'}); throughput targets open.`,
      );
      return out;
    }
    const reference = get(REFERENCE, c);
    out.push(
      `c=${c}: full pipeline ${fmt(full.ratioToReference, 2)}× @fastify/http-proxy (target ≥ 1.0×: ${verdict(full.ratioToReference >= 1)})` +
        (reference === undefined ? '' : best(full, reference, 1)),
    );
    const fg = get('fast-gateway', c);
    if (fg !== undefined) {
      const ratio = full.rps / fg.rps;
      out.push(
        `c=${c}: full pipeline ${fmt(ratio, 2)}× fast-gateway (target ≥ 1.2×: ${verdict(ratio >= 1.2)})${best(full, fg, 1.2)}`,
      );
    }
    if (reference === undefined) return out;
    const rss = full.peakRssMiB / reference.peakRssMiB;
    out.push(
      `c=${c}: full pipeline peak RSS ${fmt(full.peakRssMiB, 0)} MiB, ${fmt(rss, 2)}× @fastify/http-proxy's ${fmt(reference.peakRssMiB, 0)} (target ≤ 1.2×: ${verdict(rss <= 1.2)})`,
    );
    const cpuRatio = full.cpuRatioToReference;
    if (Number.isFinite(cpuRatio)) {
      out.push(
        `c=${c}: full pipeline ${fmt(full.cpuUsPerRequest.contender, 1)} µs CPU per request against @fastify/http-proxy's ${fmt(reference.cpuUsPerRequest.contender, 1)}, ${fmt(cpuRatio, 2)}× per round (budget ≤ 1.0×: ${cpuRatio <= 1 ? 'within' : 'over'})`,
      );
    }
    return out;
  }
  for (const c of connectionsList) {
    lines.push(...fullPipelineLines(c));
    const minimal = get('gateway-minimal', c);
    const reference = get(REFERENCE, c);
    if (minimal !== undefined) {
      lines.push(
        `c=${c}: minimal gateway ${fmt(minimal.ratioToReference, 2)}× @fastify/http-proxy (target ≥ 1.3×: ${verdict(minimal.ratioToReference >= 1.3)})` +
          (reference === undefined ? '' : best(minimal, reference, 1.3)),
      );
    }
  }
  const full50 = get('gateway-full', 50);
  const direct50 = get('direct', 50);
  if (full50 !== undefined && direct50 !== undefined) {
    const added = full50.p99Ms - direct50.p99Ms;
    lines.push(
      `c=50 at saturation: full pipeline's p99 is ${fmt(added, 2)} ms above direct's (target ≤ 2 ms: ${verdict(added <= 2)}; at saturation this is mostly queueing, see the fixed-rate line)`,
    );
  }
  const min50 = get('gateway-minimal', 50);
  if (min50 !== undefined && direct50 !== undefined) {
    lines.push(
      `c=50 at saturation: minimal gateway's p99 is ${fmt(min50.p99Ms - direct50.p99Ms, 2)} ms above direct's`,
    );
  }
  lines.push(
    'Policy decision targets (p99 ≤ 50 µs in-process, ≥ 20× faster than OPA REST): see the micro-benchmarks.',
  );
  return lines;
}

/** One fixed-rate (open-loop) run of a contender in one round. */
export interface PacedMeasurement extends PacedResult {
  readonly round: number;
}

/** A contender's fixed-rate runs over the rounds: medians, and the p99 it adds over `direct` per round. */
export interface PacedSummary {
  readonly id: string;
  readonly label: string;
  readonly rounds: number;
  readonly rate: number;
  readonly connections: number;
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** p99 minus direct's p99 of the same round, then the median; NaN for direct itself or without direct. */
  readonly addedP99Ms: number;
  readonly addedP50Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly sendLagP99Ms: number;
  /** False when a round completed under 95 % of the rate: that contender's latency is queueing again. */
  readonly heldRate: boolean;
}

/** The share of the asked rate a run must complete to count as "held" (below it, latency is queueing). */
const HELD_RATE = 0.95;

export function pacedSummaries(
  selected: readonly Pick<Contender, 'id' | 'label'>[],
  paced: Map<string, PacedMeasurement[]>,
): PacedSummary[] {
  const direct = paced.get('direct') ?? [];
  const out: PacedSummary[] = [];
  for (const c of selected) {
    const list = paced.get(c.id) ?? [];
    if (list.length === 0) continue;
    const added = (field: 'p99Ms' | 'p50Ms') =>
      c.id === 'direct'
        ? Number.NaN
        : median(
            list.map((m) => {
              const d = direct.find((x) => x.round === m.round);
              return d === undefined ? Number.NaN : m[field] - d[field];
            }),
          );
    out.push({
      id: c.id,
      label: c.label,
      rounds: list.length,
      rate: list[0]!.rate,
      connections: list[0]!.connections,
      achievedRps: median(list.map((m) => m.achievedRps)),
      p50Ms: median(list.map((m) => m.p50Ms)),
      p99Ms: median(list.map((m) => m.p99Ms)),
      p999Ms: median(list.map((m) => m.p999Ms)),
      addedP99Ms: added('p99Ms'),
      addedP50Ms: added('p50Ms'),
      errors: list.reduce((s, m) => s + m.errors, 0),
      non2xx: list.reduce((s, m) => s + m.non2xx, 0),
      sendLagP99Ms: median(list.map((m) => m.sendLagP99Ms)),
      heldRate: list.every((m) => m.achievedRps >= m.rate * HELD_RATE),
    });
  }
  return out;
}

export function pacedTable(summaries: readonly PacedSummary[]): string {
  const rows = summaries.map((s) => [
    s.label,
    `${fmtInt(s.rate)} (${s.heldRate ? fmtInt(s.achievedRps) : `${fmtInt(s.achievedRps)}: not held`})`,
    fmt(s.p50Ms, 2),
    fmt(s.p99Ms, 2),
    fmt(s.p999Ms, 2),
    s.id === 'direct' ? '(reference)' : fmt(s.addedP50Ms, 2),
    s.id === 'direct' ? '(reference)' : fmt(s.addedP99Ms, 2),
    fmtInt(s.errors),
    fmtInt(s.non2xx),
    fmt(s.sendLagP99Ms, 2),
  ]);
  return markdownTable(
    [
      'contender',
      'req/s asked (completed)',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'p50 added over direct',
      'p99 added over direct',
      'errors',
      'non-2xx',
      'generator send lag p99 ms',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** The added-latency target, measured where it means something: at a fixed rate the contenders carry. */
export function pacedTargetLines(summaries: readonly PacedSummary[]): string[] {
  const lines: string[] = [];
  const direct = summaries.find((s) => s.id === 'direct');
  if (direct === undefined) return lines;
  const at = `c=${direct.connections} at a fixed ${fmtInt(direct.rate)} req/s`;
  const verdict = (ok: boolean) => (ok ? 'met' : 'missed');
  for (const [id, what] of [
    ['gateway-full', 'full pipeline'],
    ['gateway-minimal', 'minimal gateway'],
    ['nginx', 'nginx'],
    [REFERENCE, '@fastify/http-proxy'],
  ] as const) {
    const s = summaries.find((x) => x.id === id);
    if (s === undefined) continue;
    const held = s.heldRate ? '' : ' (the rate was not held: this is queueing)';
    lines.push(
      id === 'gateway-full'
        ? `${at}: full pipeline adds ${fmt(s.addedP99Ms, 2)} ms p99 over direct (target ≤ 2 ms: ${verdict(s.heldRate && s.addedP99Ms <= 2)}), ${fmt(s.addedP50Ms, 2)} ms p50${held}`
        : `${at}: ${what} adds ${fmt(s.addedP99Ms, 2)} ms p99 and ${fmt(s.addedP50Ms, 2)} ms p50 over direct${held}`,
    );
  }
  return lines;
}

export function crashOf(
  id: string,
  round: number,
  connections: number,
  phase: Crash['phase'],
  state: Exclude<Liveness, { alive: true }>,
): Crash {
  const { reason, process: proc, exitCode, signal, summary, tail } = state;
  return { id, round, connections, phase, reason, process: proc, exitCode, signal, summary, tail };
}

export function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

/** Every crash with its last output lines, under the table. */
export function crashReport(crashes: readonly Crash[]): string {
  if (crashes.length === 0) return '';
  const blocks = crashes.map((c) => {
    const where =
      c.phase === 'stage check' ? 'the stage check' : `round ${c.round + 1}, c=${c.connections}, ${c.phase}`;
    const tail = lastLines(c.tail, 8).map((l) => `    ${l.slice(0, 300)}`);
    return [`- **${c.id}** CRASHED (${where}): ${c.summary}`, ...(tail.length > 0 ? ['', ...tail] : [])].join(
      '\n',
    );
  });
  return `Crashes (a crashed contender has no throughput; its last output lines):\n\n${blocks.join('\n\n')}`;
}

// resources: each replica's CPU (process_cpu_seconds_total over the run, as a share of one core: Node
// runs JavaScript on one) and memory (resident set against the configured limit).
import type { CheckResult } from '../../contracts.js';
import { type Snapshot, scrapeProblem } from '../admin.js';
import { CheckRecorder, pct, type RunContext, round } from '../context.js';
import { sumOf } from '../metrics-text.js';
import { counterDelta } from './cache.js';

export function runResources(
  ctx: RunContext,
  before: Snapshot | null,
  after: Snapshot | null,
): CheckResult[] {
  const rec = new CheckRecorder('resources');
  const cpuThreshold = `< ${pct(ctx.criteria.resources.maxCpu, 0)} of a core`;
  const memThreshold = `< ${pct(ctx.criteria.resources.maxMemory, 0)} of the memory limit`;
  if (before === null || after === null) {
    rec.skip('cpu', cpuThreshold, 'no --admin-url given: process metrics cannot be read');
    rec.skip('memory', memThreshold, 'no --admin-url given: process metrics cannot be read');
    return rec.results;
  }
  const seconds = (after.at - before.at) / 1000;
  const cpu: Record<string, number> = {};
  const rss: Record<string, number> = {};
  const unreadable: string[] = [];
  for (const admin of ctx.options.adminUrls) {
    const used = counterDelta(before, after, admin, 'process_cpu_seconds_total');
    const samples = after.byAdmin.get(admin);
    const resident =
      samples instanceof Error || samples === undefined
        ? null
        : sumOf(samples, 'process_resident_memory_bytes');
    if (used === null || resident === null || seconds <= 0) {
      unreadable.push(scrapeProblem(after.byAdmin.get(admin) instanceof Error ? after : before, admin));
      continue;
    }
    cpu[admin] = used / seconds;
    rss[admin] = resident;
  }
  if (unreadable.length > 0) {
    const message = `no process metrics from ${unreadable.join(', ')}`;
    rec.add('cpu', 'fail', { threshold: cpuThreshold, measured: null, message });
    rec.add('memory', 'fail', { threshold: memThreshold, measured: null, message });
    return rec.results;
  }
  const [cpuAdmin, worstCpu] = Object.entries(cpu).sort((a, b) => b[1] - a[1])[0]!;
  const cpuPass = worstCpu < ctx.criteria.resources.maxCpu;
  rec.add('cpu', cpuPass ? 'pass' : 'fail', {
    threshold: cpuThreshold,
    measured: round(worstCpu, 4),
    unit: 'ratio',
    message: `busiest replica ${cpuAdmin} used ${pct(worstCpu, 1)} of a core over ${seconds.toFixed(1)}s${cpuPass ? '' : ': add replicas or find the hot path (node --cpu-prof)'}`,
    details: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v, 4)])),
  });
  const [memAdmin, worstRss] = Object.entries(rss).sort((a, b) => b[1] - a[1])[0]!;
  const limit = ctx.criteria.resources.memoryLimitBytes;
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;
  if (limit === null) {
    rec.add('memory', 'skip', {
      threshold: memThreshold,
      measured: worstRss,
      unit: 'bytes',
      message: `largest resident set ${mib(worstRss)} (${memAdmin}); no limit known: set validation.resources.memoryLimitBytes to the replicas' memory limit`,
    });
    return rec.results;
  }
  const share = worstRss / limit;
  rec.add('memory', share < ctx.criteria.resources.maxMemory ? 'pass' : 'fail', {
    threshold: memThreshold,
    measured: round(share, 4),
    unit: 'ratio',
    message: `largest resident set ${mib(worstRss)} on ${memAdmin} is ${pct(share, 1)} of ${mib(limit)}`,
  });
  return rec.results;
}

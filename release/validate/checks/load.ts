// load: `users` virtual users for `duration` under a global rate cap; sustained req/s, error rate (5xx
// and connection errors; 429s apart), latency percentiles, and a health probe's availability meanwhile.
import type { CheckResult } from '../../contracts.js';
import { CheckRecorder, ms, pct, type RunContext, round } from '../context.js';
import { buildIdentities } from '../identities.js';
import { type Completion, type LoadResult, runLoad } from '../load-generator.js';
import { availability, ratio, summarize, sustainedRate } from '../stats.js';

/** "gs green: 41 × 500" for the biggest sources of errors: what a person looks at first. */
export function errorSources(completions: readonly Completion[], top = 3): string {
  const counts = new Map<string, number>();
  for (const c of completions) {
    if (c.status !== 0 && c.status < 500) continue;
    const key = `${c.service}${c.color ? ` ${c.color}` : ''}: ${c.status === 0 ? (c.error ?? 'connection error') : c.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, n]) => `${key} × ${n}`)
    .join(', ');
}

export interface LoadOutcome {
  readonly results: CheckResult[];
  readonly interrupted: boolean;
}

export async function runLoadGroup(ctx: RunContext): Promise<LoadOutcome> {
  const rec = new CheckRecorder('load');
  const { users, durationMs, maxRps } = ctx.load;
  const c = ctx.criteria.load;
  const identities = await buildIdentities(users, { tokens: ctx.tokens, signer: ctx.signer });
  ctx.progress.line(
    `  load: ${users} users (${identities[0]?.kind === 'token' ? 'a token each' : 'a cookie jar each'}) for ${durationMs / 1000}s, capped at ${maxRps} req/s`,
  );
  const result: LoadResult = await runLoad({
    target: ctx.options.target,
    paths: ctx.services.map((s) => ({ service: s.name, path: s.prefix })),
    identities,
    durationMs,
    maxRps,
    healthUrls: ctx.options.replicas.map((r) => `${r}/healthz`),
    max429Rate: c.max429Rate,
    signal: ctx.signal,
    onTick: (t) =>
      ctx.progress.live(
        `  load ${(t.elapsedMs / 1000).toFixed(0).padStart(4)}s  ${t.rps.toString().padStart(5)} req/s  errors ${t.errors}  429 ${t.limited}  p99 ${ms(t.p99Ms)}  (${t.requests} requests)`,
      ),
  });
  ctx.progress.done();

  const all = result.completions;
  const limited = all.filter((x) => x.status === 429).length;
  const failed = all.filter((x) => x.status === 0 || x.status >= 500);
  const ok = all.filter((x) => x.status !== 0 && x.status < 500 && x.status !== 429);
  const latency = summarize(ok.map((x) => x.ms));
  const rps = sustainedRate(
    ok.map((x) => x.at),
    result.elapsedMs,
  );
  const errorRate = ratio(failed.length, all.length);
  const avail = availability(result.health, 1000);
  const cut = result.stopped === 'interrupted' ? ' (interrupted: partial run)' : '';
  const measurements = {
    requests: all.length,
    ok: ok.length,
    errors: failed.length,
    rateLimited: limited,
    elapsedMs: Math.round(result.elapsedMs),
    sustainedRps: round(rps, 1),
    p50Ms: round(latency.p50, 2),
    p95Ms: round(latency.p95, 2),
    p99Ms: round(latency.p99, 2),
    healthProbes: avail.probes,
    healthFailed: avail.failed,
  };

  if (result.stopped === 'rate_limited') {
    const share = pct(ratio(limited, all.length));
    const message = `stopped after ${(result.elapsedMs / 1000).toFixed(1)}s: ${share} of requests met 429, the target's rate limits would make the result meaningless; lower --max-rps below what one client address may send, or raise the limit (rateLimit.limits) for this run`;
    for (const name of ['users', 'throughput', 'error_rate', 'latency', 'availability'])
      rec.add(name, 'fail', {
        threshold: 'load run completes',
        measured: null,
        message,
        details: measurements,
      });
    return { results: rec.results, interrupted: false };
  }

  rec.add('users', result.distinctIdentities >= c.minUsers ? 'pass' : 'fail', {
    threshold: `>= ${c.minUsers} concurrent users, each its own identity`,
    measured: result.distinctIdentities,
    unit: 'users',
    message: `${result.usersStarted} users ran concurrently with ${result.distinctIdentities} distinct identities${result.distinctIdentities < c.minUsers ? `: give --users >= ${c.minUsers} (and as many tokens)` : ''}`,
  });
  const rpsPass = rps > c.minRps;
  rec.add('throughput', rpsPass ? 'pass' : 'fail', {
    threshold: `> ${c.minRps} req/s sustained`,
    measured: round(rps, 1),
    unit: 'req/s',
    message: `sustained ${rps.toFixed(1)} req/s (median of per-second completions; cap ${maxRps} req/s), ${all.length} requests, ${limited} answered 429${rpsPass ? '' : maxRps <= c.minRps ? `: --max-rps ${maxRps} is below the threshold` : ': the target cannot keep up (see load.latency)'}${cut}`,
    details: measurements,
  });
  const errPass = errorRate !== null && errorRate < c.maxErrorRate;
  rec.add('error_rate', errPass ? 'pass' : 'fail', {
    threshold: `< ${pct(c.maxErrorRate)} (5xx and connection errors; 429 apart)`,
    measured: errorRate === null ? null : round(errorRate, 5),
    unit: 'ratio',
    message:
      errorRate === null
        ? 'no request completed'
        : `${failed.length} of ${all.length} requests failed (${pct(errorRate)})${failed.length > 0 ? `: ${errorSources(all)}` : ''}; ${limited} rate-limited (429) reported apart${cut}`,
  });
  const p99Limit = ctx.criteria.latency.endToEndP99Ms;
  rec.add('latency', latency.count > 0 && (p99Limit === null || latency.p99 < p99Limit) ? 'pass' : 'fail', {
    threshold: p99Limit === null ? 'reported (no limit set)' : `p99 < ${p99Limit} ms`,
    measured: latency.count > 0 ? round(latency.p99, 2) : null,
    unit: 'ms',
    message: `under load p50 ${ms(latency.p50)}, p95 ${ms(latency.p95)}, p99 ${ms(latency.p99)}`,
  });
  const availPass = avail.ratio !== null && avail.ratio >= c.minAvailability;
  rec.add('availability', availPass ? 'pass' : 'fail', {
    threshold: `>= ${pct(c.minAvailability, 1)} of health probes`,
    measured: avail.ratio === null ? null : round(avail.ratio, 5),
    unit: 'ratio',
    message:
      avail.ratio === null
        ? 'no health probe completed'
        : `${avail.probes - avail.failed} of ${avail.probes} /healthz probes succeeded during the load (worst second ${pct(avail.worstWindow, 1)})`,
    details: { windows: avail.windows.filter((w) => w.failed > 0) },
  });
  return { results: rec.results, interrupted: result.stopped === 'interrupted' };
}

// cache: the JWT verified-token cache hit rate of every replica over the run (before/after deltas of
// its counters, not lifetime totals).
import type { CheckResult } from '../../contracts.js';
import { type Snapshot, scrapeProblem } from '../admin.js';
import { CheckRecorder, pct, type RunContext, round } from '../context.js';
import { sumOf } from '../metrics-text.js';

const delta = (before: Snapshot, after: Snapshot, admin: string, name: string): number | null => {
  const a = after.byAdmin.get(admin);
  const b = before.byAdmin.get(admin);
  if (a === undefined || b === undefined || a instanceof Error || b instanceof Error) return null;
  const av = sumOf(a, name);
  if (av === null) return null;
  return av - (sumOf(b, name) ?? 0);
};

export { delta as counterDelta };

export function runCache(ctx: RunContext, before: Snapshot | null, after: Snapshot | null): CheckResult[] {
  const rec = new CheckRecorder('cache');
  const threshold = `> ${pct(ctx.criteria.cache.minHitRate, 0)}`;
  if (before === null || after === null) {
    rec.skip('jwt', threshold, 'no --admin-url given: cache counters cannot be read');
    return rec.results;
  }
  let hits = 0;
  let misses = 0;
  const unreadable: string[] = [];
  for (const admin of ctx.options.adminUrls) {
    const h = delta(before, after, admin, 'acgs_jwt_cache_hits_total');
    const m = delta(before, after, admin, 'acgs_jwt_cache_misses_total');
    if (h === null || m === null) {
      unreadable.push(scrapeProblem(after.byAdmin.get(admin) instanceof Error ? after : before, admin));
      continue;
    }
    hits += h;
    misses += m;
  }
  if (unreadable.length > 0) {
    rec.add('jwt', 'fail', {
      threshold,
      measured: null,
      message: `no JWT cache counters from ${unreadable.join(', ')} (unreachable /metrics or no auth stage)`,
    });
    return rec.results;
  }
  if (hits + misses === 0) {
    rec.skip(
      'jwt',
      threshold,
      'no bearer token was verified during the run (cookie users): set VALIDATE_JWT_KEY or --tokens to measure the JWT cache',
    );
    return rec.results;
  }
  const rate = hits / (hits + misses);
  const pass = rate > ctx.criteria.cache.minHitRate;
  rec.add('jwt', pass ? 'pass' : 'fail', {
    threshold,
    measured: round(rate, 4),
    unit: 'ratio',
    message: `JWT cache ${hits} hits, ${misses} misses during the run (${pct(rate)})${pass ? '' : ': tokens are re-verified; check auth.cache.maxEntries / maxTtlMs'}`,
  });
  return rec.results;
}

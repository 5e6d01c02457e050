// latency: a few sequential samples per service at low load (end-to-end p50/p95/p99 through the target),
// and the p99 of the gateway's own policy decision histogram (over the samples and the load, if any).
import type { CheckResult } from '../../contracts.js';
import { type Snapshot, snapshot } from '../admin.js';
import { CheckRecorder, ms, type RunContext, round } from '../context.js';
import { decisionLatency } from '../decision-latency.js';
import { http } from '../http.js';
import { VirtualIdentity } from '../identities.js';
import { summarize } from '../stats.js';

export async function runLatency(
  ctx: RunContext,
): Promise<{ results: CheckResult[]; before: Snapshot | null }> {
  const rec = new CheckRecorder('latency');
  const before =
    ctx.options.adminUrls.length > 0 ? await snapshot(ctx.options.adminUrls, ctx.adminToken) : null;
  const token = ctx.tokens?.[0] ?? (ctx.signer ? await ctx.signer.mint({ sub: 'validate-latency' }) : null);
  const identity = new VirtualIdentity(token);
  const all: number[] = [];
  const perService: Record<string, unknown> = {};
  let failed = 0;
  for (const service of ctx.services) {
    const samples: number[] = [];
    let statusErrors = 0;
    for (let i = 0; i < ctx.criteria.latency.samplesPerService && !ctx.signal.aborted; i++) {
      try {
        const result = await http(`${ctx.options.target}${service.prefix}`, {
          headers: identity.headers(),
          signal: ctx.signal,
        });
        identity.remember(result.headers['set-cookie']);
        if (result.status >= 500) statusErrors++;
        else samples.push(result.ms);
      } catch {
        statusErrors++;
      }
    }
    failed += statusErrors;
    all.push(...samples);
    const s = summarize(samples);
    perService[service.name] = {
      samples: s.count,
      errors: statusErrors,
      p50Ms: round(s.p50, 2),
      p95Ms: round(s.p95, 2),
      p99Ms: round(s.p99, 2),
    };
    ctx.progress.line(
      `  latency ${service.name.padEnd(10)} p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  (${s.count} samples, ${statusErrors} errors)`,
    );
  }
  const overall = summarize(all);
  const limit = ctx.criteria.latency.endToEndP99Ms;
  const e2ePass = overall.count > 0 && (limit === null || overall.p99 < limit);
  rec.add('end_to_end', e2ePass ? 'pass' : 'fail', {
    threshold: limit === null ? 'reported (no limit set)' : `p99 < ${limit} ms`,
    measured: overall.count > 0 ? round(overall.p99, 2) : null,
    unit: 'ms',
    message:
      overall.count === 0
        ? `no successful sample through ${ctx.options.target} (${failed} failed): see health.routes`
        : `end-to-end p50 ${ms(overall.p50)}, p95 ${ms(overall.p95)}, p99 ${ms(overall.p99)} over ${overall.count} samples${failed > 0 ? ` (${failed} failed)` : ''}`,
    details: {
      p50Ms: round(overall.p50, 2),
      p95Ms: round(overall.p95, 2),
      p99Ms: round(overall.p99, 2),
      perService,
    },
  });

  return { results: rec.results, before };
}

/**
 * latency.decision: the p99 of the gateway's own decision histogram between `before` and now. The runner
 * calls it after the load when there is one, so the p99 rests on thousands of decisions of warm replicas
 * rather than on the twenty samples of a just-started one.
 */
export async function decisionCheck(
  ctx: RunContext,
  before: Snapshot | null,
  over: string,
): Promise<CheckResult> {
  const rec = new CheckRecorder('latency');
  const threshold = `p99 < ${ctx.criteria.latency.decisionP99Ms} ms`;
  if (before === null)
    return rec.skip(
      'decision',
      threshold,
      "no --admin-url given: the gateway's decision histogram cannot be read",
    );
  const after = await snapshot(ctx.options.adminUrls, ctx.adminToken);
  const d = decisionLatency(before, after);
  if (d.unreachable.length > 0)
    return rec.add('decision', 'fail', {
      threshold,
      measured: null,
      message: `cannot read /metrics of ${d.unreachable.join(', ')} (admin token in ADMIN_TOKEN?)`,
    });
  if (d.decisions === 0 || d.p99Ms === null)
    return rec.add('decision', 'fail', {
      threshold,
      measured: null,
      message: `no policy decision was recorded during the ${over}: is a policy bundle loaded?`,
    });
  const pass = d.p99Ms < ctx.criteria.latency.decisionP99Ms;
  return rec.add('decision', pass ? 'pass' : 'fail', {
    threshold,
    measured: round(d.p99Ms, 3),
    unit: 'ms',
    message: `policy decision p99 ${ms(d.p99Ms)} over ${d.decisions} decisions during the ${over}${pass ? '' : ': the policy is too slow; profile it with opa eval --profile'}`,
  });
}

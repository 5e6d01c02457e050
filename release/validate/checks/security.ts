// security: the shipped probe suite against the target. The score is the share of probes that held,
// per category and overall; benign requests that were refused (false positives) count against the
// overall score and are reported next to it. Skipped probes (no signing key, no echo) are not scored.
import type { CheckResult } from '../../contracts.js';
import { CheckRecorder, pct, type RunContext, round } from '../context.js';
import { describeError, header, http, retryUntil } from '../http.js';
import { type ProbeEnv, type ProbeOutcome, runProbe } from '../probe-runner.js';
import { CATEGORIES, loadSuite, type Probe } from '../probe-suite.js';

async function pool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Scores by category; exported for the report's unit tests. */
export function score(outcomes: readonly ProbeOutcome[]) {
  const by = new Map<string, { held: number; failed: number; skipped: number }>();
  for (const o of outcomes) {
    const s = by.get(o.category) ?? { held: 0, failed: 0, skipped: 0 };
    s[o.verdict === 'held' ? 'held' : o.verdict === 'failed' ? 'failed' : 'skipped']++;
    by.set(o.category, s);
  }
  let held = 0;
  let scored = 0;
  for (const s of by.values()) {
    held += s.held;
    scored += s.held + s.failed;
  }
  return { by, overall: scored > 0 ? held / scored : null, held, scored };
}

export async function runSecurity(ctx: RunContext): Promise<CheckResult[]> {
  const rec = new CheckRecorder('security');
  const c = ctx.criteria.security;
  const service = ctx.services[0];
  if (service === undefined) {
    rec.skip('score', `>= ${pct(c.minScore, 0)}`, 'the target has no service to probe');
    return rec.results;
  }
  const probes: Probe[] = await loadSuite();

  // A control request must pass, or no probe result means anything. Retried like the health checks
  // (a 429 left by an earlier burst or load run clears within the limit's window).
  const controlUrl = `${ctx.options.target}${service.prefix}search?q=hello`;
  const seen = await retryUntil(
    Math.max(ctx.criteria.health.deadline, 15_000),
    async () => {
      try {
        const r = await http(controlUrl, { signal: ctx.signal });
        return r.status < 300 && header(r, 'x-acgs-color') !== undefined ? null : `answered ${r.status}`;
      } catch (error) {
        return `failed: ${describeError(error)}`;
      }
    },
    ctx.signal,
  );
  if (seen !== null) {
    rec.add('score', 'fail', {
      threshold: `>= ${pct(c.minScore, 0)}`,
      measured: null,
      message: `the control request GET ${service.prefix}search?q=hello ${seen}: probes cannot be judged (see health.routes)`,
    });
    return rec.results;
  }

  const reader = ctx.tokens?.[0] ?? (ctx.signer ? await ctx.signer.mint({ sub: 'validate-probe' }) : null);
  const writer = ctx.signer
    ? await ctx.signer.mint({ sub: 'validate-probe', roles: [`${service.name}.writer`] })
    : null;
  let writeBlockedReason: string | null = null;
  if (writer === null) {
    writeBlockedReason = `body probes need a token allowed to POST to ${service.name}: set VALIDATE_JWT_KEY`;
  } else {
    const r = await http(`${ctx.options.target}${service.prefix}items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
      body: '{"name":"validate","comment":"hello"}',
      signal: ctx.signal,
    });
    if (r.status >= 300 || header(r, 'x-acgs-color') === undefined)
      writeBlockedReason = `a benign POST with role ${service.name}.writer answered ${r.status}: body probes cannot be judged`;
  }
  const env: ProbeEnv = {
    target: ctx.options.target,
    service,
    credentials: { reader, writer, admin: ctx.adminToken ?? null },
    writeBlockedReason,
    signer: ctx.signer,
    signal: ctx.signal,
    maxBurst: c.maxBurst,
  };
  // The burst goes last: it exhausts the rate limit that every other probe would then meet.
  const regular = probes.filter((p) => !p.burst);
  const bursts = probes.filter((p) => p.burst);
  let done = 0;
  const outcomes = await pool(regular, 4, async (p) => {
    const o = await runProbe(p, env);
    done++;
    ctx.progress.live(`  security ${done}/${probes.length} probes`);
    return o;
  });
  for (const p of bursts) outcomes.push(await runProbe(p, env));
  ctx.progress.done();

  const s = score(outcomes);
  const failures = (category: string) =>
    outcomes
      .filter((o) => o.category === category && o.verdict === 'failed')
      .map((o) => `${o.name} → ${o.observed}`);
  // A one-probe category (the rate-limit burst) says what it saw even when it held.
  const single = (category: string) => {
    const judged = outcomes.filter((o) => o.category === category && o.verdict !== 'skipped');
    return judged.length === 1 ? `: ${judged[0]!.observed}` : '';
  };
  for (const category of CATEGORIES) {
    const st = s.by.get(category);
    const threshold = `>= ${pct(c.minCategoryScore, 0)} of probes held`;
    if (!st || st.held + st.failed === 0) {
      const reason = outcomes.find((o) => o.category === category && o.verdict === 'skipped')?.observed;
      rec.skip(category, threshold, `no probe could be judged${reason ? `: ${reason}` : ''}`);
      continue;
    }
    const share = st.held / (st.held + st.failed);
    const failed = failures(category);
    rec.add(category, share >= c.minCategoryScore ? 'pass' : 'fail', {
      threshold,
      measured: round(share, 4),
      unit: 'ratio',
      message: `${st.held}/${st.held + st.failed} held${st.skipped ? `, ${st.skipped} skipped` : ''}${failed.length ? `; got through: ${failed.slice(0, 3).join('; ')}${failed.length > 3 ? ` (+${failed.length - 3} more)` : ''}` : single(category)}`,
      details: { held: st.held, failed: st.failed, skipped: st.skipped, failures: failed },
    });
  }
  const benign = s.by.get('benign');
  const falsePositives = failures('benign');
  if (benign && benign.held + benign.failed > 0) {
    const share = benign.held / (benign.held + benign.failed);
    rec.add('false_positives', falsePositives.length === 0 ? 'pass' : 'fail', {
      threshold: 'benign requests pass through (none refused)',
      measured: falsePositives.length,
      unit: 'refused',
      message: `${benign.held}/${benign.held + benign.failed} benign requests passed (${pct(share)})${falsePositives.length ? `; refused: ${falsePositives.slice(0, 3).join('; ')}` : ''}${benign.skipped ? `, ${benign.skipped} skipped` : ''}`,
      details: { passed: benign.held, refused: benign.failed, skipped: benign.skipped, falsePositives },
    });
  }
  const skipped = outcomes.filter((o) => o.verdict === 'skipped');
  rec.add('score', s.overall !== null && s.overall >= c.minScore ? 'pass' : 'fail', {
    threshold: `>= ${pct(c.minScore, 0)} overall (false positives count against it)`,
    measured: s.overall === null ? null : round(s.overall, 4),
    unit: 'ratio',
    message: `${s.held}/${s.scored} probes held (${pct(s.overall)}), ${falsePositives.length} false positive(s), ${skipped.length} skipped${skipped.length ? ` (${[...new Set(skipped.map((o) => o.observed))].slice(0, 2).join('; ')})` : ''}`,
    details: { outcomes },
  });
  return rec.results;
}

import { AdminError } from '../../../cli/rollout.js';
import {
  type Admin,
  type AnalysisView,
  candidateServices,
  driveRollout,
  knownServices,
  rolloutBody,
} from '../rollout-driver.js';
import type { Step, StepContext, StepResult } from '../types.js';

async function adminOf(ctx: StepContext): Promise<Admin | null> {
  const e = await ctx.endpoints('production');
  const url = e.adminUrls[0];
  return url ? { url, token: e.adminToken ?? undefined } : null;
}

function analysisLine(a: AnalysisView | undefined): string {
  if (!a) return 'no analysis recorded';
  const c = a.candidate;
  return `analysis ${a.outcome} at ${a.weight}%: ${c.errors}/${c.requests} errors (${(c.errorRate * 100).toFixed(2)}%), p99 ${c.p99Ms.toFixed(1)} ms${a.reasons.length ? `; ${a.reasons.join('; ')}` : ''}`;
}

export const productionRollout: Step = {
  id: 'production_rollout',
  description: 'for each service with a new version: rollout 10 → 25 → 50 → 100 % with automatic rollback',
  environment: 'production',
  changesProduction: true,
  async preconditions(ctx) {
    const admin = await adminOf(ctx);
    if (!admin) return ['no production admin URL: pass --admin-url URL or set pipeline.production.adminUrls'];
    try {
      const known = await knownServices(admin);
      const unknown = (ctx.services ?? []).filter((s) => !known.includes(s));
      return unknown.length === 0
        ? []
        : [
            `--services names ${unknown.join(', ')}, which the gateway does not have (it has ${known.join(', ')})`,
          ];
    } catch (error) {
      const why = error instanceof AdminError ? `${error.status} ${error.message}` : (error as Error).message;
      return [`the admin API at ${admin.url} does not answer: ${why} (is ADMIN_TOKEN set?)`];
    }
  },
  async run(ctx): Promise<StepResult> {
    const admin = (await adminOf(ctx))!;
    const services = ctx.services ?? (await candidateServices(admin));
    const done: Record<string, unknown> = {};
    if (services.length === 0)
      return {
        verdict: 'pass',
        summary: 'no service has a new version to roll out',
        measurements: { services: [] },
      };
    for (const service of services) {
      ctx.note(
        `rollout of ${service}: steps ${ctx.config.rollout.steps.join(' → ')} every ${ctx.config.rollout.interval}`,
      );
      const end = await driveRollout({
        admin,
        service,
        params: ctx.config.rollout,
        signal: ctx.signal,
        progress: (text) => ctx.progress(text),
      });
      if (end.kind === 'lost') {
        done[service] = { outcome: 'lost', ms: end.ms, weight: end.status?.weight ?? null };
        return {
          verdict: 'fail',
          summary: `lost the admin API at ${admin.url} while watching ${service}${end.status ? ` at ${end.status.weight}%` : ''}: ${end.error}`,
          measurements: { services: done },
          fix: [
            `the rollout of ${service} goes on in the gateway without this watcher: follow it with \`acgs-gateway rollout status ${service} --watch --admin-url <url>\``,
            'when the admin plane answers again, resume the pipeline (a rollout still running is watched, a paused one resumed)',
          ],
        };
      }
      const record = {
        outcome: end.kind,
        ms: end.ms,
        weight: end.status.weight,
        path: end.status.history.map((h) => `${h.to}@${h.weight}`),
        analyses: end.status.analyses.length,
      };
      done[service] = record;
      if (end.kind === 'promoted') {
        ctx.note(`${service} promoted in ${(end.ms / 1000).toFixed(1)} s (${record.path.join(', ')})`);
        continue;
      }
      const rest = services.slice(services.indexOf(service) + 1);
      const skipped = rest.length > 0 ? ` (not started: ${rest.join(', ')})` : '';
      if (end.kind === 'interrupted' || end.kind === 'timeout') {
        const what = end.pausedOk
          ? `rollout of ${service} paused at ${end.status.weight}%`
          : `could NOT pause the rollout of ${service}: run acgs-gateway rollout pause ${service}`;
        ctx.note(what);
        return {
          verdict: 'fail',
          summary: `${end.kind === 'interrupted' ? 'interrupted' : 'timed out'}: ${what}${skipped}`,
          measurements: { services: done, paused: end.pausedOk ? service : null },
          fix: [
            `resume it with \`acgs-gateway rollout resume ${service}\` or re-run the step (it resumes a paused rollout)`,
          ],
        };
      }
      return {
        verdict: 'fail',
        // The weight it failed at, not the 0 % it went back to.
        summary: `${service} ${end.kind.replace('_', ' ')} at ${end.status.analyses[0]?.weight ?? end.status.weight}%: ${end.status.reason ?? 'no reason given'}${skipped}`,
        measurements: { services: done, analysis: end.status.analyses[0] ?? null },
        fix: [
          `${service}: ${analysisLine(end.status.analyses[0])}`,
          end.kind === 'paused'
            ? `the controller paused ${service} (not enough traffic to decide): resume it when traffic flows`
            : `fix the new version of ${service} (its green), deploy it, then resume the pipeline`,
        ],
      };
    }
    return {
      verdict: 'pass',
      summary: `promoted ${services.join(', ')}`,
      measurements: { services: done },
    };
  },
  async dryRun(ctx) {
    const admin = await adminOf(ctx);
    const body = JSON.stringify(rolloutBody(ctx.config.rollout, 'acgs-gateway pipeline'));
    let services: string = ctx.services?.join(', ') ?? '';
    if (!ctx.services) {
      services = admin
        ? await candidateServices(admin)
            .then((s) => s.join(', ') || '(none: every green is stable)')
            .catch(() => `every service whose green is configured and not stable (per ${admin.url})`)
        : 'every service whose green is configured and not stable';
    }
    return [
      `services, one at a time: ${services}`,
      `for each: POST ${admin?.url ?? '<admin url>'}/admin/services/<service>/rollout ${body}`,
      'watch it to the end; the next service only after a promotion; a rollback stops the pipeline',
    ];
  },
};

import type { ValidationReport } from '../../contracts.js';
import type { Step, StepContext } from '../types.js';
import { checkMeasurements, describeValidate, endpointProblems, failedChecks } from './validate-step.js';

const request = (ctx: StepContext) => ({
  environment: 'staging' as const,
  name: 'security_testing',
  only: ['security'],
  extraArgs: ctx.config.validate.extraArgs,
});

/**
 * The security score in %: validate's own `security.score` check when it reports one, otherwise the
 * share of security probes that passed (skipped probes do not count).
 */
export function securityScore(report: ValidationReport): number | null {
  const own = report.checks.find((c) => c.name === 'security.score');
  // validate reports the score as a ratio (unit 'ratio', 0..1); the pipeline speaks in %.
  if (own && typeof own.measured === 'number')
    return own.unit === 'ratio' ? own.measured * 100 : own.measured;
  const probes = report.checks.filter((c) => c.group === 'security' && c.verdict !== 'skip');
  if (probes.length === 0) return null;
  return (100 * probes.filter((c) => c.verdict === 'pass').length) / probes.length;
}

export const securityTesting: Step = {
  id: 'security_testing',
  description: 'the security checks of validate against staging; score >= 90 %',
  environment: 'staging',
  changesProduction: false,
  preconditions: endpointProblems,
  async run(ctx) {
    const outcome = await ctx.validate(request(ctx));
    const min = ctx.config.security.minScore;
    const { report } = outcome;
    const score = report ? securityScore(report) : null;
    const passed = score !== null && score >= min && !report?.interrupted;
    const failed = failedChecks(report);
    return {
      verdict: passed ? 'pass' : 'fail',
      summary:
        score === null
          ? `security: no score (validate exit ${outcome.exitCode})`
          : `security score ${score.toFixed(1)} % (needs >= ${min} %)`,
      measurements: { score, minScore: min, exitCode: outcome.exitCode, ...checkMeasurements(report) },
      fix: passed
        ? []
        : failed.length > 0
          ? failed.map((c) => `${c.name}: ${c.message}`)
          : [`validate said: ${outcome.output.trim().split('\n').slice(-3).join(' | ') || '(nothing)'}`],
      reports: report ? [outcome.reportFile] : [],
    };
  },
  dryRun: async (ctx) => [
    ...(await describeValidate(ctx, request(ctx))),
    `pass when the security score >= ${ctx.config.security.minScore} %`,
  ],
};

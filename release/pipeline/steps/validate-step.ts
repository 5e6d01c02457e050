import type { CheckResult, ValidationReport } from '../../contracts.js';
import type { Endpoints, StepContext, StepResult, ValidateOutcome, ValidateRequest } from '../types.js';
import { validateArgs } from '../validate-runner.js';

// What the four validate-backed steps share: endpoints checked before the run, the argv shown by a dry
// run, and a verdict read from the report (never from the exit code alone).

export async function endpointProblems(ctx: StepContext): Promise<string[]> {
  const e = await ctx.endpoints(ctx.environment);
  if (e.target) return [];
  return ctx.environment === 'staging'
    ? [
        'no staging stack: run the staging_deployment step first (or `acgs-gateway stack up --environment staging`)',
      ]
    : ['no production target: pass --target URL, set pipeline.production.target, or bring the stack up'];
}

export async function describeValidate(ctx: StepContext, request: ValidateRequest): Promise<string[]> {
  const endpoints: Endpoints = await ctx.endpoints(request.environment);
  const shown: Endpoints = {
    ...endpoints,
    target: endpoints.target ?? '<the stack target>',
  };
  const args = validateArgs(request, shown, `${ctx.reportDir}/${request.name}.json`, false);
  return [`run: acgs-gateway ${args.join(' ')}`];
}

/** Measured value of every check, by name: what the run log keeps. */
export function checkMeasurements(report: ValidationReport | null): Record<string, unknown> {
  if (!report) return {};
  return Object.fromEntries(
    report.checks.map((c) => [c.name, c.unit ? { value: c.measured, unit: c.unit } : c.measured]),
  );
}

function measured(c: CheckResult): string {
  if (c.measured === null) return 'not measured';
  return c.unit && c.unit !== 'ratio' ? `${String(c.measured)} ${c.unit}` : String(c.measured);
}

export function failedChecks(report: ValidationReport | null): CheckResult[] {
  return report ? report.checks.filter((c) => c.verdict === 'fail') : [];
}

/** A step's result from one validate run: pass only with a report that passed. */
export function resultFromValidate(outcome: ValidateOutcome, label: string): StepResult {
  const { report } = outcome;
  const reports = [outcome.reportFile];
  if (!report) {
    return {
      verdict: 'fail',
      summary: `${label}: validate wrote no report (exit ${outcome.exitCode})`,
      measurements: { exitCode: outcome.exitCode },
      fix: [`validate said: ${outcome.output.trim().split('\n').slice(-3).join(' | ') || '(nothing)'}`],
      reports: [],
    };
  }
  const failed = failedChecks(report);
  const passed = report.passed && outcome.exitCode === 0;
  const counted = report.checks.filter((c) => c.verdict !== 'skip').length;
  return {
    verdict: passed ? 'pass' : 'fail',
    summary: passed
      ? `${label}: ${counted} checks passed${report.interrupted ? ' (interrupted)' : ''}`
      : `${label}: ${failed.length} of ${counted} checks failed${report.interrupted ? ' (interrupted)' : ''}`,
    measurements: { exitCode: outcome.exitCode, ...checkMeasurements(report) },
    fix: failed.map((c) => `${c.name} (${measured(c)}, wants ${c.threshold}): ${c.message}`),
    reports,
  };
}

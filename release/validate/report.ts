// The JSON report (`--report`): every check, the environment it ran against and enough context to
// reproduce the run. Written atomically (temp file + rename) so a reader never sees half a report.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import type { CheckResult, ValidationReport } from '../contracts.js';
import type { ValidateOptions } from './options.js';

export function buildReport(
  options: ValidateOptions,
  checks: readonly CheckResult[],
  times: { startedAt: Date; finishedAt: Date },
  extra: { interrupted: boolean; context: Record<string, unknown> },
): ValidationReport {
  return {
    schema: 'acgs.validate/v1',
    environment: options.environment,
    target: options.target,
    adminUrl: options.adminUrls[0] ?? null,
    replicas: options.replicas,
    startedAt: times.startedAt.toISOString(),
    finishedAt: times.finishedAt.toISOString(),
    durationMs: times.finishedAt.getTime() - times.startedAt.getTime(),
    passed: checks.every((c) => c.verdict !== 'fail') && !extra.interrupted,
    interrupted: extra.interrupted,
    checks,
    context: {
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      cores: cpus().length,
      groups: options.groups,
      adminUrls: options.adminUrls,
      prometheus: options.prometheus,
      alertmanager: options.alertmanager,
      ...extra.context,
    },
  };
}

export async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}

export const reportJson = (report: ValidationReport) => `${JSON.stringify(report, null, 2)}\n`;

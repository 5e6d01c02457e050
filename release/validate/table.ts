// The terminal summary: one row per check (verdict, name, measured, threshold) and its explanation.
import type { CheckResult, ValidationReport } from '../contracts.js';

const MARK = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;

function measured(c: CheckResult): string {
  if (c.measured === null) return '-';
  if (typeof c.measured === 'number') {
    // Shares are kept as 0..1 in the report (unit 'ratio') and shown as percentages.
    if (c.unit === 'ratio') return `${(c.measured * 100).toFixed(2)} %`;
    return `${c.measured}${c.unit ? ` ${c.unit}` : ''}`;
  }
  return String(c.measured);
}

export function renderTable(report: ValidationReport, color = false): string {
  const paint = (verdict: CheckResult['verdict'], text: string) =>
    !color ? text : `\x1b[${verdict === 'pass' ? 32 : verdict === 'fail' ? 31 : 33}m${text}\x1b[0m`;
  const rows = report.checks.map((c) => [MARK[c.verdict], c.name, measured(c), c.threshold]);
  const widths = [4, 0, 0].map((min, i) => Math.max(min, ...rows.map((r) => r[i]!.length)));
  const lines: string[] = [];
  report.checks.forEach((c, i) => {
    const r = rows[i]!;
    lines.push(
      `${paint(c.verdict, r[0]!.padEnd(widths[0]!))}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]}`,
    );
    if (c.verdict !== 'pass') lines.push(`${' '.repeat(widths[0]! + 2)}└ ${c.message}`);
  });
  const failed = report.checks.filter((c) => c.verdict === 'fail').length;
  const skipped = report.checks.filter((c) => c.verdict === 'skip').length;
  const verdict = report.interrupted ? 'INTERRUPTED' : report.passed ? 'PASSED' : 'FAILED';
  lines.push(
    '',
    `${verdict}: ${report.checks.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped — ${report.environment} ${report.target} (${(report.durationMs / 1000).toFixed(1)}s)`,
  );
  return `${lines.join('\n')}\n`;
}

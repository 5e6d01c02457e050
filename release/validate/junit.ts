// JUnit XML (`--junit`), so CI systems show every gate natively: one testsuite per check group, one
// testcase per check; a failed check is a <failure> whose message is the check's explanation.
import type { ValidationReport } from '../contracts.js';

/** XML 1.0 Char production: tab, LF, CR and everything from space up, minus surrogates and FFFE/FFFF. */
const XML_CHAR = (c: number) =>
  c === 0x9 ||
  c === 0xa ||
  c === 0xd ||
  (c >= 0x20 && c <= 0xd7ff) ||
  (c >= 0xe000 && c <= 0xfffd) ||
  c >= 0x10000;

/** XML 1.0 text: the five entities escaped, characters XML cannot hold removed. */
export function xmlEscape(value: string): string {
  return [...value]
    .filter((ch) => XML_CHAR(ch.codePointAt(0)!))
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

export function junitXml(report: ValidationReport): string {
  const groups = new Map<string, ValidationReport['checks'][number][]>();
  for (const check of report.checks) {
    const list = groups.get(check.group) ?? [];
    list.push(check);
    groups.set(check.group, list);
  }
  const count = (verdict: string, list = report.checks) => list.filter((c) => c.verdict === verdict).length;
  const total = report.checks.reduce((n, c) => n + c.durationMs, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="acgs-gateway validate ${xmlEscape(report.environment)}" tests="${report.checks.length}" failures="${count('fail')}" skipped="${count('skip')}" errors="0" time="${seconds(total)}" timestamp="${xmlEscape(report.startedAt)}">`,
  ];
  for (const [group, list] of groups) {
    const time = list.reduce((n, c) => n + c.durationMs, 0);
    lines.push(
      `  <testsuite name="${xmlEscape(group)}" tests="${list.length}" failures="${count('fail', list)}" skipped="${count('skip', list)}" errors="0" time="${seconds(time)}">`,
    );
    for (const check of list) {
      const measured =
        check.measured === null ? 'n/a' : `${check.measured}${check.unit ? ` ${check.unit}` : ''}`;
      const open = `    <testcase classname="validate.${xmlEscape(group)}" name="${xmlEscape(check.name)}" time="${seconds(check.durationMs)}"`;
      const props = `      <system-out>${xmlEscape(`threshold ${check.threshold}; measured ${measured}; ${check.message}`)}</system-out>`;
      if (check.verdict === 'pass') {
        lines.push(`${open}>`, props, '    </testcase>');
      } else if (check.verdict === 'skip') {
        lines.push(
          `${open}>`,
          `      <skipped message="${xmlEscape(check.message)}"/>`,
          props,
          '    </testcase>',
        );
      } else {
        lines.push(
          `${open}>`,
          `      <failure message="${xmlEscape(check.message)}" type="threshold">${xmlEscape(`threshold ${check.threshold}, measured ${measured}`)}</failure>`,
          props,
          '    </testcase>',
        );
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}

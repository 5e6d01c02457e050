import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { CheckResult } from '../../release/contracts.js';
import { junitXml, xmlEscape } from '../../release/validate/junit.js';
import { parseOptions } from '../../release/validate/options.js';
import { CATEGORIES, loadSuite, parseSuiteFile } from '../../release/validate/probe-suite.js';
import { Progress } from '../../release/validate/progress.js';
import { buildReport, reportJson, writeAtomically } from '../../release/validate/report.js';
import { renderTable } from '../../release/validate/table.js';

const options = parseOptions([
  '-e',
  'staging',
  '-t',
  'http://127.0.0.1:8080',
  '--admin-url',
  'http://127.0.0.1:9901',
])!;
const check = (
  name: string,
  verdict: CheckResult['verdict'],
  message: string,
  extra: Partial<CheckResult> = {},
) =>
  ({
    name,
    group: name.split('.')[0] as CheckResult['group'],
    verdict,
    threshold: '< 1.00 %',
    measured: verdict === 'skip' ? null : 0.025,
    unit: 'ratio',
    message,
    durationMs: 1234,
    ...extra,
  }) satisfies CheckResult;

const checks = [
  check('health.readyz', 'pass', '/readyz answers 200 on 2 replica(s)'),
  check('load.error_rate', 'fail', '50 of 2000 requests failed (2.50 %): gs green: 500 × 50 & <more>'),
  check('cache.jwt', 'skip', 'no bearer token was verified during the run'),
  check('security.sqli', 'fail', `query: ' OR 1=1 -- → 200 "from the upstream"\u0007`),
];
const report = buildReport(
  options,
  checks,
  { startedAt: new Date('2026-12-01T10:00:00Z'), finishedAt: new Date('2026-12-01T10:01:00Z') },
  { interrupted: false, context: { load: { users: 100 } } },
);

/** Parsed by a real XML parser (Python's expat), not by our own reading of the text. */
function parseXml(xml: string): { ok: boolean; out: string } {
  const script = `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
cases = []
for suite in root.iter('testsuite'):
    for case in suite.iter('testcase'):
        f = case.find('failure'); s = case.find('skipped')
        cases.append({'suite': suite.get('name'), 'name': case.get('name'), 'time': case.get('time'),
                      'failure': None if f is None else f.get('message'), 'skipped': None if s is None else s.get('message')})
print(json.dumps({'tests': root.get('tests'), 'failures': root.get('failures'), 'skipped': root.get('skipped'), 'cases': cases}))
`;
  const r = spawnSync('python3', ['-c', script], { input: xml, encoding: 'utf8' });
  return { ok: r.status === 0, out: r.status === 0 ? r.stdout : r.stderr };
}

const python = spawnSync('python3', ['--version']).status === 0;

describe('validate output: report, JUnit, table, progress', () => {
  test('the JSON report is the contract: schema, verdict, every check, the context', async () => {
    assert.equal(report.schema, 'acgs.validate/v1');
    assert.equal(report.passed, false);
    assert.equal(report.interrupted, false);
    assert.equal(report.durationMs, 60_000);
    assert.equal(report.adminUrl, 'http://127.0.0.1:9901');
    assert.deepEqual(report.replicas, ['http://127.0.0.1:8080']);
    assert.equal(report.context.node, process.version);
    assert.deepEqual(report.context.load, { users: 100 });
    const file = join(mkdtempSync(join(tmpdir(), 'acgs-report-')), 'nested', 'report.json');
    await writeAtomically(file, reportJson(report));
    const back = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(back.checks, JSON.parse(JSON.stringify(checks)));
    // Skips do not fail a run; an interruption does.
    const skipsOnly = buildReport(
      options,
      [checks[0]!, checks[2]!],
      { startedAt: new Date(), finishedAt: new Date() },
      { interrupted: false, context: {} },
    );
    assert.equal(skipsOnly.passed, true);
    const cut = buildReport(
      options,
      [checks[0]!],
      { startedAt: new Date(), finishedAt: new Date() },
      { interrupted: true, context: {} },
    );
    assert.equal(cut.passed, false);
  });

  test('JUnit XML parses with a real XML parser; failures carry the message, skips the reason', {
    skip: !python && 'python3 missing',
  }, () => {
    const parsed = parseXml(junitXml(report));
    assert.ok(parsed.ok, parsed.out);
    const doc = JSON.parse(parsed.out);
    assert.equal(doc.tests, '4');
    assert.equal(doc.failures, '2');
    assert.equal(doc.skipped, '1');
    const byName = Object.fromEntries(doc.cases.map((c: { name: string }) => [c.name, c]));
    assert.equal(byName['health.readyz'].failure, null);
    assert.equal(byName['health.readyz'].suite, 'health');
    assert.equal(byName['health.readyz'].time, '1.234');
    assert.equal(
      byName['load.error_rate'].failure,
      '50 of 2000 requests failed (2.50 %): gs green: 500 × 50 & <more>',
    );
    // The control character XML cannot hold is dropped; quotes and arrows survive.
    assert.equal(byName['security.sqli'].failure, `query: ' OR 1=1 -- → 200 "from the upstream"`);
    assert.equal(byName['cache.jwt'].skipped, 'no bearer token was verified during the run');
    assert.equal(xmlEscape(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });

  test('the table shows every check, shares as percentages, and why a check did not pass', () => {
    const text = renderTable(report);
    assert.match(text, /PASS\s+health\.readyz/);
    assert.match(text, /FAIL\s+load\.error_rate\s+2\.50 %/);
    assert.match(text, /└ 50 of 2000 requests failed/);
    assert.match(text, /SKIP\s+cache\.jwt/);
    assert.match(text, /FAILED: 1 passed, 2 failed, 1 skipped/);
    assert.ok(!text.includes('\x1b['), 'no colour codes unless asked for');
    assert.ok(renderTable(report, true).includes('\x1b[31mFAIL'));
  });

  test('progress: a redrawn line on a terminal, a plain line every few seconds otherwise', () => {
    const tty: string[] = [];
    const t = new Progress({ write: (s: string) => tty.push(s), isTTY: true });
    t.live('load 1s', 1000);
    t.live('load 2s', 1100);
    t.line('done');
    assert.deepEqual(tty, ['\r\x1b[2Kload 1s', '\r\x1b[2Kload 2s', '\r\x1b[2K', 'done\n']);
    const plain: string[] = [];
    const p = new Progress({ write: (s: string) => plain.push(s) }, 5000);
    for (let at = 10_000; at <= 21_000; at += 1000) p.live(`at ${at}`, at);
    assert.deepEqual(plain, ['at 10000\n', 'at 15000\n', 'at 20000\n']);
  });

  test('the shipped probe suite parses and covers every category, with a benign set', async () => {
    const probes = await loadSuite();
    for (const category of [...CATEGORIES, 'benign'])
      assert.ok(
        probes.some((p) => p.category === category),
        `no probe for ${category}`,
      );
    assert.ok(probes.filter((p) => p.category === 'benign').every((p) => p.expect === 'passes'));
    assert.ok(probes.length > 200, `only ${probes.length} probes`);
    // Payload × placement: a body placement is a POST sent by a writer.
    const body = probes.find((p) => p.category === 'sqli' && p.placement === 'json_body')!;
    assert.equal(body.method, 'POST');
    assert.equal(body.auth, 'writer');
  });

  test('a team file with a mistake is refused with the path of the mistake', () => {
    assert.throws(
      () =>
        parseSuiteFile(
          JSON.stringify({ category: 'sqli', placements: ['body'], payloads: ['x'] }),
          'team.json',
        ),
      /team\.json:[\s\S]*placements\[0\]/,
    );
    assert.throws(() => parseSuiteFile('{', 'broken.json'), /broken\.json: not JSON/);
    const own = parseSuiteFile(
      JSON.stringify({
        category: 'xss',
        probes: [{ name: 'ours', rawPath: '{prefix}x', expect: { status: [403] } }],
      }),
      'own.json',
    );
    assert.equal(own[0]!.rawPath, '{prefix}x');
    assert.deepEqual(own[0]!.expect, { status: [403] });
  });
});

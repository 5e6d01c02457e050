// `npm run screening:eval [--json FILE] [--budget-us N]`: every case of the labelled corpus
// (test/fixtures/screening/) through a real gateway (in-process, real upstream on loopback, the real
// policy bundle and ruleset) in each placement: query, path segment, header, JSON body, form body.
// Prints detection rate per attack category and placement, the false-positive rate on the benign set,
// and every missed or wrongly blocked case.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { Pool } from 'undici';
import { buildPolicyBundle } from '../cli/policy.js';
import { startTestGateway } from '../test/helpers/gateway.js';
import { metricValue } from '../test/helpers/metrics.js';
import { startUpstream } from '../test/helpers/upstream.js';
import {
  blocked,
  loadCorpus,
  type Outcome,
  PLACEMENTS,
  type Placement,
  sendCase,
} from '../test/screening/support/corpus.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    'budget-us': { type: 'string', default: '100000' },
    bundle: { type: 'string', default: 'policies/build/bundle.tar.gz' },
  },
});
const SECRET = 'screening-eval-secret-0123456789-0123456789-0123456789';
const tty = process.stdout.isTTY === true;

if (!existsSync(args.bundle!)) {
  console.log(`building the policy bundle (${args.bundle})`);
  await buildPolicyBundle({ opa: '.tools/bin/opa', output: args.bundle! });
}
const upstream = await startUpstream('eval');
const gateway = await startTestGateway(
  { ac: { blue: [upstream.url], green: [upstream.url] } },
  {
    // 'keep': an encoded '/' stays inside its segment, so a payload is one path segment as sent.
    server: { escapedSlashes: 'keep' },
    policy: { bundle: args.bundle },
    screening: { enabled: true, budgetUs: Number(args['budget-us']) },
  },
  { JWT_SECRET: SECRET },
);
const token = await new SignJWT({ roles: ['ac.writer'] })
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject('eval')
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(new TextEncoder().encode(SECRET));
const auth = { authorization: `Bearer ${token}` };
const pool = new Pool(gateway.dataUrl, { connections: 8 });

interface Cell {
  total: number;
  blocked: number;
  /** Of `blocked`: refused with 400 by the gateway's own path and header rules, before screening. */
  refused400: number;
  na: number;
  cases: Array<{ value: string; status: number; reason: string }>;
}
const cell = (): Cell => ({ total: 0, blocked: 0, refused400: 0, na: 0, cases: [] });
const corpus = loadCorpus();
const results: Record<string, Record<Placement, Cell>> = {};
const groups: Array<[string, readonly string[]]> = [
  ...Object.entries(corpus.attacks),
  ['benign', corpus.benign],
];
const totalCases = groups.reduce((n, [, cases]) => n + cases.length, 0) * PLACEMENTS.length;
let done = 0;
const started = Date.now();

for (const [group, cases] of groups) {
  results[group] = Object.fromEntries(PLACEMENTS.map((p) => [p, cell()])) as Record<Placement, Cell>;
  for (const placement of PLACEMENTS) {
    const c = results[group]![placement];
    const outcomes = await Promise.all(
      cases.map((value) =>
        sendCase(pool, gateway.dataUrl, 'ac', placement, value, auth).then((o) => [value, o] as const),
      ),
    );
    for (const [value, o] of outcomes) record(c, group, value, o);
    done += cases.length;
    progress(`${group} / ${placement}`);
  }
}
if (tty) process.stdout.write('\r\x1b[K');

function record(c: Cell, group: string, value: string, o: Outcome): void {
  if (o.notApplicable) {
    c.na++;
    return;
  }
  c.total++;
  const isBlocked = blocked(o);
  if (isBlocked) c.blocked++;
  if (o.status === 400) c.refused400++;
  if (group === 'benign' ? isBlocked : !isBlocked)
    c.cases.push({ value, status: o.status, reason: o.reason });
  if (!isBlocked && o.status !== 200)
    c.cases.push({ value, status: o.status, reason: `unexpected ${o.status}: ${o.reason}` });
}

function progress(what: string): void {
  const line = `${done}/${totalCases} requests (${what})`;
  if (tty) process.stdout.write(`\r\x1b[K${line}`);
  else console.log(line);
}

const pct = (n: number, d: number) => (d === 0 ? '   n/a' : `${((100 * n) / d).toFixed(1).padStart(5)}%`);
const header = ['category'.padEnd(18), ...PLACEMENTS.map((p) => p.padStart(8)), '     all'].join(' ');
console.log(
  `\nnode ${process.version}, ${cpus().length} cores, ruleset policies/screening-rules.json, budget ${args['budget-us']} µs`,
);
console.log(`${((Date.now() - started) / 1000).toFixed(1)} s for ${totalCases} requests\n`);
console.log('detection rate (attacks refused):');
console.log(header);
const summary: Record<string, unknown> = {};
for (const [group] of groups) {
  const row = results[group]!;
  const all = PLACEMENTS.reduce(
    (a, p) => ({ total: a.total + row[p].total, blocked: a.blocked + row[p].blocked }),
    {
      total: 0,
      blocked: 0,
    },
  );
  if (group === 'benign') {
    console.log('\nfalse-positive rate (benign refused):');
    console.log(header);
  }
  console.log(
    [
      group.padEnd(18),
      ...PLACEMENTS.map((p) => `  ${pct(row[p].blocked, row[p].total)}`),
      `  ${pct(all.blocked, all.total)}`,
    ].join(' '),
  );
  summary[group] = {
    ...Object.fromEntries(
      PLACEMENTS.map((p) => [
        p,
        {
          total: row[p].total,
          blocked: row[p].blocked,
          refused400: row[p].refused400,
          notApplicable: row[p].na,
        },
      ]),
    ),
    all,
    rate: all.total === 0 ? null : all.blocked / all.total,
  };
}
const refused = groups.flatMap(([g]) => PLACEMENTS.map((p) => [g, p, results[g]![p].refused400] as const));
if (refused.some(([, , n]) => n > 0)) {
  console.log('\nof which refused with 400 by path normalisation (not by screening):');
  for (const [g, p, n] of refused) if (n > 0) console.log(`  ${g} / ${p}: ${n}`);
}
for (const [group] of groups) {
  for (const p of PLACEMENTS) {
    const c = results[group]![p];
    if (c.cases.length === 0) continue;
    console.log(`\n${group === 'benign' ? 'wrongly blocked' : 'missed'} (${group}, ${p}):`);
    for (const x of c.cases)
      console.log(`  ${x.status} ${JSON.stringify(x.value)}${x.reason ? `  — ${x.reason}` : ''}`);
  }
}
const timeouts = await metricValue(gateway.metrics.registry, 'acgs_screening_skipped_total', {
  reason: 'timeout',
});
console.log(
  `\n${timeouts} requests ran out of the engine's ${args['budget-us']} µs budget (failMode open: the policy saw partial findings)`,
);
const na = groups.flatMap(([g]) => PLACEMENTS.map((p) => results[g]![p].na)).reduce((a, b) => a + b, 0);
if (na > 0) console.log(`\n${na} cases not applicable (control characters cannot travel in a header value)`);

if (args.json) {
  const doc = {
    node: process.version,
    cores: cpus().length,
    budgetUs: Number(args['budget-us']),
    timeouts,
    placements: PLACEMENTS,
    results: summary,
    missed: Object.fromEntries(
      groups.map(([g]) => [g, Object.fromEntries(PLACEMENTS.map((p) => [p, results[g]![p].cases]))]),
    ),
  };
  await writeFile(args.json, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`\nwrote ${args.json}`);
}
await pool.close();
await gateway.shutdown();
await upstream.close();

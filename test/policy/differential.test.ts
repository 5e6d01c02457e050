// Differential test: the in-process wasm engine and `opa eval` (OPA's Go evaluator, RE2 regexes) must
// decide identically on several hundred generated inputs. One opa process evaluates all of them via a
// helper rule that maps the decision over an array of inputs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { DEFAULT_POLICY_DIR } from '../../cli/policy.js';
import type { Color } from '../../core/types.js';
import { parseBundle } from '../../gateway/policy/bundle.js';
import { createWasmEngine, type WasmPolicyEngine } from '../../gateway/policy/engine.js';
import {
  type AdminPolicyInput,
  buildPolicyInput,
  type PolicyInput,
  type ProjectedInput,
} from '../../gateway/policy/input.js';
import { INPUT_FIELDS, type InputProjection } from '../../gateway/policy/projection.js';
import { screeningConfigSchema } from '../../gateway/screening/config.js';
import { ScreeningEngine } from '../../gateway/screening/engine.js';
import { screeningMetrics } from '../../gateway/screening/metrics.js';
import { buildRuleset } from '../../gateway/screening/ruleset-loader.js';
import { createScreeningStage } from '../../gateway/screening/stage.js';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';
import { buildBundle, makeCtx, OPA, type TempDir, tempDir } from './helpers.js';

const CASES = 600;
const ADMIN_CASES = 200;

/** mulberry32: small, seeded, good enough to pick test data reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXT = [
  'plain',
  "O'Brien",
  'select a plan',
  'rock & roll',
  '1 + 1 = 2',
  'C:/ is not a path',
  'Eat; sleep; repeat',
  "' OR 1=1 --",
  '1 UNION SELECT x FROM y',
  '<script>alert(1)</script>',
  'javascript:alert(1)',
  '<img onerror=x>',
  '; cat /etc/passwd',
  '$(id)',
  '`id`',
  '../../etc/passwd',
  '%2e%2e%2f',
  '..%5c',
  '%252e%252e%252f',
  "admin'--",
  '1 or 1=1',
  'x" onmouseover="y',
  'data:text/html,x',
  '| ls -la',
  '&& whoami',
  'a%00b',
  'ünïcødé ✓',
  '',
  'wait.../ok',
  'Tom & Jerry | cat lovers',
  '%3Cscript%3E',
  '1; DROP TABLE t',
  'sleep(5)',
  '$' + '{IFS}', // split so it is not read as a template placeholder
];
const SERVICES = ['ac', 'integrity', 'fv', 'gs', 'pgc', 'unknown', null];
const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'];
const ROLES = ['ac.writer', 'fv.writer', 'gs.writer', 'admin', 'tester', 'viewer', 'operator'];

// The real screening stage fills input.screening, so the policy decides on real findings (rule ids,
// categories, places) and the exemption in policies/data.json is exercised too.
const screeningEngine = new ScreeningEngine(
  buildRuleset(readFileSync(join(PACKAGE_ROOT, 'policies/screening-rules.json'), 'utf8')),
);
const screening = createScreeningStage({
  config: screeningConfigSchema.parse({ enabled: true, budgetUs: 1_000_000 }),
  engine: screeningEngine,
  metrics: screeningMetrics(new Registry()),
});

/**
 * Each case twice: the whole input document (what `opa eval` gets) and the projection the bundle declares
 * (data.acgs.input.fields: what the gateway builds and the engine gets). Equal decisions on the two prove
 * the projection leaves out nothing the policy reads.
 */
function generate(
  rand: () => number,
  projection: InputProjection,
): { full: unknown[]; projected: unknown[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const inputs: unknown[] = [];
  const projected: unknown[] = [];
  for (let i = 0; i < CASES; i++) {
    const service = pick(SERVICES);
    const segment = rand() < 0.3 ? pick(TEXT) : 'items';
    const path =
      rand() < 0.1
        ? pick(['/healthz', '/readyz', '/readyz/x', '/healthzz', '/'])
        : rand() < 0.1
          ? `/api/gs/admin/queries/${segment}`
          : `/api/${service ?? 'none'}/${segment}`;
    const query = new URLSearchParams();
    const nq = Math.floor(rand() * 3);
    for (let q = 0; q < nq; q++) query.append(rand() < 0.1 ? pick(TEXT) : `p${q}`, pick(TEXT));
    const headers: Record<string, string> = { 'user-agent': rand() < 0.2 ? pick(TEXT) : 'curl/8' };
    if (rand() < 0.3) headers.referer = `http://x/${pick(TEXT)}`;
    if (rand() < 0.2) headers['x-custom'] = pick(TEXT);
    const roles = ROLES.filter(() => rand() < 0.2);
    const claims = rand() < 0.5 ? null : { sub: `u${i}`, roles: rand() < 0.2 ? roles.join(' ') : roles };
    const ctx = makeCtx({
      method: pick(METHODS),
      path,
      query: query.toString(),
      headers,
      service,
      claims,
      clientIp: rand() < 0.5 ? '10.0.0.1' : '2001:db8::1',
      colorOverride: pick<Color | null>(['blue', 'green', null, null]),
    });
    // Most requests screened (as with screening on), some not (screening off: null).
    if (rand() < 0.8) screening.run(ctx);
    const input: PolicyInput = buildPolicyInput(ctx);
    const part = buildPolicyInput(ctx, projection);
    // A few deliberately broken inputs: the 400 branch must agree too. Only a field the gateway sends
    // can be broken (one the projection leaves out never reaches the engine).
    const broken = pick(['method', 'path', 'segments', 'query', 'headers', 'screening'] as const);
    if (rand() < 0.05 && projection[broken]) {
      inputs.push({ ...input, [broken]: 7 });
      projected.push({ ...part, [broken]: 7 });
    } else {
      inputs.push(input);
      projected.push(part);
    }
  }
  return { full: inputs, projected };
}

function generateAdmin(rand: () => number): AdminPolicyInput[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const actions = [
    'read',
    'weights.set',
    'rollout.start',
    'rollout.pause',
    'rollout.abort',
    'policy.put',
    'rolloutx',
  ];
  const out: AdminPolicyInput[] = [];
  for (let i = 0; i < ADMIN_CASES; i++) {
    out.push({
      action: pick(actions),
      principal: {
        name: pick(['admin', 'ops', 'ci', 'x']),
        roles: ['admin', 'operator', 'release', 'viewer'].filter(() => rand() < 0.3),
      },
      service: pick(['ac', 'fv']),
    });
  }
  return out;
}

const HELPER = `package difftest

import data.acgs.gateway

decisions := [d | some x in input.cases; d := gateway.decision with input as x]

admin_decisions := [d | some x in input.admin; d := gateway.admin_decision with input as x]
`;

function opaEval(dir: string, query: string, input: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      OPA,
      [
        'eval',
        '-d',
        DEFAULT_POLICY_DIR,
        '-d',
        join(dir, 'difftest.rego'),
        '--ignore',
        'build',
        '--format',
        'json',
        '-I',
        query,
      ],
      { maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(stderr || err.message));
        const out = JSON.parse(stdout) as { result: Array<{ expressions: Array<{ value: unknown }> }> };
        resolve(out.result[0]?.expressions[0]?.value);
      },
    );
    child.stdin!.end(JSON.stringify(input));
  });
}

describe('wasm engine vs opa eval', () => {
  let dir: TempDir;
  let engine: WasmPolicyEngine;
  before(async () => {
    dir = await tempDir();
    const bundle = await parseBundle(await buildBundle(dir.path, 'diff'));
    engine = await createWasmEngine(bundle.wasm, {
      revision: 'diff',
      data: bundle.data,
      maxMemoryPages: 256,
      decisionCacheEntries: 10_000,
    });
    await writeFile(join(dir.path, 'difftest.rego'), HELPER);
  });
  after(() => {
    screeningEngine.close();
    return dir.remove();
  });

  test(`${CASES} generated requests and ${ADMIN_CASES} admin actions decide identically`, async () => {
    const rand = prng(0xac65);
    // The shipped bundle declares a projection; were it the whole document, this test would prove less.
    assert.ok(engine.projection.fields.length < INPUT_FIELDS.length, 'the bundle declares a projection');
    assert.ok(engine.decisionCache !== null, 'the shipped bundle is cacheable');
    const { full: cases, projected } = generate(rand, engine.projection);
    const admin = generateAdmin(rand);
    const [expected, expectedAdmin] = (await Promise.all([
      opaEval(dir.path, 'data.difftest.decisions', { cases }),
      opaEval(dir.path, 'data.difftest.admin_decisions', { admin }),
    ])) as [unknown[], unknown[]];
    assert.equal(expected.length, cases.length, 'opa decided every case');
    assert.equal(expectedAdmin.length, admin.length);

    const mismatches: string[] = [];
    let denied = 0;
    let screened = 0;
    // Two passes: the first evaluates and fills the decision cache, the second answers from it.
    for (const pass of ['evaluated', 'cached']) {
      projected.forEach((input, i) => {
        const actual = engine.evaluate(input as ProjectedInput);
        if (pass === 'evaluated') {
          if (!actual.allow) denied++;
          if (actual.status === 403 && / \(rule [\w.-]+\)/.test(actual.reason)) screened++;
        }
        try {
          assert.deepEqual(actual, expected[i]);
        } catch {
          mismatches.push(
            `${pass}: ${JSON.stringify(input)}\n  wasm: ${JSON.stringify(actual)}\n  opa:  ${JSON.stringify(expected[i])}`,
          );
        }
      });
    }
    const cache = engine.decisionCache!;
    assert.ok(cache.hits >= CASES * 0.95, `second pass answered from the cache: ${cache.hits} hits`);
    admin.forEach((input, i) => {
      const actual = engine.evaluateAdmin(input);
      try {
        assert.deepEqual(actual, expectedAdmin[i]);
      } catch {
        mismatches.push(
          `${JSON.stringify(input)}\n  wasm: ${JSON.stringify(actual)}\n  opa:  ${JSON.stringify(expectedAdmin[i])}`,
        );
      }
    });
    assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} mismatches`);
    // The generator must exercise both outcomes, or the comparison proves little.
    assert.ok(denied > CASES * 0.2 && denied < CASES * 0.9, `denied ${denied} of ${CASES}`);
    assert.ok(screened > CASES * 0.1, `denied by screening ${screened} of ${CASES}`);
  });
});

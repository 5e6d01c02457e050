// `acgs-gateway pipeline --environment staging --driver local` end to end, as a user runs it: a private
// Redis, two gateway replicas, real nginx (and Prometheus/Alertmanager when installed) brought up by
// staging_deployment, then the real `validate` for the validation, load (100 users, short) and security
// steps. Then a broken stack: the right step fails, and --start-from resumes after the fix.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import type { StackState } from '../../release/contracts.js';
import { stackDown } from '../../release/stack/index.js';
import { findBinary } from '../deploy/helpers.js';
import { alive, cliEnv, ensurePolicyBundle, processesMatching } from '../stack/helpers.js';
import { ROOT, runCli } from './support.js';

const skip =
  findBinary('nginx', ['/usr/sbin/nginx']) === null
    ? 'nginx is not installed'
    : findBinary('redis-server') === null
      ? 'redis-server is not installed'
      : false;

// Short durations, 100 users; the security step holds the release criterion (90 %, the default).
const PIPELINE = {
  pipeline: {
    staging: {
      load: { users: 100, duration: '3s' },
      monitoring: { scrapeInterval: '1s' },
    },
  },
};

const dirs: string[] = [];
function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'acgs-pipeline-e2e-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'pipeline.yaml'), stringify(PIPELINE));
  return dir;
}

const pipeline = (cwd: string, args: string[]) =>
  runCli(
    ['pipeline', '--environment', 'staging', '--driver', 'local', '--config', 'pipeline.yaml', ...args],
    {
      cwd,
      env: cliEnv(),
      timeoutMs: 170_000,
    },
  );

function state(cwd: string): StackState | null {
  const file = join(cwd, 'var', 'stack', 'staging', 'state.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackState) : null;
}

function runLog(cwd: string, runId: string) {
  return readFileSync(join(cwd, 'var', 'pipeline', `${runId}.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const runIdOf = (stdout: string) => /run log: .*\/([^/]+)\.jsonl/.exec(stdout)?.[1] ?? '';

before(ensurePolicyBundle);
after(async () => {
  // Whatever failed above, no stack started here outlives the file.
  for (const dir of dirs)
    await stackDown({ environment: 'staging', stateDir: join(dir, 'var', 'stack', 'staging') }).catch(
      () => {},
    );
});

describe('pipeline --environment staging --driver local', { skip }, () => {
  test('brings the stack up, passes validation, load and security, writes the log and reports', async (t) => {
    const cwd = workdir();
    const started = Date.now();
    const r = await pipeline(cwd, []);
    const elapsed = Date.now() - started;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const step of ['staging_deployment', 'staging_validation', 'load_testing', 'security_testing'])
      assert.match(r.stdout, new RegExp(`PASS ${step} \\(`));
    assert.match(r.stdout, /staging stack up at http:\/\/127\.0\.0\.1:\d+ \(2 replicas/);
    assert.match(r.stdout, /load test \(100 users\)/);

    const runId = runIdOf(r.stdout);
    const log = runLog(cwd, runId);
    const ends = log.filter((e) => e.event === 'step_end');
    assert.deepEqual(
      ends.map((e) => `${e.step}:${e.verdict}`),
      ['staging_deployment:pass', 'staging_validation:pass', 'load_testing:pass', 'security_testing:pass'],
    );
    assert.equal(log.at(-1)!.outcome, 'passed');
    const reports = readdirSync(join(cwd, 'var', 'pipeline', runId)).sort();
    assert.deepEqual(reports, ['load_testing.json', 'security_testing.json', 'staging_validation.json']);
    const load = JSON.parse(readFileSync(join(cwd, 'var', 'pipeline', runId, 'load_testing.json'), 'utf8'));
    assert.equal(load.schema, 'acgs.validate/v1');
    assert.equal(load.passed, true);
    assert.ok(load.checks.some((c: { group: string }) => c.group === 'load'));
    const security = ends.find((e) => e.step === 'security_testing')!.measurements as { score: number };
    t.diagnostic(
      `staging pipeline in ${elapsed} ms: ${ends.map((e) => `${e.step} ${e.durationMs} ms`).join(', ')}; security score ${security.score.toFixed(1)} %`,
    );
    console.log(
      `[pipeline numbers] staging pipeline ${elapsed} ms; security score ${security.score.toFixed(1)} %`,
    );

    const history = await runCli(['pipeline', 'history'], { cwd });
    assert.match(history.stdout, new RegExp(`${runId.replace('.', '\\.')} +staging +passed`));

    // The stack stays up for the user; `stack down` stops every process it started.
    const up = state(cwd);
    assert.ok(up, 'the stack state is there after the run');
    const pids = up.components.map((c) => c.pid).filter((p): p is number => p !== null);
    assert.ok(pids.length >= 4);
    for (const pid of pids) assert.ok(alive(pid), `pid ${pid} runs`);
    const down = await runCli(['stack', 'down', '--environment', 'staging'], { cwd, env: cliEnv() });
    assert.equal(down.code, 0, down.stderr);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone after stack down`);
    assert.equal(state(cwd), null);
    assert.deepEqual(processesMatching(cwd), [], 'no process started from this run is left');
  });

  test('a broken stack fails staging_deployment (exit 1); --start-from resumes after the fix', async () => {
    const cwd = workdir();
    const good = parse(readFileSync(join(ROOT, 'config', 'gateway.yaml'), 'utf8'));
    const broken = { ...good, policy: { ...good.policy, bundle: join(cwd, 'missing', 'bundle.tar.gz') } };
    writeFileSync(join(cwd, 'gateway.yaml'), stringify(broken));
    const r = await pipeline(cwd, ['--gateway-config', 'gateway.yaml']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL staging_deployment .*policy/);
    assert.match(
      r.stdout,
      /resume after the fix: acgs-gateway pipeline --environment staging --start-from staging_deployment/,
    );
    assert.doesNotMatch(r.stdout, /\] staging_validation/, 'no later step ran');
    assert.equal(state(cwd), null, 'nothing is left running');
    assert.deepEqual(processesMatching(cwd), [], 'the half-started stack was stopped');

    // The fix: a config whose bundle exists. Resume from the failed step, up to the validation.
    writeFileSync(
      join(cwd, 'gateway.yaml'),
      stringify({
        ...good,
        policy: { ...good.policy, bundle: join(ROOT, 'policies', 'build', 'bundle.tar.gz') },
      }),
    );
    const resumed = await pipeline(cwd, [
      '--gateway-config',
      'gateway.yaml',
      '--start-from',
      'staging_deployment',
      '--stop-at',
      'staging_validation',
    ]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /PASS staging_deployment/);
    assert.match(resumed.stdout, /PASS staging_validation/);

    // A later step resumed alone reads the running stack from its state.
    const again = await pipeline(cwd, [
      '--start-from',
      'staging_validation',
      '--stop-at',
      'staging_validation',
    ]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const history = await runCli(['pipeline', 'history'], { cwd });
    assert.deepEqual(
      history.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[2]),
      ['failed', 'passed', 'passed'],
    );
    const down = await runCli(['stack', 'down', '--environment', 'staging'], { cwd, env: cliEnv() });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(processesMatching(cwd), []);
  });
});

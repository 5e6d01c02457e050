// `acgs-gateway pipeline` as a user types it: the step list, the selection flags and their errors, the
// production guard, the dry run. Real child processes of the CLI, in a scratch working directory.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { waitFor } from '../helpers/wait.js';
import { runCli } from './support.js';

const ALL = [
  'staging_deployment',
  'staging_validation',
  'load_testing',
  'security_testing',
  'production_infrastructure',
  'production_rollout',
  'production_validation',
];
const scratch = () => mkdtempSync(join(tmpdir(), 'acgs-pipeline-cli-'));

function stepIds(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/)[0]!);
}

describe('pipeline --list-steps', () => {
  test('lists the seven steps in order, each with its environment and a description', async () => {
    const r = await runCli(['pipeline', '--list-steps']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stepIds(r.stdout), ALL);
    for (const line of r.stdout.trim().split('\n')) {
      const [, env, ...desc] = line.split(/\s+/);
      assert.ok(env === 'staging' || env === 'production', line);
      assert.ok(desc.join(' ').length > 20, `a description: ${line}`);
    }
  });

  test('staging is steps 1-4, production 5-7, all 1-7', async () => {
    const [staging, production, all] = await Promise.all(
      ['staging', 'production', 'all'].map((e) => runCli(['pipeline', '--list-steps', '--environment', e])),
    );
    assert.deepEqual(stepIds(staging!.stdout), ALL.slice(0, 4));
    assert.deepEqual(stepIds(production!.stdout), ALL.slice(4));
    assert.deepEqual(stepIds(all!.stdout), ALL);
  });
});

describe('pipeline selection errors', () => {
  test('an unknown --start-from names the valid steps, exit 2, nothing written', async () => {
    const cwd = scratch();
    const r = await runCli(['pipeline', '--environment', 'staging', '--start-from', 'deploy'], { cwd });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--start-from deploy: unknown step; the steps of staging are staging_deployment, /,
    );
    assert.equal(existsSync(join(cwd, 'var')), false, 'no run log for a usage error');
  });

  test('an unknown --stop-at is refused the same way', async () => {
    const r = await runCli(['pipeline', '--environment', 'production', '--stop-at', 'the_end'], {
      cwd: scratch(),
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--stop-at the_end: unknown step/);
  });

  test('a step of the other environment is named as such', async () => {
    const r = await runCli(['pipeline', '--environment', 'staging', '--start-from', 'production_rollout'], {
      cwd: scratch(),
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /production_rollout: that step belongs to --environment production, not staging/);
  });

  test('--start-from after --stop-at is refused', async () => {
    const r = await runCli(
      ['pipeline', '--environment', 'all', '--start-from', 'security_testing', '--stop-at', 'load_testing'],
      { cwd: scratch() },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--start-from security_testing comes after --stop-at load_testing/);
  });

  test('a missing or unknown environment, an unknown driver, a stray argument: usage errors', async () => {
    const results = await Promise.all([
      runCli(['pipeline'], { cwd: scratch() }),
      runCli(['pipeline', '--environment', 'qa'], { cwd: scratch() }),
      runCli(['pipeline', '--environment', 'staging', '--driver', 'k8s'], { cwd: scratch() }),
      runCli(['pipeline', 'deploy', '--environment', 'staging'], { cwd: scratch() }),
      runCli(['pipeline', '--environment', 'staging', '--bogus'], { cwd: scratch() }),
    ]);
    for (const r of results) assert.notEqual(r.code, 0, r.stdout);
    assert.match(results[0]!.stderr, /--environment staging\|production\|all is required/);
    assert.match(results[1]!.stderr, /--environment must be staging, production or all/);
    assert.match(results[2]!.stderr, /--driver must be local or compose/);
    assert.match(results[3]!.stderr, /unexpected argument 'deploy'/);
    assert.match(results[4]!.stderr, /bogus/);
  });

  test('production_rollout is not started without --yes', async () => {
    const cwd = scratch();
    const r = await runCli(
      ['pipeline', '--environment', 'production', '--start-from', 'production_rollout'],
      {
        cwd,
        env: { ADMIN_TOKEN: '' },
      },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /production_rollout changes production; add --yes/);
    assert.equal(existsSync(join(cwd, 'var')), false);
  });

  test('an invalid pipeline: section is refused with every problem by path', async () => {
    const cwd = scratch();
    const file = join(cwd, 'bad.yaml');
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(
        file,
        'pipeline:\n  production:\n    rollout: { steps: [50, 25] }\n    requirements: { cpus: -1 }\n    colour: blue\n',
      ),
    );
    const r = await runCli(['pipeline', '--environment', 'production', '--dry-run', '--config', file], {
      cwd,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline\.production\.rollout\.steps: must be strictly increasing/);
    assert.match(r.stderr, /pipeline\.production\.requirements\.cpus/);
    assert.match(r.stderr, /pipeline\.production: unknown field\(s\) colour/);
  });
});

describe('pipeline --dry-run', () => {
  test('shows commands, targets and thresholds of every step and changes nothing', async () => {
    const cwd = scratch();
    const file = join(cwd, 'pipeline.yaml');
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(
        file,
        [
          'pipeline:',
          '  staging:',
          '    target: http://127.0.0.1:9/',
          '    load: { users: 150, duration: 5s }',
          '  production:',
          '    target: http://127.0.0.1:9/',
          '    hosts: [api.acgs.test]',
          '    rollout: { steps: [5, 50, 100], interval: 2m, thresholds: { maxErrorRate: 0.02 } }',
          '    security: { minScore: 95 }',
          '',
        ].join('\n'),
      ),
    );
    const r = await runCli(
      [
        'pipeline',
        '--environment',
        'all',
        '--dry-run',
        '--config',
        file,
        '--services',
        'gs,ac',
        '--admin-url',
        'http://127.0.0.1:9',
      ],
      { cwd },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    for (const id of ALL) assert.match(out, new RegExp(`\\d\\. ${id} \\(`));
    assert.match(out, /run: stack up --environment staging --driver local/);
    assert.match(
      out,
      /validate --environment staging --target http:\/\/127\.0\.0\.1:9\/ --only health,latency,monitoring,cache,resources/,
    );
    assert.match(out, /--only load --users 150 --duration 5s/);
    assert.match(out, /security score >= 90 %/, 'staging keeps its own minimum');
    assert.match(out, />= 8 CPUs, >= 16 GB memory, >= 100 GB free/);
    assert.match(out, /covers api\.acgs\.test, valid >= 14 days/);
    assert.match(out, /services, one at a time: gs, ac/);
    assert.match(out, /"steps":\[5,50,100\],"interval":"2m".*"thresholds":\{"maxErrorRate":0\.02\}/);
    assert.match(out, /validate --environment production --target http:\/\/127\.0\.0\.1:9\//);
    assert.equal(existsSync(join(cwd, 'var')), false, 'a dry run writes no run log and starts nothing');
  });

  test('--dry-run respects --start-from and --stop-at and needs no --yes', async () => {
    const r = await runCli(
      [
        'pipeline',
        '--environment',
        'production',
        '--dry-run',
        '--start-from',
        'production_rollout',
        '--stop-at',
        'production_rollout',
      ],
      { cwd: scratch() },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 step\(s\)/);
    assert.match(r.stdout, /1\. production_rollout/);
    assert.doesNotMatch(r.stdout, /production_validation|production_infrastructure/);
  });
});

describe('pipeline history', () => {
  test('with no runs says so', async () => {
    const r = await runCli(['pipeline', 'history'], { cwd: scratch() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no pipeline runs yet/);
  });
});

describe('pipeline --help', () => {
  test('describes every step, the flags and the exit codes', async () => {
    const r = await runCli(['pipeline', '--help']);
    assert.equal(r.code, 0);
    for (const id of ALL) assert.match(r.stdout, new RegExp(id));
    for (const flag of [
      '--list-steps',
      '--start-from',
      '--stop-at',
      '--dry-run',
      '--services',
      '--yes',
      '--driver',
    ])
      assert.ok(r.stdout.includes(flag), flag);
    assert.match(r.stdout, /130 interrupted/);
  });
});

describe('pipeline and a terminal Ctrl-C', () => {
  test('Ctrl-C to the process group: validate (the real one) writes its partial report once, exit 130', async () => {
    const cwd = scratch();
    // Nothing listens on port 9: validate waits for the target's health, so it is surely mid-run.
    writeFileSync(join(cwd, 'p.yaml'), 'pipeline:\n  staging:\n    target: http://127.0.0.1:9/\n');
    const running = runCli(
      ['pipeline', '--environment', 'staging', '--start-from', 'staging_validation', '--config', 'p.yaml'],
      { cwd, detached: true, timeoutMs: 90_000 },
    );
    let out = '';
    running.child.stdout!.on('data', (c) => {
      out += c;
    });
    // Two tsx start-ups (pipeline, then validate): slow on a busy 2-core machine. The pipeline shows the
    // last line of each chunk validate prints, which is its banner or, when lines arrive together, its
    // first check group.
    await waitFor('validate to start', () => /validate staging http|▸ health/.test(out), 60_000, 50).catch(
      (err) => {
        throw new Error(`${(err as Error).message}; pipeline said so far:\n${out}`);
      },
    );
    process.kill(-running.child.pid!, 'SIGINT');
    const r = await running;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stderr, /Ctrl-C: stopping the current step safely/);
    assert.match(r.stdout, /interrupted during staging_validation; it stopped safely/);
    assert.doesNotMatch(r.stdout, /load_testing: started/);
    const runDir = readdirSync(join(cwd, 'var', 'pipeline')).find((n) => !n.endsWith('.jsonl'))!;
    const report = JSON.parse(
      readFileSync(join(cwd, 'var', 'pipeline', runDir, 'staging_validation.json'), 'utf8'),
    );
    assert.equal(report.schema, 'acgs.validate/v1');
    assert.equal(report.interrupted, true, 'the partial report of an interrupted validate');
  });
});

// The compose driver on a machine without a Docker engine: the exact `docker compose` command lines it
// runs, and a preflight that refuses with a clear message (no docker, no compose plugin, no engine, a
// missing env file, CHANGE_ME left in it or in a secret) before anything starts.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type ComposeOptions,
  composeArgs,
  configProblems,
  dockerProblem,
  parsePs,
  placeholders,
} from '../../release/stack/compose/driver.js';
import { StackError, stackDown, stackUp } from '../../release/stack/index.js';
import { findBinary } from '../deploy/helpers.js';
import { cliEnv, REPO, stackCli } from './helpers.js';

const EXAMPLE = (environment: string) => join(REPO, 'config', 'env', `${environment}.env.example`);

describe('the compose driver', () => {
  let tmp: string;
  let emptyPath: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'acgs-compose-'));
    emptyPath = mkdtempSync(join(tmpdir(), 'acgs-nopath-'));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(emptyPath, { recursive: true, force: true });
  });

  const options = (environment: 'staging' | 'production', envFile?: string): ComposeOptions => ({
    repo: REPO,
    environment,
    envFile,
    timeoutMs: 120_000,
    env: { PATH: emptyPath },
  });

  test('staging: the production file plus the staging override, the staging env file, up --wait', () => {
    const o = options('staging');
    assert.deepEqual(composeArgs(o, 'up'), [
      'compose',
      '-f',
      join(REPO, 'docker', 'docker-compose.prod.yml'),
      '-f',
      join(REPO, 'docker', 'docker-compose.staging.yml'),
      '--env-file',
      join(REPO, 'config', 'env', 'staging.env'),
      'up',
      '-d',
      '--wait',
      '--wait-timeout',
      '120',
    ]);
    assert.deepEqual(composeArgs(o, 'down').slice(-1), ['down']);
    assert.deepEqual(composeArgs(o, 'ps').slice(-4), ['ps', '--all', '--format', 'json']);
  });

  test('production: no override file; an explicit env file is used as given', () => {
    const args = composeArgs(options('production', '/srv/acgs/production.env'), 'up');
    assert.deepEqual(args.slice(0, 5), [
      'compose',
      '-f',
      join(REPO, 'docker', 'docker-compose.prod.yml'),
      '--env-file',
      '/srv/acgs/production.env',
    ]);
    assert.ok(!args.some((a) => a.includes('staging')));
  });

  test('every CHANGE_ME of the env examples is named; a filled-in file has none', () => {
    for (const environment of ['staging', 'production'] as const) {
      const text = readFileSync(EXAMPLE(environment), 'utf8');
      const left = placeholders(text);
      for (const name of [
        'ADMIN_TOKENS',
        'ADMIN_TOKEN',
        'ALERT_WEBHOOK_URL',
        'ACGS_AC_BLUE_IMAGE',
        'ACGS_PGC_GREEN_IMAGE',
      ])
        assert.ok(left.includes(name), `${environment}: ${name} is reported`);
      // Commented-out documentation lines are not assignments.
      assert.ok(!left.includes('JWT_PUBLIC_KEY'));
      const file = join(tmp, `${environment}.env`);
      copyFileSync(EXAMPLE(environment), file);
      const problems = configProblems(options(environment, file));
      assert.match(
        problems[0]!,
        new RegExp(`${environment}\\.env: replace CHANGE_ME in ADMIN_TOKENS, ADMIN_TOKEN`),
      );
      writeFileSync(file, text.replaceAll('CHANGE_ME', 'filled-in-value-0123456789'));
      assert.ok(!configProblems(options(environment, file)).some((p) => p.includes(`${environment}.env`)));
    }
  });

  test('a missing env file and missing secrets are named with the fix', () => {
    const problems = configProblems(options('staging', join(tmp, 'nowhere.env')));
    assert.match(problems[0]!, /nowhere\.env: missing; copy config\/env\/staging\.env\.example/);
    // docker/secrets/* are git-ignored, so a fresh checkout has none of them.
    for (const secret of ['prometheus_admin_token', 'grafana_admin_password', 'postgres_password'])
      assert.ok(
        problems.some((p) => p.startsWith(`docker/secrets/${secret}`)),
        `${secret}: ${problems.join('; ')}`,
      );
  });

  test('without docker on PATH, stack up fails before running anything, naming docker and every problem', async () => {
    const file = join(tmp, 'staging.env');
    copyFileSync(EXAMPLE('staging'), file);
    const error = await stackUp({
      environment: 'staging',
      driver: 'compose',
      envFile: file,
      stateDir: join(tmp, 'state'),
      env: { PATH: emptyPath },
    }).then(
      () => assert.fail('stack up should fail'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof StackError);
    assert.equal(error.component, 'docker');
    assert.match(error.message, /^compose: cannot start the staging stack:/);
    assert.match(error.message, /docker: not installed \(or not on PATH\)/);
    assert.match(error.message, /--driver local/);
    assert.match(error.message, /staging\.env: replace CHANGE_ME in ADMIN_TOKENS/);
  });

  test('stack down --driver compose without docker names docker too', async () => {
    await assert.rejects(
      stackDown({
        environment: 'staging',
        driver: 'compose',
        stateDir: join(tmp, 'none'),
        env: { PATH: emptyPath },
      }),
      (err: unknown) => err instanceof StackError && /^docker: not installed/.test(err.message),
    );
  });

  test('the CLI exits 1 with that message', async () => {
    const file = join(tmp, 'production.env');
    copyFileSync(EXAMPLE('production'), file);
    const result = await stackCli(
      [
        'up',
        '--environment',
        'production',
        '--driver',
        'compose',
        '--env-file',
        file,
        '--state-dir',
        join(tmp, 'cli-state'),
      ],
      cliEnv({ PATH: `${emptyPath}:${process.env.PATH}`.replace(/[^:]*docker[^:]*:?/g, '') }),
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /compose: cannot start the production stack/);
    assert.match(result.stderr, /production\.env: replace CHANGE_ME/);
  });

  const DOCKER = findBinary('docker');
  test('with the docker client of this machine (no compose plugin or no engine), the problem is named', {
    skip: DOCKER === null ? 'no docker client here' : false,
  }, async () => {
    const problem = await dockerProblem({ PATH: join(DOCKER!, '..') });
    assert.ok(problem, 'this machine has no Docker engine: a problem is expected');
    assert.match(problem, /^docker: (the compose plugin is missing|the Docker engine is not reachable)/);
  });

  test('docker compose ps output, in both of its JSON shapes, becomes components with health', () => {
    const lines = [
      { Service: 'nginx', State: 'running', Health: 'healthy' },
      { Service: 'gateway-1', State: 'running', Health: 'starting' },
      { Service: 'postgres', State: 'exited', Health: '' },
      { Service: 'ac-blue', State: 'running', Health: '' },
    ];
    for (const stdout of [lines.map((l) => JSON.stringify(l)).join('\n'), JSON.stringify(lines)]) {
      const parsed = parsePs(stdout);
      assert.deepEqual(
        parsed.map((p) => [p.component.name, p.component.kind, p.healthy]),
        [
          ['nginx', 'nginx', true],
          ['gateway-1', 'gateway', false],
          ['postgres', 'postgres', false],
          ['ac-blue', 'service', true],
        ],
      );
      assert.equal(parsed[1]!.detail, 'running (starting)');
    }
    assert.deepEqual(parsePs(''), []);
  });
});

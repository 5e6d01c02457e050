// `stack up` interrupted half-way: Ctrl-C stops what it had started and says so; a `stack up` killed
// outright (no chance to clean up) leaves a state file from which `stack down` stops every part.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StackState } from '../../release/contracts.js';
import { stackDown } from '../../release/stack/index.js';
import { findBinary } from '../deploy/helpers.js';
import { waitFor } from '../helpers/wait.js';
import { alive, cliEnv, ensurePolicyBundle, processesMatching, REPO, stackCli } from './helpers.js';

const skip =
  findBinary('nginx', ['/usr/sbin/nginx']) === null || findBinary('redis-server') === null
    ? 'nginx and redis-server are needed'
    : false;

/** Starts `stack up` and resolves once state.json records both replicas (they are still starting). */
async function upUntilReplicasSpawned(dir: string) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO, 'cli', 'main.ts'),
      'stack',
      'up',
      '--environment',
      'staging',
      '--state-dir',
      dir,
    ],
    { cwd: REPO, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const state = await waitFor(
    'both replicas in state.json',
    () => {
      const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StackState;
      return s.components.filter((c) => c.kind === 'gateway').length === 2 ? s : null;
    },
    30_000,
    20,
  );
  return { child, exited, state, output: () => output };
}

describe('an interrupted stack up', { skip }, () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'acgs-stack-int-'));
    dirs.push(dir);
    return dir;
  };
  before(ensurePolicyBundle);
  after(async () => {
    for (const dir of dirs) {
      await stackDown({ environment: 'staging', stateDir: dir }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Ctrl-C while the replicas start: exit 1, "interrupted", every part it started is stopped', async () => {
    const dir = tempDir();
    const { child, exited, state, output } = await upUntilReplicasSpawned(dir);
    child.kill('SIGINT');
    assert.equal(await exited, 1, output());
    assert.match(output(), /interrupted/);
    for (const c of state.components)
      if (c.pid !== null) assert.equal(alive(c.pid), false, `${c.name} stopped`);
    assert.deepEqual(processesMatching(dir), []);
    assert.equal(existsSync(join(dir, 'state.json')), false);
  });

  test('stack up killed outright: stack down stops what the state file recorded', async () => {
    const dir = tempDir();
    const { child, exited, state } = await upUntilReplicasSpawned(dir);
    child.kill('SIGKILL');
    await exited;
    const orphans = state.components.filter((c) => c.pid !== null);
    assert.ok(orphans.length >= 4, 'redis, services and two replicas were left running');
    for (const c of orphans) assert.ok(alive(c.pid!), `${c.name} outlived the killed command`);
    const down = await stackCli(['down', '--environment', 'staging', '--state-dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    for (const c of orphans) assert.equal(alive(c.pid!), false, `${c.name} stopped by down`);
    assert.deepEqual(processesMatching(dir), []);
  });

  test('the reader of its output goes away (`stack up | head -1`): up still finishes, nothing is orphaned', async () => {
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO, 'cli', 'main.ts'),
        'stack',
        'up',
        '--environment',
        'staging',
        '--replicas',
        '1',
        '--state-dir',
        dir,
      ],
      { cwd: REPO, env: cliEnv(), stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    assert.equal(await exited, 0);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StackState;
    assert.ok(state.target, 'the stack came up completely');
    for (const c of state.components) if (c.pid !== null) assert.ok(alive(c.pid), `${c.name} runs`);
    assert.equal((await stackCli(['down', '--environment', 'staging', '--state-dir', dir])).code, 0);
    assert.deepEqual(processesMatching(dir), []);
  });
});

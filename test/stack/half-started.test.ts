// A stack that cannot come up: the error names the part that failed (a replica that never becomes ready,
// nginx that cannot bind), and everything started before it is stopped, the private Redis included.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StackState } from '../../release/contracts.js';
import { StackError, stackUp } from '../../release/stack/index.js';
import { DOCKER, findBinary } from '../deploy/helpers.js';
import { alive, cliEnv, ensurePolicyBundle, processesMatching } from './helpers.js';

const NGINX = findBinary('nginx', ['/usr/sbin/nginx']);
const REDIS = findBinary('redis-server');
const skip =
  NGINX === null ? 'nginx is not installed' : REDIS === null ? 'redis-server is not installed' : false;

describe('a stack that cannot come up is stopped and names the part', { skip }, () => {
  let dir: string;
  let holder: Server | undefined;
  before(async () => {
    await ensurePolicyBundle();
  });
  after(async () => {
    holder?.close();
  });

  /** Runs stackUp expecting a failure; returns the error and the pids/redis it had started. */
  async function failingUp(extra: Partial<Parameters<typeof stackUp>[0]>) {
    dir = mkdtempSync(join(tmpdir(), 'acgs-stack-fail-'));
    const started = new Map<string, number>();
    let redis = '';
    const error = await stackUp({
      environment: 'staging',
      driver: 'local',
      replicas: 2,
      stateDir: dir,
      env: cliEnv(),
      timeoutMs: 20_000,
      onProgress: (p) => {
        if (p.component === 'redis' && p.status === 'healthy') redis = p.message ?? '';
        // state.json is written as each part starts: read the pids as a `stack down` would.
        try {
          const partial = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StackState;
          for (const c of partial.components) if (c.pid !== null) started.set(c.name, c.pid);
        } catch {}
      },
      ...extra,
    }).then(
      () => assert.fail('stack up should have failed'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof StackError, String(error));
    return { error, started, redis };
  }

  function assertNothingLeft(started: Map<string, number>, redis: string) {
    assert.ok(started.size >= 3, `parts were started before the failure: ${[...started.keys()].join(', ')}`);
    for (const [name, pid] of started) assert.equal(alive(pid), false, `${name} (pid ${pid}) was stopped`);
    assert.deepEqual(processesMatching(dir), []);
    assert.deepEqual(
      processesMatching(`redis-server ${new URL(redis).host}`),
      [],
      'the private Redis was stopped',
    );
    assert.throws(() => statSync(join(dir, 'state.json')), /ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  }

  test('a replica whose policy bundle is missing: the error names gateway-2 and what it answered', async () => {
    const { error, started, redis } = await failingUp({
      replicaEnv: { 1: { POLICY_BUNDLE: '/nonexistent/acgs/bundle.tar.gz' } },
    });
    assert.equal(error.component, 'gateway-2');
    assert.match(error.message, /^gateway-2: not ready/);
    assert.match(error.message, /\/readyz answers .*policy/i, error.message);
    assert.ok(started.has('gateway-1') && started.has('gateway-2'));
    assertNothingLeft(started, redis);
  });

  test('nginx cannot bind its port: the error names nginx with its log, the replicas are stopped', async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder!.listen(0, '127.0.0.1', () => resolve()));
    const port = (holder.address() as { port: number }).port;
    const { error, started, redis } = await failingUp({ nginxPort: port });
    assert.equal(error.component, 'nginx');
    assert.match(error.message, /^nginx: exited during start/);
    assert.match(error.message, /Address already in use/);
    assertNothingLeft(started, redis);
  });

  test('a config whose policy bundle does not exist is refused before anything starts', async () => {
    dir = mkdtempSync(join(tmpdir(), 'acgs-stack-fail-'));
    const progress: string[] = [];
    const error = await stackUp({
      environment: 'staging',
      driver: 'local',
      stateDir: dir,
      env: cliEnv(),
      // The compose config: its bundle is the one baked into the image (/app/...), absent here.
      config: join(DOCKER, 'gateway', 'gateway.yaml'),
      onProgress: (p) => progress.push(`${p.component} ${p.status}`),
    }).then(
      () => assert.fail('stack up should have failed'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof StackError);
    assert.equal(error.component, 'policy');
    assert.match(error.message, /the bundle \/app\/policies\/build\/bundle\.tar\.gz .* does not exist/);
    assert.deepEqual(progress, ['policy failed'], 'nothing was started');
    assert.throws(() => statSync(join(dir, 'state.json')), /ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  });
});

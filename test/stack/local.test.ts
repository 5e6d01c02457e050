// `acgs-gateway stack up|status|down --driver local`, run as a user runs it: a staging stack with a
// private Redis, two replicas and real nginx in front; requests through nginx reach every service;
// `down` leaves no process behind. Then a stack on the Redis at REDIS_URL, which `down` leaves alone.
// (Stacks that cannot come up: half-started.test.ts.)
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StackState } from '../../release/contracts.js';
import { stackDown } from '../../release/stack/index.js';
import { findBinary, freePort, waitForPort } from '../deploy/helpers.js';
import { alive, cliEnv, ensurePolicyBundle, processesMatching, stackCli } from './helpers.js';

const NGINX = findBinary('nginx', ['/usr/sbin/nginx']);
const REDIS = findBinary('redis-server');
const skip =
  NGINX === null ? 'nginx is not installed' : REDIS === null ? 'redis-server is not installed' : false;
const SERVICES = ['ac', 'integrity', 'fv', 'gs', 'pgc'];

describe('a local staging stack through the CLI', { skip }, () => {
  let dir: string;
  let state: StackState;

  before(async () => {
    await ensurePolicyBundle();
    dir = mkdtempSync(join(tmpdir(), 'acgs-stack-'));
  });
  after(async () => {
    // Whatever happened above, nothing started here outlives the test.
    await stackDown({ environment: 'staging', stateDir: dir }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('stack up starts redis, the demo services, two replicas and nginx, and writes the state', async () => {
    const up = await stackCli([
      'up',
      '--environment',
      'staging',
      '--driver',
      'local',
      '--replicas',
      '2',
      '--state-dir',
      dir,
      '--json',
    ]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    state = JSON.parse(up.stdout) as StackState;
    assert.equal(state.schema, 'acgs.stack/v1');
    assert.equal(state.environment, 'staging');
    assert.equal(state.driver, 'local');
    assert.equal(state.replicas.length, 2);
    assert.equal(state.adminUrls.length, 2);
    assert.match(state.target, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(state.redisUrl, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(state.redisUrl, 'redis://127.0.0.1:6379', 'a private Redis, not the shared one');
    const kinds = state.components.map((c) => `${c.name}:${c.kind}`);
    for (const part of [
      'redis:redis',
      'services:service',
      'gateway-1:gateway',
      'gateway-2:gateway',
      'nginx:nginx',
    ])
      assert.ok(kinds.includes(part), `${part} in ${kinds.join(', ')}`);
    for (const c of state.components)
      if (c.pid !== null) assert.ok(alive(c.pid), `${c.name} (pid ${c.pid}) runs`);
    // The state holds the admin token: private to the user.
    assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')), state);
  });

  test('requests through nginx reach every service, over both replicas', async () => {
    for (const service of SERVICES) {
      const res = await fetch(`${state.target}/api/${service}/hello?name=stack`);
      const body = (await res.json()) as { service: string; path: string; query: Record<string, string> };
      assert.equal(res.status, 200, `${service}: ${JSON.stringify(body)}`);
      assert.equal(body.service, service);
      assert.equal(body.path, '/hello');
      assert.deepEqual(body.query, { name: 'stack' });
      assert.match(res.headers.get('x-acgs-color') ?? '', /^(blue|green)$/);
      assert.ok(res.headers.get('x-request-id'));
    }
    for (let i = 0; i < 20; i++) await (await fetch(`${state.target}/api/ac/spread`)).arrayBuffer();
    const access = readFileSync(join(dir, 'nginx', 'logs', 'access.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { upstream: string });
    const used = new Set(access.map((l) => l.upstream));
    for (const replica of state.replicas)
      assert.ok(used.has(new URL(replica).host), `nginx sent traffic to ${replica}`);
    // The admin plane is not reachable through nginx; on each replica it wants the stack's token.
    assert.equal((await fetch(`${state.target}/admin/services`)).status, 404);
    for (const admin of state.adminUrls) {
      assert.equal((await fetch(`${admin}/admin/services`)).status, 401);
      const ok = await fetch(`${admin}/admin/services`, {
        headers: { authorization: `Bearer ${state.adminToken}` },
      });
      assert.equal(ok.status, 200);
    }
  });

  test('a second stack up in the same state dir is refused while the first runs', async () => {
    const again = await stackCli(['up', '--environment', 'staging', '--state-dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);
    assert.match(again.stderr, /stack down --environment staging/);
  });

  test('stack status reports every part healthy, then names the replica that died', async () => {
    const status = await stackCli(['status', '--environment', 'staging', '--state-dir', dir]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    for (const name of ['redis', 'services', 'gateway-1', 'gateway-2', 'nginx'])
      assert.match(status.stdout, new RegExp(`${name}\\s+healthy`));

    const victim = state.components.find((c) => c.name === 'gateway-2')!;
    process.kill(victim.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const degraded = await stackCli(['status', '--environment', 'staging', '--state-dir', dir, '--json']);
    assert.equal(degraded.code, 1);
    const report = JSON.parse(degraded.stdout) as {
      components: { name: string; healthy: boolean; detail: string }[];
    };
    const gateway2 = report.components.find((c) => c.name === 'gateway-2')!;
    assert.equal(gateway2.healthy, false);
    assert.match(gateway2.detail, /not running/);
    assert.equal(report.components.find((c) => c.name === 'gateway-1')!.healthy, true);
    // nginx keeps answering from the replica that is left.
    assert.equal((await fetch(`${state.target}/api/gs/x`)).headers.get('x-request-id') !== null, true);
  });

  test('stack down stops every process up started and removes the state; a second down is a no-op', async () => {
    const down = await stackCli(['down', '--environment', 'staging', '--state-dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    for (const c of state.components)
      if (c.pid !== null) assert.equal(alive(c.pid), false, `${c.name} (pid ${c.pid}) is gone`);
    assert.deepEqual(processesMatching(dir), [], 'no process names the state dir');
    assert.throws(() => statSync(join(dir, 'state.json')), /ENOENT/);
    assert.equal((await stackCli(['status', '--environment', 'staging', '--state-dir', dir])).code, 1);
    const again = await stackCli(['down', '--environment', 'staging', '--state-dir', dir]);
    assert.equal(again.code, 0);
  });
});

describe('a stack on the Redis at REDIS_URL', { skip }, () => {
  let dir: string;
  let redis: ChildProcess;
  let redisUrl: string;
  before(async () => {
    await ensurePolicyBundle();
    dir = mkdtempSync(join(tmpdir(), 'acgs-stack-redis-'));
    // "The Redis at REDIS_URL" is a private one here, so the shared 127.0.0.1:6379 stays untouched.
    const port = await freePort();
    redis = spawn(
      REDIS!,
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    redisUrl = `redis://127.0.0.1:${port}`;
    await waitForPort(port);
  });
  after(async () => {
    await stackDown({ environment: 'staging', stateDir: dir }).catch(() => {});
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('up uses it (no redis-server of its own) and down leaves it running', async () => {
    const up = await stackCli(
      ['up', '--environment', 'staging', '--replicas', '1', '--state-dir', dir, '--json'],
      cliEnv({ REDIS_URL: redisUrl }),
    );
    assert.equal(up.code, 0, up.stderr);
    const state = JSON.parse(up.stdout) as StackState;
    assert.equal(state.redisUrl, redisUrl);
    const component = state.components.find((c) => c.kind === 'redis')!;
    assert.deepEqual(component, { name: 'redis', kind: 'redis', pid: null, url: redisUrl, log: null });
    // The replica keeps its weights in that Redis.
    assert.equal((await fetch(`${state.target}/api/pgc/x`)).status, 200);
    const down = await stackCli(['down', '--environment', 'staging', '--state-dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(redis.exitCode, null, 'the Redis that up did not start still runs');
    assert.equal(alive(redis.pid!), true);
  });

  test('an unreachable REDIS_URL fails up at once, naming redis', async () => {
    const port = await freePort();
    const started = Date.now();
    const up = await stackCli(
      ['up', '--environment', 'staging', '--state-dir', dir, '--timeout', '3'],
      cliEnv({ REDIS_URL: `redis://127.0.0.1:${port}` }),
    );
    assert.equal(up.code, 1);
    assert.match(up.stderr, /redis: not answering PING at redis:\/\/127\.0\.0\.1:\d+ before the deadline/);
    assert.ok(Date.now() - started < 15_000);
    assert.deepEqual(processesMatching(dir), [], 'nothing was started');
  });
});

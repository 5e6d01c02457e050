import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { type CliIo, runRolloutCommand } from '../../cli/rollout.js';
import { runWeightsCommand } from '../../cli/weights.js';
import { Errors, GatewayError } from '../../core/errors.js';
import { AdminTokenAuthenticator } from '../../gateway/admin/admin-auth.js';
import { createAdminServer } from '../../gateway/admin/admin-server.js';
import { AuditLog } from '../../gateway/admin/audit-log.js';
import { registerRolloutRoutes } from '../../gateway/admin/rollout-routes.js';
import { Responder } from '../../gateway/http/responder.js';
import { GatewayMetrics } from '../../gateway/metrics/gateway-metrics.js';
import { LocalLeadership } from '../../rollout/leader.js';
import { LiveWindows } from '../../rollout/live-windows.js';
import { RolloutManager } from '../../rollout/manager.js';
import { MemoryRolloutStore } from '../../rollout/rollout-store.js';
import { LocalWindowSource } from '../../rollout/window-source.js';
import { fakeClock, TestWeightStore } from './helpers.js';

const TOKEN = 'test-admin-token';

/** The real admin server (token auth, the responder) with the rollout routes, and a weights route that
 * answers 409 during a rollout. */
function buildApp() {
  const clock = fakeClock();
  const windows = new LiveWindows({ services: ['ac'], now: clock.now });
  const weights = new TestWeightStore(['ac']);
  const manager = new RolloutManager({
    services: ['ac'],
    weights,
    store: new MemoryRolloutStore(),
    windows: new LocalWindowSource(windows),
    leadership: new LocalLeadership(),
    now: clock.now,
  });
  const logger = pino({ level: 'silent' });
  const metrics = new GatewayMetrics(undefined, { defaultMetrics: false });
  const app = createAdminServer({
    authenticator: new AdminTokenAuthenticator([{ name: 'ops-alice', token: TOKEN }]),
    registry: metrics.registry,
    audit: new AuditLog(join(mkdtempSync(join(tmpdir(), 'acgs-audit-')), 'audit.jsonl'), logger),
    logger,
    responder: new Responder(metrics),
  });
  registerRolloutRoutes(app, { manager });
  app.put<{ Params: { name: string }; Body: { green: number } }>(
    '/admin/services/:name/weights',
    { config: { action: 'weights.set' } },
    async (request) => {
      if (await manager.isRolloutActive(request.params.name)) {
        throw new GatewayError(Errors.CONFLICT, 'a rollout is running');
      }
      return { weights: await weights.set(request.params.name, { green: request.body.green }) };
    },
  );
  return { app, manager, weights, clock, windows };
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('admin rollout routes', () => {
  test('start, status, pause, resume, promote with the principal as actor', async () => {
    const { app, weights } = buildApp();
    const started = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout',
      headers: auth,
      payload: {
        steps: [20, 100],
        interval: '10s',
        thresholds: { maxErrorRate: 0.05 },
        reason: 'release 1.2',
      },
    });
    assert.equal(started.statusCode, 201, started.body);
    const s = started.json();
    assert.deepEqual(
      [s.state, s.weight, s.step, s.params.intervalMs, s.params.thresholds.maxErrorRate],
      ['progressing', 20, 1, 10_000, 0.05],
    );
    assert.deepEqual([s.history[0].actor, s.history[0].reason], ['ops-alice', 'release 1.2']);
    assert.equal(weights.get('ac').green, 20);

    const status = await app.inject({ method: 'GET', url: '/admin/services/ac/rollout', headers: auth });
    assert.equal(status.statusCode, 200);
    assert.equal(status.json().nextAnalysisInMs, 10_000);
    assert.deepEqual(Object.keys(status.json().windows.candidate).sort(), [
      'errorRate',
      'errors',
      'p50Ms',
      'p95Ms',
      'p99Ms',
      'requests',
      'rps',
      'seconds',
    ]);

    const paused = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout/pause',
      headers: auth,
      payload: { reason: 'lunch' },
    });
    assert.equal(paused.statusCode, 200);
    assert.deepEqual([paused.json().state, paused.json().history.at(-1).reason], ['paused', 'lunch']);
    const resumed = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout/resume',
      headers: auth,
    });
    assert.equal(resumed.json().state, 'progressing');
    const promoted = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout/promote',
      headers: auth,
      payload: {},
    });
    assert.equal(promoted.json().state, 'promoted');
    assert.deepEqual([weights.get('ac').green, weights.get('ac').stable], [100, 'green']);
  });

  test('errors use the gateway JSON shape with the request id: 400, 404, 409', async () => {
    const { app } = buildApp();
    const bad = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout',
      headers: auth,
      payload: { steps: [50, 10] },
    });
    assert.equal(bad.statusCode, 400);
    const body = bad.json();
    assert.equal(body.error.code, 'bad_request');
    assert.match(body.error.message, /steps: must be strictly increasing; steps: must end at 100/);
    assert.equal(typeof body.error.requestId, 'string');
    assert.ok(body.error.requestId.length > 0);

    const unknown = await app.inject({ method: 'GET', url: '/admin/services/zz/rollout', headers: auth });
    assert.deepEqual([unknown.statusCode, unknown.json().error.code], [404, 'not_found']);

    const none = await app.inject({ method: 'POST', url: '/admin/services/ac/rollout/abort', headers: auth });
    assert.deepEqual([none.statusCode, none.json().error.code], [409, 'conflict']);

    await app.inject({ method: 'POST', url: '/admin/services/ac/rollout', headers: auth, payload: {} });
    const twice = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout',
      headers: auth,
      payload: {},
    });
    assert.equal(twice.statusCode, 409);
    assert.match(twice.json().error.message, /already progressing/);

    const badReason = await app.inject({
      method: 'POST',
      url: '/admin/services/ac/rollout/pause',
      headers: auth,
      payload: { reason: 5 },
    });
    assert.equal(badReason.statusCode, 400);
  });
});

describe('rollout and weights CLI against a listening admin app', () => {
  let ctx: ReturnType<typeof buildApp>;
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    ctx = buildApp();
    app = ctx.app;
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => app.close());

  function io(extra: Partial<CliIo> = {}, env: NodeJS.ProcessEnv = { ADMIN_TOKEN: TOKEN }) {
    const out = { stdout: '', stderr: '' };
    const value: CliIo = {
      env,
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      ...extra,
    };
    return { io: value, out };
  }

  test('--help on every command; usage errors exit 2', async () => {
    for (const argv of [
      ['--help'],
      ['start', '--help'],
      ['status', '-h'],
      ['pause', '--help'],
      ['abort', '--help'],
    ]) {
      const { io: i, out } = io();
      assert.equal(await runRolloutCommand(argv, i), 0);
      assert.match(out.stdout, /Usage: acgs-gateway rollout/);
    }
    const w = io();
    assert.equal(await runWeightsCommand(['--help'], w.io), 0);
    assert.match(w.out.stdout, /weights set SERVICE GREEN/);
    assert.equal(await runRolloutCommand(['explode', 'ac'], io().io), 2);
    assert.equal(await runRolloutCommand(['start'], io().io), 2);
    assert.equal(await runRolloutCommand(['start', 'ac', '--steps', '10,x'], io().io), 2);
    assert.equal(await runRolloutCommand(['start', 'ac', '--bogus'], io().io), 2);
    assert.equal(await runWeightsCommand(['set', 'ac', '150'], io().io), 2);
  });

  test('start, status, pause, refusal, weights 409, abort, weights set', async () => {
    const start = io();
    const code = await runRolloutCommand(
      [
        'start',
        'ac',
        '--steps',
        '10,50,100',
        '--interval',
        '5s',
        '--max-error-rate',
        '0.02',
        '--admin-url',
        url,
        '--reason',
        'v2',
      ],
      start.io,
    );
    assert.equal(code, 0, start.out.stderr);
    assert.match(start.out.stdout, /ac: progressing {2}\(candidate green, stable blue\)/);
    assert.match(start.out.stdout, /\[10\] → 50 → 100/);

    const status = io();
    assert.equal(await runRolloutCommand(['status', 'ac', '--admin-url', url], status.io), 0);
    assert.match(status.out.stdout, /next analysis in 5s/);
    assert.match(status.out.stdout, /green\s+0\.0\s+0\.00%\s+0\.0 ms/);
    const json = io();
    assert.equal(await runRolloutCommand(['status', 'ac', '--json', '--admin-url', url], json.io), 0);
    assert.equal(JSON.parse(json.out.stdout).params.thresholds.maxErrorRate, 0.02);

    assert.equal(await runRolloutCommand(['pause', 'ac', '--admin-url', url], io().io), 0);
    const again = io();
    assert.equal(await runRolloutCommand(['pause', 'ac', '--admin-url', url], again.io), 1);
    assert.match(again.out.stderr, /already paused \(409 conflict\)/);

    const blocked = io();
    assert.equal(await runWeightsCommand(['set', 'ac', '40', '--admin-url', url], blocked.io), 1);
    assert.match(blocked.out.stderr, /a rollout is running \(409/);

    assert.equal(
      await runRolloutCommand(['abort', 'ac', '--reason', 'bad build', '--admin-url', url], io().io),
      0,
    );
    const set = io();
    assert.equal(await runWeightsCommand(['set', 'ac', '40', '--admin-url', url], set.io), 0);
    assert.match(set.out.stdout, /ac: green 40% \/ blue 60%/);
    assert.equal(ctx.weights.get('ac').green, 40);
  });

  test('status --watch redraws until the rollout ends; a rollback exits 4', async () => {
    await ctx.weights.set('ac', { green: 0 });
    await ctx.manager.start('ac', { steps: [10, 100], intervalMs: 5000 }, 'alice');
    let draws = 0;
    const w = io({
      sleep: async () => {
        draws++;
        if (draws > 3) throw new Error('the watch did not end'); // bounded: fails fast instead of hanging
        // Between redraws, an interval of a failing candidate passes and the controller rolls back.
        ctx.clock.advance(5000);
        for (let i = 0; i < 40; i++) ctx.windows.record('ac', 'green', 500, 5, false);
        await ctx.manager.tick();
      },
    });
    const code = await runRolloutCommand(
      ['status', 'ac', '--watch', '--refresh', '100ms', '--admin-url', url],
      w.io,
    );
    assert.equal(code, 4);
    assert.equal(draws, 1);
    assert.match(w.out.stdout, /ac: progressing[\s\S]*\[█{4}░{36}\] {2}10%[\s\S]*ac: rolled_back/);
    assert.match(w.out.stdout, /last analysis fail at 10%/);
  });

  test('a missing token is refused (1), an unreachable admin plane exits 3', async () => {
    const noToken = io({}, {});
    assert.equal(await runRolloutCommand(['status', 'ac', '--admin-url', url], noToken.io), 1);
    assert.match(noToken.out.stderr, /401 unauthorized/);
    const down = io();
    assert.equal(await runRolloutCommand(['status', 'ac', '--admin-url', 'http://127.0.0.1:9'], down.io), 3);
    assert.match(down.out.stderr, /cannot reach the admin plane/);
  });
});

// The pipeline stage: what a client sees (GatewayError), what ops see (metrics, logs, decision logs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { GatewayError } from '../../core/errors.js';
import { checkDecision } from '../../gateway/policy/decision.js';
import { createDecisionLogger, MASK } from '../../gateway/policy/decision-log.js';
import { PolicyManager } from '../../gateway/policy/manager.js';
import { createPolicyStage } from '../../gateway/policy/stage.js';
import { screen } from '../screening/support/screen.js';
import { buildBundle, makeCtx, recordingLogger, type TempDir, tempDir } from './helpers.js';
import { createStaticEngine } from './static-engine.js';

async function metric(registry: Registry, name: string): Promise<Array<{ labels: object; value: number }>> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []) as Array<{ labels: object; value: number }>;
}

describe('policy stage', () => {
  let dir: TempDir;
  let bundle: Buffer;
  before(async () => {
    dir = await tempDir();
    bundle = await buildBundle(dir.path, 'stage-rev');
  });
  after(() => dir.remove());

  async function setup(decisionLog?: ReturnType<typeof createDecisionLogger>) {
    const registry = new Registry();
    const logger = recordingLogger();
    const manager = new PolicyManager({ registry });
    await manager.load(bundle, 'test');
    const stage = createPolicyStage({ manager, registry, logger, decisionLog });
    return { registry, logger, manager, stage };
  }

  test('allows, denies with 401/403 and the reason, pushes policy headers, sets overrideAllowed', async () => {
    const { stage, registry } = await setup();
    const ok = makeCtx({ colorOverride: 'green', claims: { roles: ['tester'] } });
    assert.equal(stage.run(ok), undefined);
    assert.equal(ok.overrideAllowed, true);

    const refused = makeCtx({ colorOverride: 'green' });
    stage.run(refused);
    assert.equal(refused.overrideAllowed, false);
    assert.deepEqual(refused.responseHeaders, ['x-acgs-color-override', 'refused']);

    assert.throws(
      () => stage.run(makeCtx({ method: 'POST' })),
      (e: unknown) =>
        e instanceof GatewayError &&
        e.status === 401 &&
        e.code === 'unauthorized' &&
        e.headers?.['www-authenticate'] === 'Bearer realm="acgs"' &&
        e.message === 'a token is required for POST on service ac',
    );
    assert.throws(
      () => stage.run(makeCtx({ method: 'POST', claims: { sub: 'r', roles: ['reader'] } })),
      (e: unknown) => e instanceof GatewayError && e.status === 403 && e.code === 'forbidden',
    );
    assert.throws(
      () => stage.run(screen(makeCtx({ query: 'q=%27%20OR%201%3D1%20--' }))),
      (e: unknown) => e instanceof GatewayError && e.status === 403 && /^sqli in query q /.test(e.message),
    );
    const decisions = await metric(registry, 'acgs_policy_decisions_total');
    const byResult = Object.fromEntries(
      decisions.map((v) => [(v.labels as { result: string }).result, v.value]),
    );
    assert.deepEqual(byResult, { allow: 2, deny: 3, bad_request: 0, error: 0 });
    const hist = await metric(registry, 'acgs_policy_evaluation_seconds');
    assert.equal(hist.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value, 5);
    assert.deepEqual(await metric(registry, 'acgs_policy_bundle_info'), [
      { labels: { revision: 'stage-rev' }, value: 1 },
    ]);
  });

  test('with the decision cache: repeated requests get the same answer, headers included, counted at scrape', async () => {
    const registry = new Registry();
    const manager = new PolicyManager({ registry, decisionCacheEntries: 100 });
    await manager.load(bundle, 'test');
    const stage = createPolicyStage({ manager, registry, logger: recordingLogger() });
    for (let i = 0; i < 3; i++) {
      const refused = makeCtx({ colorOverride: 'green' });
      stage.run(refused);
      assert.deepEqual(refused.responseHeaders, ['x-acgs-color-override', 'refused'], `request ${i}`);
      assert.throws(
        () => stage.run(makeCtx({ method: 'POST', claims: { sub: 'r', roles: ['reader'] } })),
        (e: unknown) => e instanceof GatewayError && e.status === 403,
        `request ${i}`,
      );
    }
    const lookups = Object.fromEntries(
      (await metric(registry, 'acgs_policy_decision_cache_lookups_total')).map((v) => [
        (v.labels as { result: string }).result,
        v.value,
      ]),
    );
    assert.deepEqual(lookups, { hit: 4, miss: 2 });
    assert.deepEqual(await metric(registry, 'acgs_policy_decision_cache_entries'), [
      { labels: {}, value: 2 },
    ]);
    // A swap starts a new cache; the counter keeps counting up.
    await manager.load(bundle, 'again');
    stage.run(makeCtx({ colorOverride: 'green' }));
    const after = await metric(registry, 'acgs_policy_decision_cache_lookups_total');
    assert.equal(after.find((v) => (v.labels as { result: string }).result === 'miss')?.value, 3);
    assert.deepEqual(await metric(registry, 'acgs_policy_decision_cache_entries'), [
      { labels: {}, value: 1 },
    ]);
  });

  test('a 400 decision becomes bad_request', async () => {
    const registry = new Registry();
    const manager = new PolicyManager();
    manager.use(
      createStaticEngine({ decide: () => ({ allow: false, status: 400, reason: 'bad input' }) }),
      'static',
    );
    const stage = createPolicyStage({ manager, registry, logger: recordingLogger() });
    assert.throws(
      () => stage.run(makeCtx()),
      (e: unknown) => e instanceof GatewayError && e.status === 400 && e.code === 'bad_request',
    );
  });

  test('fails closed with 503 policy_error: no bundle, throwing engine, ill-shaped decision; logged once per error', async () => {
    const registry = new Registry();
    const logger = recordingLogger();
    const manager = new PolicyManager({ registry });
    const stage = createPolicyStage({ manager, registry, logger });
    const isPolicyError = (e: unknown) =>
      e instanceof GatewayError && e.status === 503 && e.code === 'policy_error';
    assert.throws(() => stage.run(makeCtx()), isPolicyError);

    manager.use(
      createStaticEngine({
        decide: () => {
          throw new Error('boom');
        },
      }),
      'throws',
    );
    for (let i = 0; i < 5; i++) assert.throws(() => stage.run(makeCtx()), isPolicyError);
    // An engine returning something that is not a decision (what a Rego typo produces).
    assert.equal(typeof checkDecision({ allow: 'yes', status: 200, reason: '' }), 'string');
    manager.use(
      createStaticEngine({
        decide: () => {
          const checked = checkDecision({ allow: true });
          if (typeof checked === 'string') throw new Error(checked);
          return checked;
        },
      }),
      'ill-shaped',
    );
    for (let i = 0; i < 3; i++) assert.throws(() => stage.run(makeCtx()), isPolicyError);

    const errors = logger.lines.filter((l) => l.level === 'error').map((l) => (l.obj as { err: string }).err);
    assert.deepEqual(errors, ['no policy bundle is loaded', 'boom', 'decision.status is not an HTTP status']);
    const decisions = await metric(registry, 'acgs_policy_decisions_total');
    assert.equal(decisions.find((v) => (v.labels as { result: string }).result === 'error')?.value, 9);
  });

  test('decision log: OPA shape, one line per sampled decision, secrets masked', async () => {
    const lines: string[] = [];
    const log = createDecisionLogger({
      enabled: true,
      sampleRate: 1,
      sink: { write: (l: string) => lines.push(l) },
      labels: { id: 'replica-1' },
    });
    const { stage } = await setup(log);
    stage.run(
      makeCtx({
        id: 'req-42',
        query: 'access_token=s3cret&q=x',
        headers: { 'x-api-key': 'k3y', authorization: 'Bearer t', referer: 'r' },
      }),
    );
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('\n'));
    const entry = JSON.parse(lines[0]!);
    assert.match(entry.decision_id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(entry.timestamp)));
    assert.equal(entry.path, 'acgs/gateway/decision');
    assert.deepEqual(entry.bundles, { acgs: { revision: 'stage-rev' } });
    assert.deepEqual(entry.labels, { app: 'acgs-gateway', id: 'replica-1' });
    assert.equal(entry.request_id, 'req-42');
    assert.equal(entry.requested_by, '203.0.113.9');
    assert.equal(entry.result.allow, true);
    assert.equal(typeof entry.metrics.timer_rego_query_eval_ns, 'number');
    // The shipped bundle reads neither query nor headers (data.acgs.input.fields): the log shows the input
    // as evaluated, so they are not there to leak.
    assert.deepEqual(Object.keys(entry.input), [
      'method',
      'path',
      'client_ip',
      'claims',
      'service',
      'color_override',
      'screening',
    ]);
    assert.ok(!lines[0]!.includes('s3cret') && !lines[0]!.includes('k3y') && !lines[0]!.includes('Bearer'));

    // A bundle that reads everything (no projection declared) has its secrets masked.
    lines.length = 0;
    const registry = new Registry();
    const manager = new PolicyManager({ registry });
    manager.use(
      createStaticEngine({
        decide: () => checkDecision({ allow: true, status: 200, reason: 'ok' }) as never,
      }),
      't',
    );
    createPolicyStage({ manager, registry, logger: recordingLogger(), decisionLog: log }).run(
      makeCtx({
        query: 'access_token=s3cret&q=x',
        headers: { 'x-api-key': 'k3y', authorization: 'Bearer t', referer: 'r' },
      }),
    );
    const full = JSON.parse(lines[0]!);
    assert.deepEqual(full.input.query, { access_token: [MASK], q: ['x'] });
    assert.equal(full.input.headers['x-api-key'], MASK);
    assert.equal(full.input.headers.authorization, undefined);
    assert.deepEqual(full.masked.sort(), ['/input/headers/x-api-key', '/input/query/access_token']);
    assert.ok(!lines[0]!.includes('s3cret') && !lines[0]!.includes('k3y') && !lines[0]!.includes('Bearer'));
  });

  test('decision log: off logs nothing; sampling follows the rate', () => {
    const lines: unknown[] = [];
    const off = createDecisionLogger({
      enabled: false,
      sampleRate: 1,
      sink: { info: (o: object) => lines.push(o) },
    });
    assert.equal(off.sampled(), false);
    let r = 0;
    const seq = [0.05, 0.5, 0.09, 0.95];
    const sampled = createDecisionLogger({
      enabled: true,
      sampleRate: 0.1,
      sink: { info: () => {} },
      random: () => seq[r++ % 4]!,
    });
    assert.deepEqual(
      [0, 1, 2, 3].map(() => sampled.sampled()),
      [true, false, true, false],
    );
    const none = createDecisionLogger({ enabled: true, sampleRate: 0, sink: { info: () => {} } });
    assert.equal(none.sampled(), false);
  });
});

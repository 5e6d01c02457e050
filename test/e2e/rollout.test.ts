// End to end, one gateway in memory: real demo upstreams (in-process listeners on free ports), real client
// traffic spread over thousands of sticky users, the rollout driven by the controller through the admin API
// and the CLI, with short intervals so the file stays well under a minute.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gateway } from '../../gateway/gateway.js';
import type { RolloutStatus } from '../../rollout/manager.js';
import { ADMIN_AUTH, ADMIN_TOKEN, startTestGateway } from '../helpers/gateway.js';
import {
  admin,
  type DemoColor,
  demoService,
  retryOnPortClash,
  rolloutStatus,
  summarise,
  Traffic,
  waitFor,
} from './support/rollout-e2e.js';

const SERVICE = 'gs';

const open: Gateway[] = [];
const traffics: Traffic[] = [];
after(async () => {
  await Promise.allSettled(traffics.map((t) => t.stop()));
  await Promise.allSettled(open.map((g) => g.shutdown('test over')));
});

/** A gateway with one demo service `gs` and e2e-sized rollout defaults (steps 10/50/100, 1 s, 20 requests). */
async function gatewayWith(green: DemoColor = {}, defaults: Record<string, unknown> = {}): Promise<Gateway> {
  const gw = await retryOnPortClash(async () =>
    startTestGateway(
      { [SERVICE]: await demoService(green) },
      {
        demo: { enabled: true },
        rollout: {
          defaults: { steps: [10, 50, 100], intervalMs: 1000, minRequests: 20, ...defaults },
          tickMs: 100,
        },
      },
    ),
  );
  open.push(gw);
  return gw;
}

function traffic(gw: Gateway, options: { concurrency?: number; pauseMs?: number } = {}): Traffic {
  const t = new Traffic({ urls: [gw.dataUrl], service: SERVICE, ...options });
  traffics.push(t);
  return t;
}

async function metricsText(gw: Gateway): Promise<string> {
  const res = await fetch(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH });
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of one sample line of /metrics, e.g. metric(text, 'acgs_rollout_step{service="gs"}'). */
function metric(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

interface Run {
  status: RolloutStatus;
  rolledBackAt: number;
  startedAt: number;
}

/** Starts a rollout through the API and waits (bounded) until it has ended. */
async function runToEnd(gw: Gateway, body: Record<string, unknown>, timeoutMs = 25_000): Promise<Run> {
  const started = await admin(gw.adminUrl, 'POST', `/admin/services/${SERVICE}/rollout`, body);
  assert.equal(started.status, 201, JSON.stringify(started.json));
  // Ended, and the final split written (state is persisted before the weights, so `applied` says when).
  const status = await waitFor(
    'the rollout to end',
    async () => {
      const s = await rolloutStatus(gw.adminUrl, SERVICE);
      return s.active || !s.applied ? null : s;
    },
    timeoutMs,
    50,
  );
  const last = status.history.at(-1)!;
  return { status, rolledBackAt: last.at, startedAt: status.startedAt! };
}

describe('rollout end to end, one gateway in memory', () => {
  test('a healthy green goes through every step and is promoted', async (t) => {
    const gw = await gatewayWith();
    const load = traffic(gw);
    await waitFor('traffic flowing', () => load.samples.length > 100);
    // The p99 gate is exercised by the 200 ms test; here a loose one, so that a busy CI machine (client
    // and gateway share this process) cannot turn a scheduling hiccup into a rollback.
    const { status } = await runToEnd(gw, { thresholds: { maxP99Ms: 500 } });
    assert.equal(status.state, 'promoted', status.reason!);
    assert.equal(status.stable, 'blue', 'the status names the rollout baseline');
    assert.deepEqual(
      { green: status.weights.green, stable: status.weights.stable },
      { green: 100, stable: 'green' },
      'green is the stable colour at 100 %',
    );
    const path = status.history.map((h) => `${h.to}@${h.weight}`);
    assert.deepEqual(path, ['progressing@10', 'progressing@50', 'progressing@100', 'promoted@100']);
    const outcomes = status.analyses.map((a) => a.outcome);
    t.diagnostic(
      `healthy analyses (newest first): ${status.analyses
        .map(
          (a) => `${a.outcome}@${a.weight}% n=${a.candidate.requests} p99=${a.candidate.p99Ms.toFixed(1)}ms`,
        )
        .join(', ')}`,
    );
    assert.ok(!outcomes.includes('fail'), `no failed analysis: ${JSON.stringify(status.analyses)}`);
    assert.equal(outcomes.filter((o: string) => o === 'pass').length, 3, `one pass per step: ${outcomes}`);

    // Every user now lands on green; nobody saw a failure on the way.
    const promotedAt = status.endedAt!;
    await sleep(300);
    const afterPromotion = summarise(load.after(promotedAt + 100));
    await load.stop();
    const all = summarise(load.samples);
    t.diagnostic(`healthy: ${all.total} requests (${all.green} green), ${all.failed} failed`);
    assert.equal(all.failed, 0, 'no client request failed');
    assert.ok(afterPromotion.total > 0, 'traffic after the promotion');
    assert.equal(afterPromotion.blue, 0, 'no request went blue after the promotion');

    const text = await metricsText(gw);
    assert.equal(metric(text, `acgs_rollout_state{service="${SERVICE}",state="promoted"}`), 1);
    assert.equal(metric(text, `acgs_rollout_state{service="${SERVICE}",state="progressing"}`), 0);
    assert.equal(metric(text, `acgs_rollout_step{service="${SERVICE}"}`), 0);
    assert.equal(metric(text, `acgs_rollout_candidate_weight{service="${SERVICE}"}`), 100);
    assert.equal(metric(text, `acgs_rollout_analyses_total{service="${SERVICE}",outcome="pass"}`), 3);
  });

  test('a green that fails 5 % of requests is rolled back at the first conclusive analysis', async (t) => {
    const gw = await gatewayWith({ failRate: 0.05 });
    const load = traffic(gw);
    await waitFor('traffic flowing', () => load.samples.length > 100);
    // At least 400 candidate requests per conclusive analysis: a 5 % failure rate then shows above the
    // 1 % limit with near certainty (P[at most 4 errors in 400] ≈ 2e-5), so the first conclusive analysis
    // must fail. 25 % and 3 s per step so that this much traffic arrives even on a busy machine.
    const { status, rolledBackAt, startedAt } = await runToEnd(gw, {
      steps: [25, 50, 100],
      interval: '3s',
      // Only the error rate is judged here (the 200 ms test covers latency).
      thresholds: { minRequests: 400, maxP99Ms: 1000 },
    });
    await sleep(300);
    const late = summarise(load.after(rolledBackAt + 100));
    await load.stop();

    assert.equal(status.state, 'rolled_back', status.reason!);
    assert.match(status.reason!, /error rate .* above maxErrorRate 1\.00%/);
    assert.deepEqual(
      { green: status.weights.green, stable: status.weights.stable },
      { green: 0, stable: 'blue' },
    );
    const outcomes: string[] = [...status.analyses].reverse().map((a) => a.outcome);
    assert.equal(outcomes.at(-1), 'fail');
    assert.ok(
      outcomes.slice(0, -1).every((o) => o === 'inconclusive'),
      `only inconclusive analyses before the failing one: ${outcomes}`,
    );
    assert.equal(status.history.at(-1)!.weight, 0);
    assert.equal(late.green, 0, 'no request reached green once the rollback took effect');

    const during = summarise(load.after(startedAt, rolledBackAt + 100));
    const failing = status.analyses[0]!;
    const line =
      `5% failing green: rolled back ${rolledBackAt - startedAt} ms after the start at ${failing.weight}% ` +
      `(${outcomes.length} analyses, ${outcomes.length - 1} inconclusive); ` +
      `clients saw ${during.greenFailed} failed requests out of ${during.green} green / ${during.total} total ` +
      `before the rollback took effect; the failing analysis saw ${failing.candidate.errors}/${failing.candidate.requests}`;
    t.diagnostic(line);
    console.log(`[e2e numbers] ${line}`);

    const text = await metricsText(gw);
    assert.equal(metric(text, `acgs_rollouts_rolled_back_total{service="${SERVICE}"}`), 1);
    assert.equal(metric(text, `acgs_rollout_analyses_total{service="${SERVICE}",outcome="fail"}`), 1);
    assert.equal(metric(text, `acgs_rollout_state{service="${SERVICE}",state="rolled_back"}`), 1);
  });

  test('a green that adds 200 ms is rolled back (maxP99Ms 50)', async (t) => {
    const gw = await gatewayWith({ latencyMs: 200 });
    const load = traffic(gw);
    await waitFor('traffic flowing', () => load.samples.length > 100);
    const { status, rolledBackAt, startedAt } = await runToEnd(gw, {});
    await sleep(500);
    const late = summarise(load.after(rolledBackAt + 300));
    await load.stop();

    assert.equal(status.state, 'rolled_back', status.reason!);
    assert.match(status.reason!, /p99 [\d.]+ ms above maxP99Ms 50\.0 ms/);
    assert.equal(status.params!.thresholds.maxP99Ms, 50, 'the default threshold');
    assert.deepEqual(
      { green: status.weights.green, stable: status.weights.stable },
      { green: 0, stable: 'blue' },
    );
    const outcomes: string[] = [...status.analyses].reverse().map((a) => a.outcome);
    assert.equal(outcomes.at(-1), 'fail');
    assert.ok(!outcomes.includes('pass'), `no analysis passed: ${outcomes}`);
    assert.ok(status.analyses[0]!.candidate.p99Ms >= 200, 'the analysis saw the added latency');
    assert.equal(late.green, 0, 'no request reached green once the rollback took effect');

    const during = summarise(load.after(startedAt, rolledBackAt + 300));
    const slow = load.after(startedAt, rolledBackAt + 300).filter((s) => s.color === 'green').length;
    const line =
      `200 ms green: rolled back ${rolledBackAt - startedAt} ms after the start at ${status.analyses[0]!.weight}%; ` +
      `${during.failed} client requests failed, ${slow} were answered slowly by green (of ${during.total})`;
    t.diagnostic(line);
    console.log(`[e2e numbers] ${line}`);
  });

  test('too little traffic holds the step as inconclusive, then pauses for an operator', async () => {
    const gw = await gatewayWith();
    // About 10 requests a second: 1 of them green at 10 %, far below minRequests 20.
    const load = traffic(gw, { concurrency: 1, pauseMs: 100 });
    const started = await admin(gw.adminUrl, 'POST', `/admin/services/${SERVICE}/rollout`, {
      maxInconclusive: 3,
    });
    assert.equal(started.status, 201);
    const held = await waitFor(
      'three inconclusive analyses',
      async () => {
        const s = await rolloutStatus(gw.adminUrl, SERVICE);
        return s.analyses.length >= 3 ? s : null;
      },
      15_000,
      50,
    );
    if (held.state === 'progressing') {
      assert.equal(held.step, 1, 'the step is held');
      assert.equal(held.weight, 10);
      assert.equal(held.weights.green, 10, 'the split stays at the first step');
    }
    assert.ok(
      held.analyses.every((a) => a.outcome === 'inconclusive'),
      JSON.stringify(held.analyses.map((a) => a.reasons)),
    );
    assert.match(held.analyses[0]!.reasons[0]!, /fewer than minRequests 20/);
    assert.deepEqual(
      held.history.map((h) => h.to),
      held.state === 'paused' ? ['progressing', 'paused'] : ['progressing'],
      'no step advanced, nothing rolled back',
    );

    const paused = await waitFor(
      'the rollout to pause after more than maxInconclusive holds',
      async () => {
        const s = await rolloutStatus(gw.adminUrl, SERVICE);
        return s.state === 'paused' ? s : null;
      },
      15_000,
      50,
    );
    await load.stop();
    assert.equal(paused.analyses.length, 4);
    assert.equal(paused.weights.green, 10, 'paused at the step, not rolled back');
    assert.equal(paused.history.at(-1)!.actor, 'controller');
    assert.match(paused.reason!, /4 inconclusive analyses in a row at 10%/);
    assert.equal(paused.nextAnalysisInMs, null);
  });

  test('pause, resume, promote and abort through the API; 409 for manual weights; audit and metrics', async () => {
    const gw = await gatewayWith({}, { intervalMs: 60_000 });
    const url = `/admin/services/${SERVICE}/rollout`;
    const bad = await admin(gw.adminUrl, 'POST', url, { steps: [50, 10], thresholds: { maxErrorRate: 2 } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /steps: must be strictly increasing/);
    assert.match(bad.json.error.message, /thresholds\.maxErrorRate/);
    const idleAction = await admin(gw.adminUrl, 'POST', `${url}/pause`);
    assert.equal(idleAction.status, 409, 'nothing to pause');

    const started = await admin(gw.adminUrl, 'POST', url, { reason: 'release 1.2.3' });
    assert.equal(started.status, 201);
    assert.equal(started.json.state, 'progressing');
    assert.equal(started.json.weights.green, 10);
    assert.equal((await admin(gw.adminUrl, 'POST', url, {})).status, 409, 'one rollout at a time');

    const manual = await admin(gw.adminUrl, 'PUT', `/admin/services/${SERVICE}/weights`, { green: 30 });
    assert.equal(manual.status, 409, JSON.stringify(manual.json));
    assert.match(manual.json.error.message, /rollout is running/);

    const paused = await admin(gw.adminUrl, 'POST', `${url}/pause`, { reason: 'checking dashboards' });
    assert.equal(paused.status, 200);
    assert.equal(paused.json.state, 'paused');
    assert.equal((await admin(gw.adminUrl, 'POST', `${url}/pause`)).status, 409, 'already paused');
    assert.equal(
      (await admin(gw.adminUrl, 'PUT', `/admin/services/${SERVICE}/weights`, { green: 30 })).status,
      409,
      'paused still counts as running',
    );
    let text = await metricsText(gw);
    assert.equal(metric(text, `acgs_rollout_state{service="${SERVICE}",state="paused"}`), 1);
    assert.equal(metric(text, `acgs_rollout_step{service="${SERVICE}"}`), 1);
    assert.equal(metric(text, `acgs_rollout_candidate_weight{service="${SERVICE}"}`), 10);

    const resumed = await admin(gw.adminUrl, 'POST', `${url}/resume`);
    assert.equal(resumed.json.state, 'progressing');
    const promoted = await admin(gw.adminUrl, 'POST', `${url}/promote`, { reason: 'looks good' });
    assert.equal(promoted.status, 200);
    assert.equal(promoted.json.state, 'promoted');
    assert.deepEqual(
      { green: promoted.json.weights.green, stable: promoted.json.weights.stable },
      {
        green: 100,
        stable: 'green',
      },
    );
    assert.equal((await admin(gw.adminUrl, 'POST', `${url}/abort`)).status, 409, 'already ended');

    // The next release goes the other way: blue is now the candidate. Abort sends its users back to green.
    const next = await admin(gw.adminUrl, 'POST', url, {});
    assert.equal(next.status, 201);
    assert.equal(next.json.candidate, 'blue');
    assert.equal(next.json.weights.green, 90);
    const load = traffic(gw, { concurrency: 4 });
    await waitFor('some traffic on blue', () => load.samples.some((s) => s.color === 'blue'));
    const aborted = await admin(gw.adminUrl, 'POST', `${url}/abort`, { reason: 'bad build' });
    const abortedAt = Date.now();
    assert.equal(aborted.json.state, 'aborted');
    assert.deepEqual(
      { green: aborted.json.weights.green, stable: aborted.json.weights.stable },
      {
        green: 100,
        stable: 'green',
      },
    );
    await sleep(200);
    const afterAbort = summarise(load.after(abortedAt + 50));
    await load.stop();
    assert.ok(afterAbort.total > 0);
    assert.equal(afterAbort.blue, 0, 'the aborted candidate gets no traffic');

    const manualNow = await admin(gw.adminUrl, 'PUT', `/admin/services/${SERVICE}/weights`, { green: 70 });
    assert.equal(manualNow.status, 200, 'manual weights allowed again once no rollout runs');

    // The audit log, newest first: every transition with who and why.
    const audit = await admin(gw.adminUrl, 'GET', `/admin/audit?target=${SERVICE}`);
    assert.equal(audit.status, 200);
    const entries = audit.json.entries.filter((e) => String(e.action).startsWith('rollout.'));
    const seen = entries.map(
      (e) => `${e.action} ${e.actor} ${e.before?.state}→${e.after?.state} ${e.reason}`,
    );
    assert.deepEqual(
      seen,
      [
        'rollout.aborted ops progressing→aborted bad build',
        `rollout.progressing ops idle→progressing started: blue through 10 → 50 → 100 %`,
        'rollout.promoted ops progressing→promoted looks good',
        'rollout.progressing ops paused→progressing resumed at 10%',
        'rollout.paused ops progressing→paused checking dashboards',
        'rollout.progressing ops idle→progressing release 1.2.3',
      ],
      seen.join('\n'),
    );
    assert.ok(
      entries.every((e) => typeof e.at === 'string' || typeof e.at === 'number'),
      'entries are timed',
    );
    assert.ok(
      audit.json.entries.some((e) => e.action === 'weights.set' && e.actor === 'ops'),
      'the manual weight change is audited too',
    );

    text = await metricsText(gw);
    assert.equal(metric(text, `acgs_rollout_state{service="${SERVICE}",state="aborted"}`), 1);
    assert.equal(metric(text, `acgs_rollout_step{service="${SERVICE}"}`), 0);
    assert.equal(metric(text, `acgs_rollout_candidate_weight{service="${SERVICE}"}`), 0);
  });

  test('the CLI drives a rollout: start, status, pause, resume, promote, abort, weights set', async () => {
    const gw = await gatewayWith({}, { intervalMs: 60_000 });
    const cli = (...args: string[]) => runCli([...args, '--admin-url', gw.adminUrl]);

    let r = await cli(
      'rollout',
      'start',
      SERVICE,
      '--steps',
      '20,60,100',
      '--interval',
      '45s',
      '--reason',
      'cli',
    );
    assert.equal(r.code, 0, r.stderr);
    let s = await rolloutStatus(gw.adminUrl, SERVICE);
    assert.equal(s.state, 'progressing');
    assert.deepEqual(s.steps, [20, 60, 100]);
    assert.equal(s.params!.intervalMs, 45_000);
    assert.equal(s.weights.green, 20);

    r = await cli('rollout', 'start', SERVICE);
    assert.equal(r.code, 1, 'refused: one is running');
    assert.match(r.stderr, /409/);
    r = await cli('weights', 'set', SERVICE, '50');
    assert.equal(r.code, 1, 'manual weights refused while the rollout runs');
    assert.match(r.stderr, /409/);

    r = await cli('rollout', 'status', SERVICE, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).state, 'progressing');
    r = await cli('rollout', 'status', SERVICE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /progressing/);
    assert.match(r.stdout, /20%/);

    r = await cli('rollout', 'pause', SERVICE, '--reason', 'hold on');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await rolloutStatus(gw.adminUrl, SERVICE)).state, 'paused');
    r = await cli('rollout', 'resume', SERVICE);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await rolloutStatus(gw.adminUrl, SERVICE)).state, 'progressing');
    r = await cli('rollout', 'promote', SERVICE);
    assert.equal(r.code, 0, r.stderr);
    s = await rolloutStatus(gw.adminUrl, SERVICE);
    assert.equal(s.state, 'promoted');
    assert.deepEqual({ green: s.weights.green, stable: s.weights.stable }, { green: 100, stable: 'green' });

    r = await cli('rollout', 'start', SERVICE);
    assert.equal(r.code, 0, r.stderr);
    r = await cli('rollout', 'abort', SERVICE, '--reason', 'cli abort');
    assert.equal(r.code, 0, r.stderr);
    s = await rolloutStatus(gw.adminUrl, SERVICE);
    assert.equal(s.state, 'aborted');
    assert.equal(s.history.at(-1)!.actor, 'ops');
    assert.equal(s.history.at(-1)!.reason, 'cli abort');
    assert.equal(s.weights.green, 100, 'blue was the candidate; its share went back to 0');

    r = await cli('weights', 'set', SERVICE, '40');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await rolloutStatus(gw.adminUrl, SERVICE)).weights.green, 40);

    r = await runCli(['rollout', 'status', SERVICE, '--admin-url', gw.adminUrl], {
      ADMIN_TOKEN: 'wrong-token',
    });
    assert.equal(r.code, 1, 'a bad token is refused');
    assert.match(r.stderr, /401/);
  });
});

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'cli/main.ts', ...args],
      { env: { ...process.env, ADMIN_TOKEN, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// production_rollout against a real gateway process (demo services, in-memory stores) with client traffic:
// the pipeline CLI runs as a child process, starts each rollout through the admin API and watches it.
// One service is promoted through every step; one whose green fails is rolled back and stops the
// pipeline; Ctrl-C pauses a running rollout. Short intervals keep the file well under a minute.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import {
  demoService,
  retryOnPortClash,
  rolloutStatus,
  Traffic,
  waitFor,
} from '../e2e/support/rollout-e2e.js';
import { ADMIN_TOKEN } from '../helpers/gateway.js';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { runCli } from './support.js';

let gw: GatewayProcess;
const traffics: Traffic[] = [];

before(async () => {
  gw = await retryOnPortClash(async () =>
    spawnGateway(
      {
        ac: await demoService(),
        // A third of green's answers are 500s: the first conclusive analysis must fail.
        gs: await demoService({ failRate: 0.3 }),
        fv: await demoService(),
      },
      {
        demo: { enabled: true },
        rollout: { defaults: { steps: [10, 50, 100], intervalMs: 1000, minRequests: 20 }, tickMs: 100 },
      },
    ),
  );
  for (const service of ['ac', 'gs', 'fv'])
    traffics.push(new Traffic({ urls: [gw.dataUrl], service, concurrency: 6, maxDurationMs: 120_000 }));
  await waitFor('traffic on every service', () => traffics.every((t) => t.samples.length > 50), 20_000);
});

after(async () => {
  await Promise.allSettled(traffics.map((t) => t.stop()));
  await gw?.stop();
});

function configFile(rollout: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'acgs-rollout-cfg-')), 'pipeline.yaml');
  writeFileSync(file, stringify({ pipeline: { production: { rollout } } }));
  return file;
}

function pipeline(
  args: string[],
  rollout: Record<string, unknown>,
  cwd = mkdtempSync(join(tmpdir(), 'acgs-rollout-')),
) {
  return runCli(
    [
      'pipeline',
      '--environment',
      'production',
      '--start-from',
      'production_rollout',
      '--stop-at',
      'production_rollout',
      '--admin-url',
      gw.adminUrl,
      '--config',
      configFile(rollout),
      ...args,
    ],
    { cwd, env: { ADMIN_TOKEN }, timeoutMs: 120_000 },
  );
}

// Loose latency: this machine runs the gateway, the traffic and the pipeline at once; errors decide here.
const FAST = { steps: [10, 25, 50, 100], interval: '1s', thresholds: { maxP99Ms: 2000, minRequests: 40 } };

describe('production_rollout', () => {
  test('the dry run names the services whose green is configured and not stable', async () => {
    const r = await pipeline(['--dry-run'], FAST);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /services, one at a time: ac, gs, fv/);
    assert.match(r.stdout, /"steps":\[10,25,50,100\],"interval":"1s"/);
  });

  test('ac is promoted through every step, then gs rolls back and stops the pipeline (exit 1)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-rollout-'));
    const started = Date.now();
    const r = await pipeline(['--services', 'ac,gs,fv', '--yes'], FAST, cwd);
    const elapsed = Date.now() - started;
    assert.equal(r.code, 1, r.stdout + r.stderr);

    const ac = await rolloutStatus(gw.adminUrl, 'ac');
    assert.equal(ac.state, 'promoted');
    assert.deepEqual(
      ac.history.map((h) => `${h.to}@${h.weight}`),
      ['progressing@10', 'progressing@25', 'progressing@50', 'progressing@100', 'promoted@100'],
      'every step of the environment, in order',
    );
    assert.deepEqual(
      ac.params?.steps,
      [10, 25, 50, 100],
      'the environment parameters, not the gateway defaults',
    );
    assert.match(
      r.stdout,
      /ac promoted in [\d.]+ s \(progressing@10, progressing@25, progressing@50, progressing@100, promoted@100\)/,
    );

    const gs = await rolloutStatus(gw.adminUrl, 'gs');
    assert.equal(gs.state, 'rolled_back');
    assert.equal(gs.weights.green, 0);
    assert.match(
      r.stdout,
      /FAIL production_rollout .*gs rolled back at (10|25)%: .*error rate .* above maxErrorRate 1\.00% \(not started: fv\)/,
    );
    assert.match(r.stdout, /- gs: analysis fail at \d+%: \d+\/\d+ errors \(\d+\.\d+%\)/);
    assert.match(
      r.stdout,
      /resume after the fix: acgs-gateway pipeline --environment production --start-from production_rollout/,
    );
    const fv = await rolloutStatus(gw.adminUrl, 'fv');
    assert.equal(fv.state, 'idle', 'the next service is not started after a rollback');

    const log = readFileSync(join(cwd, 'var', 'pipeline', readdir(cwd)), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const end = log.find((e) => e.event === 'step_end');
    assert.equal(end.verdict, 'fail');
    assert.equal(end.measurements.services.ac.outcome, 'promoted');
    assert.equal(end.measurements.services.gs.outcome, 'rolled_back');
    assert.equal(end.measurements.analysis.outcome, 'fail');
    console.log(`[pipeline numbers] ac promoted + gs rolled back in ${elapsed} ms: ${end.summary}`);
  });

  test('Ctrl-C pauses the running rollout and says so; a re-run resumes it', async () => {
    // A long interval: the rollout is surely still running when Ctrl-C arrives.
    const slow = { ...FAST, interval: '60s' };
    const running = pipeline(['--services', 'fv', '--yes'], slow);
    await waitFor(
      'fv progressing',
      async () => (await rolloutStatus(gw.adminUrl, 'fv')).state === 'progressing',
      30_000,
      100,
    );
    running.child.kill('SIGINT');
    const r = await running;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stderr, /Ctrl-C: stopping the current step safely/);
    assert.match(r.stdout, /rollout of fv paused at 10%/);
    assert.match(r.stdout, /interrupted during production_rollout; it stopped safely/);
    const paused = await rolloutStatus(gw.adminUrl, 'fv');
    assert.equal(paused.state, 'paused');
    assert.equal(paused.weights.green, 10, 'the candidate keeps its share: paused, not abandoned');
    assert.match(paused.history.at(-1)!.reason, /pipeline interrupted \(Ctrl-C\)/);

    // The same command again picks the paused rollout up instead of failing on a 409.
    const again = pipeline(['--services', 'fv', '--yes'], slow);
    await waitFor(
      'fv resumed',
      async () => (await rolloutStatus(gw.adminUrl, 'fv')).state === 'progressing',
      30_000,
      100,
    );
    again.child.kill('SIGINT');
    const r2 = await again;
    assert.equal(r2.code, 130, r2.stdout + r2.stderr);
    assert.equal((await rolloutStatus(gw.adminUrl, 'fv')).state, 'paused');
  });

  test('--services naming a service the gateway does not have fails before anything starts', async () => {
    const r = await pipeline(['--services', 'ac,billing', '--yes'], FAST);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /--services names billing, which the gateway does not have \(it has ac, gs, fv\)/);
  });

  test('a wrong admin token fails the precondition with a hint', async () => {
    const r = await runCli(
      [
        'pipeline',
        '--environment',
        'production',
        '--start-from',
        'production_rollout',
        '--stop-at',
        'production_rollout',
        '--admin-url',
        gw.adminUrl,
        '--yes',
      ],
      { cwd: mkdtempSync(join(tmpdir(), 'acgs-rollout-')), env: { ADMIN_TOKEN: 'not-the-token-0123456789' } },
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /the admin API at .* does not answer: 401 .*is ADMIN_TOKEN set\?/);
  });
});

function readdir(cwd: string): string {
  return readdirSync(join(cwd, 'var', 'pipeline')).find((n: string) => n.endsWith('.jsonl'))!;
}

describe('production_rollout when the admin plane dies', () => {
  test('the watch gives up after a bounded time, says the rollout goes on, exit 1', async () => {
    const slow = { ...FAST, interval: '60s' };
    // fv was left paused by the Ctrl-C test: this run resumes it, then the gateway is killed.
    const running = pipeline(['--services', 'fv', '--yes'], slow);
    await waitFor(
      'fv progressing',
      async () => (await rolloutStatus(gw.adminUrl, 'fv')).state === 'progressing',
      30_000,
      100,
    );
    const killedAt = Date.now();
    await gw.stop('SIGKILL');
    const r = await running;
    const tookMs = Date.now() - killedAt;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /admin API not answering for \d+s/);
    assert.match(
      r.stdout,
      /FAIL production_rollout .*lost the admin API at http:\/\/127\.0\.0\.1:\d+ while watching fv/,
    );
    assert.match(r.stdout, /the rollout of fv goes on in the gateway without this watcher/);
    assert.ok(tookMs < 30_000, `gave up in ${tookMs} ms`);
  });
});

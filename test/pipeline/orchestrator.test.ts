// The orchestrator on its own: the real staging steps with a stand-in `validate` child process (same argv,
// exit codes and report file), and small steps that run real child scripts. What a user sees: exit codes,
// the lines printed, the run log, the reports beside it, `pipeline history`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parsePipelineConfig } from '../../release/pipeline/config.js';
import { type PipelineOptions, runPipeline } from '../../release/pipeline/orchestrator.js';
import type { Step } from '../../release/pipeline/types.js';
import { waitFor } from '../helpers/wait.js';
import { FAKE_VALIDATE, runCli } from './support.js';

const exec = promisify(execFile);

function capture() {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
    },
    out: () => out,
    err: () => err,
  };
}

interface LoggedStep {
  step: string;
  verdict: string;
  start: string;
  end: string;
  durationMs: number;
  measurements: Record<string, unknown>;
  fix: string[];
}

function events(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

const config = parsePipelineConfig({
  staging: { target: 'http://127.0.0.1:9/', load: { users: 120, duration: '2s' } },
});

function options(cwd: string, env: NodeJS.ProcessEnv, more: Partial<PipelineOptions> = {}): PipelineOptions {
  return {
    environment: 'staging',
    config,
    startFrom: 'staging_validation',
    validateCommand: FAKE_VALIDATE,
    env: { ...process.env, ...env },
    cwd,
    ...more,
  };
}

describe('staging steps over validate (a stand-in child process)', () => {
  test('a failing load test stops the run with exit 1, the fix, the resume command; --start-from resumes', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const argvLog = join(cwd, 'validate-argv.jsonl');
    const first = capture();
    const run1 = await runPipeline(
      options(cwd, { FAKE_VALIDATE_FAIL: 'load', FAKE_VALIDATE_LOG: argvLog }),
      first.io,
    );
    assert.equal(run1.exitCode, 1, first.out());
    assert.equal(run1.outcome, 'failed');
    assert.match(first.out(), /PASS staging_validation/);
    assert.match(first.out(), /FAIL load_testing .*1 of 1 checks failed/);
    assert.match(first.out(), /what to fix:\n.*load\.check1 .*fix the load thing/);
    assert.match(
      first.out(),
      /resume after the fix: acgs-gateway pipeline --environment staging --start-from load_testing/,
    );
    assert.doesNotMatch(
      first.out(),
      /\[3\/3\] security_testing|PASS security_testing/,
      'nothing runs after the failing step',
    );

    // What validate was asked, per step.
    const calls = readFileSync(argvLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).args as string[]);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0]!.slice(0, 5), [
      'validate',
      '--environment',
      'staging',
      '--target',
      'http://127.0.0.1:9/',
    ]);
    assert.equal(calls[0]![calls[0]!.indexOf('--only') + 1], 'health,latency,monitoring,cache,resources');
    assert.equal(calls[1]![calls[1]!.indexOf('--only') + 1], 'load');
    assert.equal(calls[1]![calls[1]!.indexOf('--users') + 1], '120');
    assert.equal(calls[1]![calls[1]!.indexOf('--duration') + 1], '2s');

    // The run log: one JSON line per event, with step, start, end, duration, verdict, measurements.
    const log = events(run1.logFile!);
    assert.deepEqual(
      log.map((e) => e.event),
      ['run_start', 'step_start', 'step_end', 'step_start', 'step_end', 'run_end'],
    );
    const [validation, load] = log.filter((e) => e.event === 'step_end') as unknown as [
      LoggedStep,
      LoggedStep,
    ];
    assert.equal(validation.step, 'staging_validation');
    assert.equal(validation.verdict, 'pass');
    assert.ok(Date.parse(validation.end) >= Date.parse(validation.start));
    assert.equal(validation.durationMs, Date.parse(validation.end) - Date.parse(validation.start));
    assert.equal(validation.measurements['health.check1'], 1);
    assert.equal(load.verdict, 'fail');
    assert.equal(load.measurements.users, 120);
    assert.match(load.fix[0]!, /load\.check1/);
    const end = log.at(-1) as { outcome: string; failedStep: string };
    assert.equal(end.outcome, 'failed');
    assert.equal(end.failedStep, 'load_testing');

    // The run's validate reports sit beside the log.
    const reports = readdirSync(join(cwd, 'var', 'pipeline', run1.runId!)).sort();
    assert.deepEqual(reports, ['load_testing.json', 'staging_validation.json']);
    const report = JSON.parse(
      readFileSync(join(cwd, 'var', 'pipeline', run1.runId!, 'load_testing.json'), 'utf8'),
    );
    assert.equal(report.schema, 'acgs.validate/v1');

    // After the fix, resume from the failed step: the rest runs and passes.
    const second = capture();
    const run2 = await runPipeline(options(cwd, {}, { startFrom: 'load_testing' }), second.io);
    assert.equal(run2.exitCode, 0, second.out());
    assert.match(second.out(), /PASS load_testing/);
    assert.match(second.out(), /PASS security_testing .*security score 100\.0 %/);
    assert.doesNotMatch(second.out(), /staging_validation \(/);

    // `pipeline history` lists both runs and their outcome.
    const h = await runCli(['pipeline', 'history'], { cwd });
    assert.equal(h.code, 0, h.stderr);
    const lines = h.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(
      lines[0]!,
      new RegExp(`^${run1.runId!.replace('.', '\\.')} +staging +failed .*failed at load_testing`),
    );
    assert.match(
      lines[1]!,
      new RegExp(
        `^${run2.runId!.replace('.', '\\.')} +staging +passed .*load_testing:pass security_testing:pass`,
      ),
    );
    const json = JSON.parse((await runCli(['pipeline', 'history', '--json'], { cwd })).stdout);
    assert.equal(json[1].outcome, 'passed');
  });

  test('security_testing passes at a 90 % score and fails below it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const sec = { startFrom: 'security_testing' };
    const at90 = capture();
    assert.equal(
      (await runPipeline(options(cwd, { FAKE_VALIDATE_SECURITY: '9' }, sec), at90.io)).exitCode,
      0,
      at90.out(),
    );
    assert.match(at90.out(), /security score 90\.0 % \(needs >= 90 %\)/);
    const at80 = capture();
    const run = await runPipeline(options(cwd, { FAKE_VALIDATE_SECURITY: '8' }, sec), at80.io);
    assert.equal(run.exitCode, 1);
    assert.match(at80.out(), /FAIL security_testing .*security score 80\.0 %/);
    assert.match(at80.out(), /security\.check8: security check 8 failed/);
  });

  test('validate that writes no report fails the step with what it said', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const c = capture();
    const run = await runPipeline(
      options(cwd, { FAKE_VALIDATE_NO_REPORT: '1' }, { stopAt: 'staging_validation' }),
      c.io,
    );
    assert.equal(run.exitCode, 1);
    assert.match(c.out(), /validate wrote no report \(exit 2\)/);
    assert.match(c.out(), /--target is not a URL/);
  });

  test('no staging stack and no target: the precondition says to run staging_deployment first', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const c = capture();
    const run = await runPipeline(
      options(cwd, {}, { config: parsePipelineConfig({}), stopAt: 'staging_validation' }),
      c.io,
    );
    assert.equal(run.exitCode, 1);
    assert.match(c.out(), /preconditions not met/);
    assert.match(c.out(), /run the staging_deployment step first/);
  });

  test('Ctrl-C during a validate run: the child gets SIGINT, its partial report is kept, exit 130', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const controller = new AbortController();
    const c = capture();
    const running = runPipeline(
      options(cwd, { FAKE_VALIDATE_HANG: '1' }, { signal: controller.signal }),
      c.io,
    );
    await waitFor('validate to start', () => c.out().includes('load: 3/100 users'), 15_000);
    controller.abort();
    const run = await running;
    assert.equal(run.exitCode, 130);
    assert.equal(run.outcome, 'interrupted');
    assert.match(c.out(), /interrupted during staging_validation; it stopped safely/);
    assert.match(c.out(), /resume after the fix: .*--start-from staging_validation/);
    const report = JSON.parse(
      readFileSync(join(cwd, 'var', 'pipeline', run.runId!, 'staging_validation.json'), 'utf8'),
    );
    assert.equal(report.interrupted, true);
    const log = events(run.logFile!);
    assert.ok(log.some((e) => e.event === 'interrupted'));
    assert.equal((log.at(-1) as Record<string, unknown>).outcome, 'interrupted');
  });
});

describe('production_validation over validate (a stand-in child process)', () => {
  test('validates the production target given on the command line; load only with --yes', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const argvLog = join(cwd, 'validate-argv.jsonl');
    const base: PipelineOptions = {
      environment: 'production',
      config: parsePipelineConfig({ production: { load: { users: 150, duration: '4s' } } }),
      startFrom: 'production_validation',
      validateCommand: FAKE_VALIDATE,
      env: { ...process.env, FAKE_VALIDATE_LOG: argvLog },
      cwd,
      target: 'http://127.0.0.1:9/',
      adminUrls: ['http://127.0.0.1:10', 'http://127.0.0.1:11'],
      adminToken: 'operator-token-0123456789',
    };
    const without = capture();
    assert.equal((await runPipeline(base, without.io)).exitCode, 0, without.out());
    assert.match(without.out(), /no --yes: the load checks are left out against production/);
    const withYes = capture();
    assert.equal((await runPipeline({ ...base, yes: true }, withYes.io)).exitCode, 0, withYes.out());
    const [first, second] = readFileSync(argvLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { args: string[]; token: string });
    const opt = (args: string[], name: string) => args[args.indexOf(name) + 1];
    assert.equal(opt(first!.args, '--environment'), 'production');
    assert.equal(opt(first!.args, '--target'), 'http://127.0.0.1:9/');
    assert.equal(opt(first!.args, '--admin-url'), 'http://127.0.0.1:10,http://127.0.0.1:11');
    assert.equal(opt(first!.args, '--skip'), 'load');
    assert.ok(!first!.args.includes('--yes'));
    assert.equal(first!.token, 'operator-token-0123456789', 'the operator token reaches validate');
    assert.equal(opt(second!.args, '--users'), '150');
    assert.equal(opt(second!.args, '--duration'), '4s');
    assert.ok(second!.args.includes('--yes'));
    assert.ok(!second!.args.includes('--skip'));
  });
});

/** A step whose action is a real child process: `node -e <script>`; exit 0 passes. */
function scriptStep(id: string, script: string, environment: 'staging' | 'production' = 'staging'): Step {
  return {
    id,
    description: `runs ${id}`,
    environment,
    changesProduction: false,
    preconditions: async () => [],
    async run(ctx) {
      try {
        const { stdout } = await exec(process.execPath, ['-e', script], { signal: ctx.signal });
        ctx.progress(stdout.trim());
        return { verdict: 'pass', summary: stdout.trim(), measurements: { out: stdout.trim() } };
      } catch (error) {
        const e = error as { code?: number; stderr?: string };
        return {
          verdict: 'fail',
          summary: `exit ${e.code}`,
          measurements: { code: e.code },
          fix: [e.stderr?.trim() ?? ''],
        };
      }
    },
    dryRun: async () => [`node -e ${JSON.stringify(script)}`],
  };
}

describe('orchestrator with small script steps', () => {
  test('steps run in order; a throwing step is a failure with its message; later steps do not run', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const marker = join(cwd, 'third-ran');
    const steps: Step[] = [
      scriptStep('one', 'console.log("first")'),
      { ...scriptStep('two', ''), run: async () => Promise.reject(new Error('disk on fire')) },
      scriptStep('three', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x')`),
    ];
    const c = capture();
    const run = await runPipeline({ environment: 'staging', config, steps, cwd }, c.io);
    assert.equal(run.exitCode, 1);
    assert.match(c.out(), /\[1\/3\] one: started\n {2}first\nPASS one/);
    assert.match(c.out(), /FAIL two .*two stopped: disk on fire/);
    assert.equal(existsSync(marker), false);
  });

  test('a failing child script: its stderr is the fix; --stop-at ends early on success', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    const steps = [
      scriptStep('a', 'console.log("ok")'),
      scriptStep('b', 'console.error("port 80 is taken"); process.exit(3)'),
    ];
    const c = capture();
    assert.equal((await runPipeline({ environment: 'staging', config, steps, cwd }, c.io)).exitCode, 1);
    assert.match(c.out(), /FAIL b .*exit 3\nwhat to fix:\n {2}- port 80 is taken/);
    const d = capture();
    assert.equal(
      (await runPipeline({ environment: 'staging', config, steps, cwd, stopAt: 'a' }, d.io)).exitCode,
      0,
    );
    assert.doesNotMatch(d.out(), /\] b:/);
  });

  test('a live view on a TTY: one redrawn line with the step, elapsed time and its progress', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'acgs-orch-'));
    let out = '';
    const tty = { write: (t: string) => (out += t), isTTY: true, columns: 200 };
    const steps = [scriptStep('slow', 'setTimeout(() => console.log("done"), 600)')];
    await runPipeline({ environment: 'staging', config, steps, cwd }, { stdout: tty, stderr: tty });
    assert.ok(out.includes('\r\u001b[2K[1/1] slow  0s  '), 'the live line redraws in place');
    assert.match(out, /\[1\/1\] slow {2}\ds {2}done/, 'with the step progress');
    assert.match(out, /PASS slow/);
  });
});

import { join, resolve } from 'node:path';
import type { Environment, StackDriver, StackState } from '../contracts.js';
import type { PipelineConfig } from './config.js';
import { type ProgressOutput, ProgressView } from './progress.js';
import { RunLog, type RunOutcome } from './run-log.js';
import { type EnvironmentChoice, SelectionError, selectSteps } from './select.js';
import { loadStackApi } from './stack-api.js';
import { stagingJwtSecret } from './staging-secret.js';
import { STEPS } from './steps/index.js';
import type { Endpoints, Step, StepContext, StepResult } from './types.js';
import { runValidate } from './validate-runner.js';

export const PIPELINE_EXIT = Object.freeze({ OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 });

export interface PipelineOptions {
  readonly environment: EnvironmentChoice;
  readonly config: PipelineConfig;
  readonly startFrom?: string | undefined;
  readonly stopAt?: string | undefined;
  readonly dryRun?: boolean;
  readonly services?: readonly string[] | null;
  readonly yes?: boolean;
  readonly driver?: StackDriver;
  readonly gatewayConfig?: string | undefined;
  /** Production endpoints given on the command line (they win over the config and the stack state). */
  readonly target?: string | undefined;
  readonly adminUrls?: readonly string[] | undefined;
  /** REDIS_URL from the environment: the staging stack uses it instead of a private Redis. */
  readonly redisUrl?: string | undefined;
  /** ADMIN_TOKEN from the environment (read at the CLI edge). */
  readonly adminToken?: string | undefined;
  readonly cwd?: string;
  /** Default <cwd>/var/pipeline. */
  readonly logDir?: string;
  /** Environment of the validate child processes. */
  readonly env?: NodeJS.ProcessEnv;
  /** argv prefix that runs the CLI for `validate` (default: this CLI's own entry). */
  readonly validateCommand?: readonly string[];
  /** The step table (default STEPS); tests give their own to exercise the orchestrator alone. */
  readonly steps?: readonly Step[];
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
}

export interface PipelineIo {
  readonly stdout: ProgressOutput;
  readonly stderr: { write(text: string): unknown };
}

export interface PipelineRun {
  readonly exitCode: number;
  readonly runId: string | null;
  readonly logFile: string | null;
  readonly outcome: RunOutcome | 'usage';
}

function resumeCommand(o: PipelineOptions, step: string): string {
  const env = o.environment;
  return `acgs-gateway pipeline --environment ${env} --start-from ${step}${o.stopAt ? ` --stop-at ${o.stopAt}` : ''}${o.yes ? ' --yes' : ''}`;
}

export async function runPipeline(o: PipelineOptions, io: PipelineIo): Promise<PipelineRun> {
  const table = o.steps ?? STEPS;
  let steps: Step[];
  try {
    steps = selectSteps(table, o.environment, o.startFrom, o.stopAt);
  } catch (error) {
    if (!(error instanceof SelectionError)) throw error;
    io.stderr.write(`error: ${error.message}\n`);
    return { exitCode: PIPELINE_EXIT.USAGE, runId: null, logFile: null, outcome: 'usage' };
  }
  const guarded = steps.filter((s) => s.environment === 'production' && s.changesProduction);
  if (guarded.length > 0 && !o.yes && !o.dryRun) {
    io.stderr.write(
      `error: ${guarded.map((s) => s.id).join(', ')} change${guarded.length === 1 ? 's' : ''} production; add --yes to go ahead (or --dry-run to see what would happen)\n`,
    );
    return { exitCode: PIPELINE_EXIT.USAGE, runId: null, logFile: null, outcome: 'usage' };
  }

  const cwd = o.cwd ?? process.cwd();
  const signal = o.signal ?? new AbortController().signal;
  const view = new ProgressView(io.stdout, o.dryRun ? false : undefined);
  const stacks = new Map<Environment, StackState>();
  const stateDir = (environment: Environment) => join(cwd, 'var', 'stack', environment);

  async function stackOf(environment: Environment): Promise<StackState | null> {
    const known = stacks.get(environment);
    if (known) return known;
    try {
      const api = await loadStackApi();
      return (await api.stackStatus({ environment, stateDir: stateDir(environment) })).state;
    } catch {
      return null;
    }
  }

  async function endpoints(environment: Environment): Promise<Endpoints> {
    const c = o.config[environment];
    const stack = await stackOf(environment);
    const flags = environment === 'production';
    const adminUrls =
      (flags && o.adminUrls?.length ? o.adminUrls : undefined) ?? c.adminUrls ?? stack?.adminUrls ?? [];
    return {
      target: (flags ? o.target : undefined) ?? c.target ?? stack?.target ?? null,
      adminUrls,
      replicas: stack?.replicas ?? [],
      prometheus: stack?.prometheus ?? null,
      alertmanager: stack?.alertmanager ?? null,
      // Staging uses the token of the stack it brought up; production the operator's.
      adminToken:
        environment === 'staging'
          ? (stack?.adminToken ?? o.adminToken ?? null)
          : (o.adminToken ?? stack?.adminToken ?? null),
    };
  }

  const env = o.env ?? process.env;
  const logDir = o.logDir ?? join(cwd, 'var', 'pipeline');
  const jwtSecret = () => stagingJwtSecret(join(logDir, 'staging-jwt-secret'), env);

  const log = o.dryRun ? null : await RunLog.open(logDir);
  const reportDir = log?.reportDir ?? join(cwd, 'var', 'pipeline', '<run-id>');
  let current: string | null = null;

  const contextFor = (step: Step): StepContext => ({
    environment: step.environment,
    config: o.config[step.environment],
    pipelineConfig: o.config,
    driver: o.driver ?? 'local',
    gatewayConfig: o.gatewayConfig === undefined ? undefined : resolve(cwd, o.gatewayConfig),
    services: o.services ?? null,
    yes: o.yes ?? false,
    redisUrl: o.redisUrl,
    stackStateDir: stateDir,
    cwd,
    reportDir,
    signal,
    progress: (text) => view.detail(text),
    note: (text) => {
      view.line(`  ${text}`);
      log?.write({ event: 'note', step: current, text });
    },
    stack: () => stackOf(step.environment),
    setStack: (state) => stacks.set(state.environment, state),
    endpoints,
    stagingJwtSecret: jwtSecret,
    validate: async (request) =>
      runValidate(request, await endpoints(request.environment), {
        ...(o.validateCommand ? { command: o.validateCommand } : {}),
        reportDir,
        // Staging probes sign their tokens with the key the staging replicas verify.
        env:
          request.environment === 'staging' && !env.VALIDATE_JWT_KEY
            ? { ...env, VALIDATE_JWT_KEY: await jwtSecret(), VALIDATE_JWT_ALG: 'HS256' }
            : env,
        yes: o.yes ?? false,
        signal,
        progress: (text) => view.detail(text),
      }),
  });

  if (o.dryRun) {
    io.stdout.write(
      `dry run: ${steps.length} step(s) of --environment ${o.environment}; nothing is changed\n`,
    );
    for (const [i, step] of steps.entries()) {
      io.stdout.write(`\n${i + 1}. ${step.id} (${step.environment}): ${step.description}\n`);
      const ctx = contextFor(step);
      for (const line of await step.dryRun(ctx)) io.stdout.write(`   ${line}\n`);
      const problems = await step.preconditions(ctx).catch((e: Error) => [e.message]);
      for (const p of problems) io.stdout.write(`   precondition not met now: ${p}\n`);
    }
    return { exitCode: PIPELINE_EXIT.OK, runId: null, logFile: null, outcome: 'dry_run' };
  }

  const runLog = log!;
  const runStarted = Date.now();
  runLog.write({
    event: 'run_start',
    runId: runLog.runId,
    environment: o.environment,
    steps: steps.map((s) => s.id),
    options: {
      startFrom: o.startFrom ?? null,
      stopAt: o.stopAt ?? null,
      services: o.services ?? null,
      driver: o.driver ?? 'local',
      yes: o.yes ?? false,
    },
  });
  view.line(`pipeline ${runLog.runId}: ${steps.map((s) => s.id).join(' → ')}`);

  let outcome: RunOutcome = 'passed';
  let failedStep: string | null = null;
  for (const [i, step] of steps.entries()) {
    if (signal.aborted) {
      outcome = 'interrupted';
      failedStep = step.id;
      break;
    }
    current = step.id;
    const ctx = contextFor(step);
    const start = new Date();
    runLog.write({ event: 'step_start', step: step.id });
    view.stepStart(step.id, i + 1, steps.length);
    let result: StepResult;
    try {
      const problems = await step.preconditions(ctx);
      result =
        problems.length > 0
          ? { verdict: 'fail', summary: 'preconditions not met', measurements: {}, fix: problems }
          : await step.run(ctx);
    } catch (error) {
      const e = error as Error & { fix?: readonly string[] };
      result = {
        verdict: 'fail',
        summary: `${step.id} stopped: ${e.message}`,
        measurements: {},
        fix: e.fix ?? [e.message],
      };
    }
    const end = new Date();
    view.stepEnd();
    runLog.write({
      event: 'step_end',
      step: step.id,
      verdict: result.verdict,
      start: start.toISOString(),
      end: end.toISOString(),
      durationMs: end.getTime() - start.getTime(),
      summary: result.summary,
      measurements: result.measurements,
      ...(result.fix ? { fix: result.fix } : {}),
      ...(result.reports ? { reports: result.reports } : {}),
    });
    const secs = ((end.getTime() - start.getTime()) / 1000).toFixed(1);
    view.line(`${result.verdict === 'pass' ? 'PASS' : 'FAIL'} ${step.id} (${secs}s): ${result.summary}`);
    if (signal.aborted) {
      outcome = 'interrupted';
      failedStep = step.id;
      const text = `interrupted during ${step.id}; it stopped safely`;
      runLog.write({ event: 'interrupted', step: step.id, text });
      view.line(text);
      for (const f of result.fix ?? []) view.line(`  ${f}`);
      break;
    }
    if (result.verdict === 'fail') {
      outcome = 'failed';
      failedStep = step.id;
      view.line('what to fix:');
      for (const f of result.fix ?? ['see the step output above']) view.line(`  - ${f}`);
      break;
    }
  }
  current = null;
  view.close();
  const resume = failedStep ? resumeCommand(o, failedStep) : null;
  runLog.write({ event: 'run_end', outcome, durationMs: Date.now() - runStarted, failedStep, resume });
  await runLog.close();
  if (resume) io.stdout.write(`resume after the fix: ${resume}\n`);
  io.stdout.write(`run log: ${runLog.file}\n`);
  return {
    exitCode:
      outcome === 'passed'
        ? PIPELINE_EXIT.OK
        : outcome === 'interrupted'
          ? PIPELINE_EXIT.INTERRUPTED
          : PIPELINE_EXIT.FAILED,
    runId: runLog.runId,
    logFile: runLog.file,
    outcome,
  };
}

import { join } from 'node:path';
import { ConfigError } from '../gateway/config/errors.js';
import { loadPipelineConfig } from '../release/pipeline/config.js';
import { PIPELINE_EXIT, runPipeline } from '../release/pipeline/orchestrator.js';
import { readHistory } from '../release/pipeline/run-log.js';
import { STEPS } from '../release/pipeline/steps/index.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: acgs-gateway pipeline --environment staging|production|all [options]
       acgs-gateway pipeline history [--json]

The release, step by step; each step is a gate for the next:
${STEPS.map((s, i) => `  ${i + 1}. ${s.id.padEnd(26)} ${s.environment.padEnd(10)} ${s.description}`).join('\n')}

staging runs steps 1-4, production 5-7, all 1-7.

Options:
  --environment E        staging, production or all (required)
  --list-steps           print the steps of the environment and exit
  --start-from STEP      begin at STEP (resume after a failure)
  --stop-at STEP         end after STEP
  --dry-run              show what each step would do (commands, targets, thresholds); change nothing
  --services a,b         production_rollout: these services, in this order (default: every service whose
                         green is configured and not yet stable)
  --yes                  go ahead with steps that change production (production_rollout)
  --driver local|compose how staging_deployment brings the stack up (default local)
  --config FILE          a YAML file whose pipeline: section sets the parameters per environment
  --gateway-config FILE  gateway config for the staging replicas (default: the stack's own)
  --target URL           production entry point (default: config, then var/stack/production)
  --admin-url URL        production admin plane, repeatable as a,b (default: config, then the stack)

The admin token comes from ADMIN_TOKEN (staging uses the token of the stack it brought up).
Ctrl-C stops the current step safely: a running rollout is paused, not abandoned.
Run log: var/pipeline/<run-id>.jsonl, validate reports in var/pipeline/<run-id>/.
Exit codes: 0 passed, 1 a step failed, 2 bad usage, 130 interrupted.
`;

const OPTIONS = {
  environment: { type: 'string' },
  'list-steps': { type: 'boolean' },
  'start-from': { type: 'string' },
  'stop-at': { type: 'string' },
  'dry-run': { type: 'boolean' },
  services: { type: 'string' },
  yes: { type: 'boolean' },
  driver: { type: 'string' },
  config: { type: 'string' },
  'gateway-config': { type: 'string' },
  target: { type: 'string' },
  'admin-url': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const ENVIRONMENTS = ['staging', 'production', 'all'] as const;

function listSteps(environment: string | undefined): string {
  const rows = STEPS.filter((s) => !environment || environment === 'all' || s.environment === environment);
  return `${rows.map((s) => `${s.id.padEnd(26)} ${s.environment.padEnd(10)} ${s.description}`).join('\n')}\n`;
}

async function history(json: boolean): Promise<number> {
  const runs = await readHistory(join(process.cwd(), 'var', 'pipeline'));
  if (json) {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    process.stdout.write('no pipeline runs yet (var/pipeline/ is empty)\n');
    return 0;
  }
  for (const r of runs) {
    const secs = r.durationMs === null ? '-' : `${(r.durationMs / 1000).toFixed(1)}s`;
    const steps = r.steps.map((s) => `${s.step}:${s.verdict}`).join(' ');
    process.stdout.write(
      `${r.runId}  ${(r.environment ?? '?').padEnd(10)} ${r.outcome.padEnd(11)} ${secs.padStart(8)}  ${r.failedStep ? `failed at ${r.failedStep}  ` : ''}${steps}\n`,
    );
  }
  return 0;
}

export async function runPipelineCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals[0] === 'history') {
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    return history(values.json ?? false);
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const environment = values.environment;
  if (environment !== undefined && !ENVIRONMENTS.includes(environment as (typeof ENVIRONMENTS)[number]))
    throw new UsageError(`--environment must be staging, production or all (got '${environment}')`);
  if (values['list-steps']) {
    process.stdout.write(listSteps(environment));
    return 0;
  }
  if (environment === undefined) throw new UsageError('--environment staging|production|all is required');
  const driver = values.driver ?? 'local';
  if (driver !== 'local' && driver !== 'compose')
    throw new UsageError(`--driver must be local or compose (got '${driver}')`);
  const list = (v: string | undefined) =>
    v === undefined
      ? undefined
      : v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);

  let config: Awaited<ReturnType<typeof loadPipelineConfig>>;
  try {
    config = await loadPipelineConfig(values.config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`acgs-gateway pipeline: ${error.message}\n`);
    return PIPELINE_EXIT.USAGE;
  }

  // Ctrl-C once: the current step stops safely (a rollout is paused); twice: leave at once.
  const controller = new AbortController();
  let presses = 0;
  const onSigint = () => {
    presses++;
    if (presses > 1) process.exit(PIPELINE_EXIT.INTERRUPTED);
    process.stderr.write('\nCtrl-C: stopping the current step safely (press again to leave at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const run = await runPipeline(
      {
        environment: environment as (typeof ENVIRONMENTS)[number],
        config,
        startFrom: values['start-from'],
        stopAt: values['stop-at'],
        dryRun: values['dry-run'] ?? false,
        services: list(values.services) ?? null,
        yes: values.yes ?? false,
        driver,
        gatewayConfig: values['gateway-config'],
        target: values.target,
        adminUrls: list(values['admin-url']),
        adminToken: process.env.ADMIN_TOKEN || undefined,
        redisUrl: process.env.REDIS_URL || undefined,
        env: process.env,
        signal: controller.signal,
      },
      { stdout: process.stdout, stderr: process.stderr },
    );
    return run.exitCode;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

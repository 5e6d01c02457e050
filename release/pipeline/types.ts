import type { Environment, StackDriver, StackState, ValidationReport } from '../contracts.js';
import type { EnvironmentConfig, PipelineConfig } from './config.js';

export type StepVerdict = 'pass' | 'fail';

/** What a step hands back: its verdict, what it measured, and for a failure what a person should fix. */
export interface StepResult {
  readonly verdict: StepVerdict;
  /** One line for the summary. */
  readonly summary: string;
  readonly measurements: Record<string, unknown>;
  /** For a failure: what to fix, one item a line. */
  readonly fix?: readonly string[];
  /** Files the step wrote beside the run log (validate reports). */
  readonly reports?: readonly string[];
}

/** One line of a dry run: a command, a target, a threshold. */
export type DryRunPlan = readonly string[];

/** The step's own progress, for the live view (services healthy, load progress, rollout weight). */
export type ProgressSink = (text: string) => void;

/** Where the production (or staging) endpoints come from when a step needs them. */
export interface Endpoints {
  readonly target: string | null;
  readonly adminUrls: readonly string[];
  readonly replicas: readonly string[];
  readonly prometheus: string | null;
  readonly alertmanager: string | null;
  readonly adminToken: string | null;
}

export interface StepContext {
  readonly environment: Environment;
  readonly config: EnvironmentConfig;
  readonly pipelineConfig: PipelineConfig;
  readonly driver: StackDriver;
  /** Gateway config for the stack's replicas (--gateway-config). */
  readonly gatewayConfig: string | undefined;
  /** A Redis the staging stack should use (REDIS_URL); undefined: the stack starts a private one. */
  readonly redisUrl: string | undefined;
  /** var/stack/<environment> under the run's working directory. */
  readonly stackStateDir: (environment: Environment) => string;
  /** The operator said --yes (production load, production changes). */
  readonly yes: boolean;
  /** Services named by --services (null: the step decides). */
  readonly services: readonly string[] | null;
  /** Working directory of the run: relative config paths (secrets, certs, var/) resolve against it. */
  readonly cwd: string;
  /** Folder beside the run log for this run's reports. */
  readonly reportDir: string;
  /** Aborted by Ctrl-C: a step stops what it is doing, safely. */
  readonly signal: AbortSignal;
  readonly progress: ProgressSink;
  /** A line for the log (plain output and the run log). */
  readonly note: (text: string) => void;
  /** The stack this run brought up, or the one state.json describes. */
  readonly stack: () => Promise<StackState | null>;
  /** Remembers a stack brought up by staging_deployment for the later steps. */
  readonly setStack: (state: StackState) => void;
  /** Endpoints for the environment: flags, then config, then the stack's state. */
  readonly endpoints: (environment: Environment) => Promise<Endpoints>;
  /** The JWT key shared by the staging replicas and validate (see staging-secret.ts). */
  readonly stagingJwtSecret: () => Promise<string>;
  /** Runs `acgs-gateway validate` as a child process and reads its report. */
  readonly validate: (request: ValidateRequest) => Promise<ValidateOutcome>;
}

export interface ValidateRequest {
  readonly environment: Environment;
  /** Name of the report file under the run's report folder, e.g. `staging_validation`. */
  readonly name: string;
  readonly only?: readonly string[];
  readonly extraArgs?: readonly string[];
}

export interface ValidateOutcome {
  readonly exitCode: number;
  readonly report: ValidationReport | null;
  readonly reportFile: string;
  /** The child's stderr tail (why it failed when no report was written). */
  readonly output: string;
  readonly argv: readonly string[];
}

export interface Step {
  readonly id: string;
  readonly description: string;
  readonly environment: Environment;
  /** True for a step that changes a production system: it needs --yes. */
  readonly changesProduction: boolean;
  /** Problems that stop the step before it starts (each one line a person can act on). */
  preconditions(ctx: StepContext): Promise<readonly string[]>;
  run(ctx: StepContext): Promise<StepResult>;
  dryRun(ctx: StepContext): Promise<DryRunPlan>;
}

/** A step that cannot go on (bad input, a dependency missing): reported like a failed verdict. */
export class StepError extends Error {
  constructor(
    message: string,
    readonly fix: readonly string[] = [],
  ) {
    super(message);
    this.name = 'StepError';
  }
}

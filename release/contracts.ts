/**
 * The interfaces the release workflow's three commands share: `validate` writes a ValidationReport,
 * `stack` describes what it brought up as a StackState, and `pipeline` consumes both. Kept in one file so
 * the three can be built side by side and checked against each other by the compiler.
 */

export type Environment = 'staging' | 'production';

/** The check groups of `validate`, also the names `--only` and `--skip` take. */
export const CHECK_GROUPS = [
  'health',
  'latency',
  'load',
  'security',
  'cache',
  'resources',
  'monitoring',
] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

export type Verdict = 'pass' | 'fail' | 'skip';

/** One named gate: what was measured, against what, and what a person should do about it. */
export interface CheckResult {
  /** Stable dotted id, e.g. `health.readyz`, `load.throughput`, `security.sqli`. */
  readonly name: string;
  readonly group: CheckGroup;
  readonly verdict: Verdict;
  /** Human-readable threshold, e.g. `< 50 ms`, `>= 90 %`. */
  readonly threshold: string;
  /** The measured value (null when skipped or not measurable). */
  readonly measured: number | string | boolean | null;
  readonly unit?: string;
  /** One line a person can act on; for a skip, the reason. */
  readonly message: string;
  readonly durationMs: number;
  readonly details?: unknown;
}

/** What `validate --report FILE` writes (JSON), and what `pipeline` reads back. */
export interface ValidationReport {
  readonly schema: 'acgs.validate/v1';
  readonly environment: Environment;
  readonly target: string;
  readonly adminUrl: string | null;
  readonly replicas: readonly string[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** True when no check failed (skips do not fail a run). */
  readonly passed: boolean;
  /** True when Ctrl-C stopped the run; the report then holds what was measured so far. */
  readonly interrupted: boolean;
  readonly checks: readonly CheckResult[];
  /** Node version, cores, options the run was given: enough to reproduce it. */
  readonly context: Record<string, unknown>;
}

export type StackDriver = 'local' | 'compose';

/** One process or container the stack started. */
export interface StackComponent {
  readonly name: string;
  readonly kind: 'redis' | 'gateway' | 'nginx' | 'prometheus' | 'alertmanager' | 'service' | 'postgres';
  /** Process id for the local driver; null for compose containers. */
  readonly pid: number | null;
  /** Where it answers, e.g. http://127.0.0.1:18080 */
  readonly url: string | null;
  readonly log: string | null;
}

/** What `stack up` leaves in var/stack/<environment>/state.json and returns to `pipeline`. */
export interface StackState {
  readonly schema: 'acgs.stack/v1';
  readonly environment: Environment;
  readonly driver: StackDriver;
  readonly startedAt: string;
  /** The public entry point (nginx). */
  readonly target: string;
  /** Admin plane of each gateway replica. */
  readonly adminUrls: readonly string[];
  /** Data plane of each gateway replica, bypassing nginx. */
  readonly replicas: readonly string[];
  readonly prometheus: string | null;
  readonly alertmanager: string | null;
  readonly redisUrl: string;
  /** Admin token the replicas accept (the local driver generates one; compose reads the secret). */
  readonly adminToken: string | null;
  readonly components: readonly StackComponent[];
}

// What every check group receives: the options, the criteria, credentials, the services under test,
// a stop signal (Ctrl-C) and the progress view. Built once by the runner.
import type { CheckGroup, CheckResult, Verdict } from '../contracts.js';
import type { Criteria } from './criteria.js';
import type { TokenSource } from './identities.js';
import type { ValidateOptions } from './options.js';
import type { Progress } from './progress.js';

export interface ServiceRoute {
  readonly name: string;
  /** Path prefix on the data plane, e.g. /api/ac/ */
  readonly prefix: string;
}

export interface RunContext {
  readonly options: ValidateOptions;
  readonly criteria: Criteria;
  readonly adminToken: string | undefined;
  readonly signer: TokenSource | null;
  readonly tokens: readonly string[] | null;
  readonly services: readonly ServiceRoute[];
  readonly signal: AbortSignal;
  readonly progress: Progress;
  /** Effective load settings (options over criteria). */
  readonly load: { readonly users: number; readonly durationMs: number; readonly maxRps: number };
}

/** The five ACGS services, assumed when no admin plane tells us the routes. */
export const DEFAULT_SERVICES: readonly ServiceRoute[] = ['ac', 'integrity', 'fv', 'gs', 'pgc'].map(
  (name) => ({
    name,
    prefix: `/api/${name}/`,
  }),
);

/** Builds CheckResults of one group, timing each from when the group began or the last result. */
export class CheckRecorder {
  readonly results: CheckResult[] = [];
  #last = performance.now();

  constructor(readonly group: CheckGroup) {}

  add(
    name: string,
    verdict: Verdict,
    fields: {
      threshold: string;
      measured: number | string | boolean | null;
      unit?: string;
      message: string;
      details?: unknown;
    },
  ): CheckResult {
    const now = performance.now();
    const result: CheckResult = {
      name: `${this.group}.${name}`,
      group: this.group,
      verdict,
      threshold: fields.threshold,
      measured: fields.measured,
      ...(fields.unit === undefined ? {} : { unit: fields.unit }),
      message: fields.message,
      durationMs: Math.round(now - this.#last),
      ...(fields.details === undefined ? {} : { details: fields.details }),
    };
    this.#last = now;
    this.results.push(result);
    return result;
  }

  skip(name: string, threshold: string, reason: string): CheckResult {
    return this.add(name, 'skip', { threshold, measured: null, message: reason });
  }
}

export const pct = (share: number | null, digits = 2) =>
  share === null || Number.isNaN(share) ? 'n/a' : `${(share * 100).toFixed(digits)} %`;
export const ms = (value: number | null) =>
  value === null || Number.isNaN(value) ? 'n/a' : `${value.toFixed(1)} ms`;
/** Rounds for the report: measured values keep 4 significant decimals, not float noise. */
export const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

import { z } from 'zod';
import { duration } from '../core/duration.js';
import type { Thresholds } from './analysis.js';
import { InvalidRolloutParamsError } from './errors.js';

/** Everything one rollout runs with, fully resolved (defaults applied, validated). */
export interface RolloutParams {
  /** Candidate weights in %, strictly increasing, ending at 100. */
  readonly steps: readonly number[];
  /** How long each step is held before it is analysed. */
  readonly intervalMs: number;
  readonly thresholds: Thresholds;
  /** Consecutive failed analyses that roll back. */
  readonly failureLimit: number;
  /** Consecutive inconclusive analyses that hold the step; one more pauses the rollout. */
  readonly maxInconclusive: number;
}

export const DEFAULT_PARAMS: RolloutParams = Object.freeze({
  steps: Object.freeze([10, 25, 50, 100]),
  intervalMs: 30_000,
  thresholds: Object.freeze({ maxErrorRate: 0.01, maxP99Ms: 50, minRequests: 20 }),
  failureLimit: 1,
  maxInconclusive: 10,
});

export const MIN_INTERVAL_MS = 1000;

// Field schemas shared by the YAML defaults (config.ts) and the admin request body, so both accept and
// refuse the same values with the same words.
export const fields = {
  steps: z
    .array(z.number().int('each step must be a whole percentage').min(1).max(100), {
      message: 'must be a list of percentages',
    })
    .min(1, 'must list at least one step')
    .max(20, 'must list at most 20 steps')
    .refine(
      (steps) => steps.every((step, i) => i === 0 || step > steps[i - 1]!),
      'must be strictly increasing',
    )
    .refine((steps) => steps[steps.length - 1] === 100, 'must end at 100'),
  intervalMs: duration(MIN_INTERVAL_MS).refine((ms) => ms <= 86_400_000, 'must be at most 24h'),
  maxErrorRate: z.number().min(0).max(1),
  maxP99Ms: z.number().positive().max(600_000),
  maxP99Ratio: z.number().positive().max(1000),
  minRequests: z.number().int().min(1).max(10_000_000),
  failureLimit: z.number().int().min(1).max(1000),
  maxInconclusive: z.number().int().min(0).max(10_000),
};

/** Body of POST /admin/services/:name/rollout; every field falls back to the configured defaults. */
export const rolloutRequestSchema = z.strictObject({
  steps: fields.steps.optional(),
  /** '30s', '500ms', '2m' or milliseconds. */
  interval: fields.intervalMs.optional(),
  intervalMs: fields.intervalMs.optional(),
  thresholds: z
    .strictObject({
      maxErrorRate: fields.maxErrorRate.optional(),
      maxP99Ms: fields.maxP99Ms.optional(),
      maxP99Ratio: fields.maxP99Ratio.nullable().optional(),
      minRequests: fields.minRequests.optional(),
    })
    .optional(),
  failureLimit: fields.failureLimit.optional(),
  maxInconclusive: fields.maxInconclusive.optional(),
});

export type RolloutRequest = z.input<typeof rolloutRequestSchema>;

/** 'steps: must end at 100; thresholds.maxErrorRate: Too big…' — every problem, each with its field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** Applies defaults to a request body. Throws InvalidRolloutParamsError naming every bad field. */
export function resolveParams(body: unknown, defaults: RolloutParams = DEFAULT_PARAMS): RolloutParams {
  const parsed = rolloutRequestSchema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new InvalidRolloutParamsError(`invalid rollout parameters: ${describeIssues(parsed.error)}`);
  }
  const req = parsed.data;
  if (req.interval !== undefined && req.intervalMs !== undefined && req.interval !== req.intervalMs) {
    throw new InvalidRolloutParamsError('invalid rollout parameters: give interval or intervalMs, not both');
  }
  const t = req.thresholds ?? {};
  const ratio = t.maxP99Ratio === null ? undefined : (t.maxP99Ratio ?? defaults.thresholds.maxP99Ratio);
  return {
    steps: req.steps ?? defaults.steps,
    intervalMs: req.intervalMs ?? req.interval ?? defaults.intervalMs,
    thresholds: {
      maxErrorRate: t.maxErrorRate ?? defaults.thresholds.maxErrorRate,
      maxP99Ms: t.maxP99Ms ?? defaults.thresholds.maxP99Ms,
      ...(ratio === undefined ? {} : { maxP99Ratio: ratio }),
      minRequests: t.minRequests ?? defaults.thresholds.minRequests,
    },
    failureLimit: req.failureLimit ?? defaults.failureLimit,
    maxInconclusive: req.maxInconclusive ?? defaults.maxInconclusive,
  };
}

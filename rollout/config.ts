import { z } from 'zod';
import { duration } from '../core/duration.js';
import { DEFAULT_PARAMS, fields, type RolloutParams } from './params.js';

// The `rollout:` section of gateway.yaml. Plugs into the gateway's config schema as
// `rollout: rolloutConfigSchema`; every field has a default, so the section may be left out.

const d = DEFAULT_PARAMS;

export const rolloutConfigSchema = z
  .strictObject({
    /** What a rollout runs with when the start request leaves a field out. */
    defaults: z
      .strictObject({
        steps: fields.steps.default([...d.steps]),
        intervalMs: fields.intervalMs.default(d.intervalMs),
        maxErrorRate: fields.maxErrorRate.default(d.thresholds.maxErrorRate),
        maxP99Ms: fields.maxP99Ms.default(d.thresholds.maxP99Ms),
        maxP99Ratio: fields.maxP99Ratio.optional(),
        minRequests: fields.minRequests.default(d.thresholds.minRequests),
        failureLimit: fields.failureLimit.default(d.failureLimit),
        maxInconclusive: fields.maxInconclusive.default(d.maxInconclusive),
      })
      .prefault({}),
    /** Leader lease in Redis: a dead leader is replaced within this time. */
    leaseTtlMs: duration(300).default(10_000),
    /** How often each replica adds its new window seconds into Redis. */
    flushIntervalMs: duration(50).default(1000),
    /** Periodic re-read of the weights that heals a missed pub/sub message. */
    weightRereadMs: duration(50).default(1000),
    /** The controller's tick: how soon after an interval ends the analysis runs. */
    tickMs: duration(10).default(250),
    /** Length of the live windows; analyses read at most this many seconds of an interval. */
    windowSeconds: z.number().int().min(10).max(3600).default(120),
  })
  .prefault({});

export type RolloutConfig = z.output<typeof rolloutConfigSchema>;

/** The defaults of the config section as the params every rollout starts from. */
export function defaultParams(config: RolloutConfig): RolloutParams {
  const c = config.defaults;
  return {
    steps: c.steps,
    intervalMs: c.intervalMs,
    thresholds: {
      maxErrorRate: c.maxErrorRate,
      maxP99Ms: c.maxP99Ms,
      ...(c.maxP99Ratio === undefined ? {} : { maxP99Ratio: c.maxP99Ratio }),
      minRequests: c.minRequests,
    },
    failureLimit: c.failureLimit,
    maxInconclusive: c.maxInconclusive,
  };
}

// The `screening:` section of gateway.yaml, validated once at start (unknown fields are errors).
import { z } from 'zod';
import { duration } from '../../core/duration.js';

/** The ruleset shipped with the gateway, relative to the package root. */
export const DEFAULT_RULES = 'policies/screening-rules.json';

export const screeningConfigSchema = z.strictObject({
  /**
   * On by default, as the Rego screening it replaces was: it runs whenever a policy is configured (the
   * policy decides on its findings; without one there is nobody to decide).
   */
  enabled: z.boolean().default(true),
  /** The ruleset (JSON or YAML); relative paths are relative to the configuration file. */
  rules: z.string().min(1).default(DEFAULT_RULES),
  /** JSON and form bodies up to this size are read, inspected and forwarded as read; larger ones stream. */
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  /**
   * libddwaf's time budget for one request, in microseconds (the engine checks it between rules). A
   * request costs about 50–100 µs; the budget is wall-clock, so it is generous enough that only a
   * stalled process (descheduled, a long GC pause) runs out of it.
   */
  budgetUs: z.number().int().min(100).max(1_000_000).default(20_000),
  /**
   * Time allowed to receive a body the stage reads; a slower client gets 408. The server's
   * requestTimeout still bounds the whole request.
   */
  bodyTimeout: duration(1).default(10_000),
  /**
   * A request whose screening ran out of its budget: `open` (default) lets the policy decide on what was
   * found (input.screening.timed_out is true); `closed` refuses it with 503 before the policy. Open by
   * default because a large JSON body on a loaded replica can exceed even a generous budget, and 503s
   * for ordinary uploads are the worse failure; deployments that prefer refusals set `closed`.
   */
  failMode: z.enum(['open', 'closed']).default('open'),
  /**
   * Values per target remembered as clean after an inspection found nothing in them (two generations of
   * this many, values up to 256 characters); a request made only of known values skips the engine. Sound
   * because every rule looks at one value at a time; a rules swap forgets them all. 0 turns it off.
   */
  cleanValues: z.number().int().min(0).max(1_000_000).default(4096),
});

export type ScreeningConfig = z.output<typeof screeningConfigSchema>;

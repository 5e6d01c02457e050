// The `policy:` section of gateway.yaml and its environment overrides, validated once at start. The
// only place the policy code reads the environment (through the `env` argument).
import { z } from 'zod';
import { DEFAULT_MAX_MEMORY_PAGES } from './manager.js';

export const DEFAULT_BUNDLE = 'policies/build/bundle.tar.gz';

export const policyConfigSchema = z.strictObject({
  /** A file path or an http(s) URL. */
  bundle: z.string().min(1).default(DEFAULT_BUNDLE),
  pollIntervalMs: z.number().int().min(1000).max(86_400_000).default(30_000),
  pollJitter: z.number().min(0).max(1).default(0.1),
  /** PEM public key; bundles must then be signed by it. Usually from POLICY_VERIFICATION_KEY. */
  verificationKey: z
    .string()
    .refine((s) => s.includes('-----BEGIN'), 'must be a PEM public key')
    .optional(),
  /** 64 KiB pages; an instance that grew past it is replaced. */
  maxMemoryPages: z.number().int().min(8).max(65_536).default(DEFAULT_MAX_MEMORY_PAGES),
  decisionLog: z
    .strictObject({
      enabled: z.boolean().default(false),
      sampleRate: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
});

export type PolicyConfig = z.infer<typeof policyConfigSchema>;

/**
 * The file section with the environment on top: POLICY_BUNDLE, POLICY_POLL_INTERVAL_MS,
 * POLICY_VERIFICATION_KEY (PEM; "\n" escapes allowed for one-line env files), POLICY_MAX_MEMORY_PAGES,
 * POLICY_DECISION_LOG (true|false), POLICY_DECISION_LOG_SAMPLE_RATE. Throws a ZodError listing every problem.
 */
export function policyConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  fileConfig: unknown,
): PolicyConfig {
  // `policy: 5` or `policy: "x"` is a mistake, not an empty section: the schema names it at `policy`
  // (spreading it would silently give the defaults, or "unknown field(s) 0, 1, 2" for a string).
  if (
    fileConfig !== undefined &&
    fileConfig !== null &&
    (typeof fileConfig !== 'object' || Array.isArray(fileConfig))
  ) {
    return policyConfigSchema.parse(fileConfig);
  }
  const base = (fileConfig ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base };
  if (env.POLICY_BUNDLE) merged.bundle = env.POLICY_BUNDLE;
  if (env.POLICY_POLL_INTERVAL_MS) merged.pollIntervalMs = Number(env.POLICY_POLL_INTERVAL_MS);
  if (env.POLICY_VERIFICATION_KEY) merged.verificationKey = env.POLICY_VERIFICATION_KEY.replace(/\\n/g, '\n');
  if (env.POLICY_MAX_MEMORY_PAGES) merged.maxMemoryPages = Number(env.POLICY_MAX_MEMORY_PAGES);
  if (env.POLICY_DECISION_LOG !== undefined || env.POLICY_DECISION_LOG_SAMPLE_RATE !== undefined) {
    const log = { ...((base.decisionLog as Record<string, unknown> | undefined) ?? {}) };
    if (env.POLICY_DECISION_LOG !== undefined)
      log.enabled = /^(1|true|yes|on)$/i.test(env.POLICY_DECISION_LOG);
    if (env.POLICY_DECISION_LOG_SAMPLE_RATE !== undefined)
      log.sampleRate = Number(env.POLICY_DECISION_LOG_SAMPLE_RATE);
    merged.decisionLog = log;
  }
  return policyConfigSchema.parse(merged);
}

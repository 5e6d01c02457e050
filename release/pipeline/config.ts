import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { duration } from '../../core/duration.js';
import { ConfigError, formatIssues } from '../../gateway/config/errors.js';
import { fields as rolloutFields } from '../../rollout/params.js';
import type { Environment } from '../contracts.js';

// The `pipeline:` section of a config file: per environment, what the release steps run with. Every field
// has a default, so a file without the section (or no file) gives the seed's production requirements.

const requirementsSchema = z.strictObject({
  cpus: z.number().int().min(1),
  memoryGb: z.number().positive(),
  diskGb: z.number().positive(),
  /** Filesystem whose free space is checked (Docker's data root on a real host). */
  diskPath: z.string().default('/'),
  fdLimit: z.number().int().min(1),
  somaxconn: z.number().int().min(1),
  /** The ephemeral port range must span at least this many ports (outgoing connections to upstreams). */
  localPortRangeSpan: z.number().int().min(1),
  fileMax: z.number().int().min(1),
});

const rolloutSchema = z.strictObject({
  steps: rolloutFields.steps.default([10, 25, 50, 100]),
  interval: z.string().default('30s'),
  thresholds: z
    .strictObject({
      maxErrorRate: rolloutFields.maxErrorRate.optional(),
      maxP99Ms: rolloutFields.maxP99Ms.optional(),
      maxP99Ratio: rolloutFields.maxP99Ratio.optional(),
      minRequests: rolloutFields.minRequests.optional(),
    })
    .default({}),
  failureLimit: rolloutFields.failureLimit.optional(),
  maxInconclusive: rolloutFields.maxInconclusive.optional(),
  /** How long one service's rollout may take before the step gives up (and pauses it). */
  timeout: duration(1000).default(3_600_000),
});

const environmentSchema = z.strictObject({
  /** Public entry point (nginx); default: the stack's target from var/stack/<environment>/state.json. */
  target: z.string().url().optional(),
  /** Admin planes of the replicas; default: the stack's. */
  adminUrls: z.array(z.string().url()).optional(),
  replicas: z.number().int().min(1).max(16).optional(),
  load: z
    .strictObject({
      users: z.number().int().min(1).default(100),
      duration: z.string().default('30s'),
    })
    .prefault({}),
  /** Passed to every `validate` run (e.g. a shorter latency sample in tests). */
  validate: z
    .strictObject({
      duration: z.string().optional(),
      extraArgs: z.array(z.string()).default([]),
    })
    .prefault({}),
  /** The stack's Prometheus: how often it scrapes (local driver), how long deployment waits for it. */
  monitoring: z
    .strictObject({
      scrapeInterval: z.string().optional(),
      /** staging_deployment waits until Prometheus scrapes every replica (up == 1), at most this long. */
      waitTimeout: duration(0).default(60_000),
    })
    .prefault({}),
  security: z.strictObject({ minScore: z.number().min(0).max(100).default(90) }).prefault({}),
  rollout: rolloutSchema.prefault({}),
  requirements: requirementsSchema,
  hosts: z.array(z.string().min(1)).default([]),
  secretsDir: z.string().default('docker/secrets'),
  /** Files the secrets directory must hold (names, without the directory). */
  requiredSecrets: z.array(z.string().min(1)).default([]),
  tls: z
    .strictObject({
      cert: z.string().default('docker/nginx/certs/fullchain.pem'),
      key: z.string().default('docker/nginx/certs/privkey.pem'),
      minValidDays: z.number().min(0).default(14),
    })
    .prefault({}),
  /** Ports that listen on a non-loopback address; null skips the check (a laptop, CI). */
  publishedPorts: z.array(z.number().int().min(1).max(65535)).nullable().default([80, 443]),
});

const ENV_DEFAULTS = {
  staging: {
    requirements: {
      cpus: 2,
      memoryGb: 4,
      diskGb: 20,
      fdLimit: 16_384,
      somaxconn: 1024,
      localPortRangeSpan: 16_000,
      fileMax: 262_144,
    },
    requiredSecrets: [] as string[],
    // A staging stack on a laptop or CI publishes nothing on purpose.
    publishedPorts: null,
    hosts: ['staging.acgs.local'],
  },
  production: {
    // The seed's production host: 8 CPU / 16 GB / 100 GB.
    requirements: {
      cpus: 8,
      memoryGb: 16,
      diskGb: 100,
      fdLimit: 65_536,
      somaxconn: 4096,
      localPortRangeSpan: 28_000,
      fileMax: 1_048_576,
    },
    requiredSecrets: ['jwt_secret', 'redis_password', 'admin_token', 'prometheus_admin_token'],
    publishedPorts: [80, 443],
    hosts: [] as string[],
  },
} as const;

export const pipelineConfigSchema = z.strictObject({
  staging: environmentSchema,
  production: environmentSchema,
});

export type PipelineConfig = z.output<typeof pipelineConfigSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type Requirements = z.output<typeof requirementsSchema>;

/**
 * Each environment's own defaults go under what the file says (and partial requirements are merged
 * field by field), so `production: { requirements: { cpus: 2 } }` relaxes one number and keeps the rest.
 */
function withEnvironmentDefaults(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const doc: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const env of ['staging', 'production'] as const) {
    const defaults = ENV_DEFAULTS[env];
    const section = doc[env] ?? {};
    if (section === null || typeof section !== 'object' || Array.isArray(section)) continue;
    const s = section as Record<string, unknown>;
    const req = s.requirements;
    doc[env] = {
      ...defaults,
      ...s,
      requirements:
        req === undefined
          ? defaults.requirements
          : req && typeof req === 'object'
            ? { ...defaults.requirements, ...req }
            : req,
    };
  }
  return doc;
}

/** Validates a `pipeline:` section (undefined: every default). Throws ConfigError listing every problem. */
export function parsePipelineConfig(section: unknown, source = '(pipeline config)'): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(withEnvironmentDefaults(section ?? {}));
  if (!result.success) throw new ConfigError(source, formatIssues(result.error.issues, 'pipeline'));
  return result.data;
}

/** Reads the `pipeline:` section of a YAML config file; no file gives every default. */
export async function loadPipelineConfig(file?: string): Promise<PipelineConfig> {
  if (file === undefined) return parsePipelineConfig(undefined);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  const section = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).pipeline : undefined;
  return parsePipelineConfig(section, file);
}

export function environmentConfig(config: PipelineConfig, environment: Environment): EnvironmentConfig {
  return config[environment];
}

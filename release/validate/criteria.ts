// The success criteria a release is held to: the issue's table as defaults, overridable per environment
// from the `validation:` section of the gateway configuration or a criteria file (`--criteria`).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { duration } from '../../core/duration.js';
import { formatIssues } from '../../gateway/config/errors.js';
import type { Environment } from '../contracts.js';

const share = z.number().min(0).max(1);

/** Every field has a default, so `{}` is the issue's table. */
export const criteriaSchema = z.strictObject({
  health: z
    .strictObject({
      /** How long health checks retry (with backoff) before they give up: a fresh stack needs a moment. */
      deadline: duration(0).default(60_000),
    })
    .prefault({}),
  latency: z
    .strictObject({
      /** p99 of the gateway's own policy decision histogram, in ms. */
      decisionP99Ms: z.number().positive().default(50),
      /** Optional end-to-end p99 limit; null: reported only. */
      endToEndP99Ms: z.number().positive().nullable().default(null),
      samplesPerService: z.int().min(1).max(1000).default(20),
    })
    .prefault({}),
  load: z
    .strictObject({
      users: z.int().min(1).default(100),
      minUsers: z.int().min(1).default(100),
      duration: duration(1000).default(60_000),
      minRps: z.number().positive().default(100),
      /** Validate's own cap on its request rate, so it never hammers a target. */
      maxRps: z.number().positive().default(250),
      maxErrorRate: share.default(0.01),
      minAvailability: share.default(0.999),
      /** A share of 429s above this in the first seconds stops the load: the limits make it meaningless. */
      max429Rate: share.default(0.05),
    })
    .prefault({}),
  security: z
    .strictObject({
      minScore: share.default(0.9),
      minCategoryScore: share.default(0.9),
      /** Most requests the rate-limit probe sends to meet a 429. */
      maxBurst: z.int().min(1).default(8000),
    })
    .prefault({}),
  cache: z.strictObject({ minHitRate: share.default(0.8) }).prefault({}),
  resources: z
    .strictObject({
      /** Share of one core (a Node.js process runs JavaScript on one). */
      maxCpu: share.default(0.8),
      maxMemory: share.default(0.85),
      /** The replica's memory limit (container limit); without it the V8 heap limit is the reference. */
      memoryLimitBytes: z.int().positive().nullable().default(null),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      /** Prometheus job that scrapes the replicas. */
      job: z.string().min(1).default('acgs-gateway'),
      /** Rule groups whose name starts with this are the project's rules. */
      ruleGroupPrefix: z.string().min(1).default('acgs-gateway'),
      /** Alerts that may fire without failing the run (e.g. a Watchdog). */
      allowedAlerts: z.array(z.string()).default(['Watchdog']),
    })
    .prefault({}),
});

export type Criteria = z.output<typeof criteriaSchema>;

/** Deep-partial criteria: what a section may override. */
type Override = Record<string, unknown>;

/** The `validation:` section: shared overrides plus `staging:` / `production:` ones (these win). */
const sectionSchema = z.record(z.string(), z.unknown());

export class CriteriaError extends Error {}

function merge(base: Override, over: Override): Override {
  const out: Override = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      b && typeof b === 'object' && !Array.isArray(b) && v && typeof v === 'object' && !Array.isArray(v)
        ? merge(b as Override, v as Override)
        : v;
  }
  return out;
}

/** Resolves the criteria of one environment from a `validation:` section (or nothing: the defaults). */
export function resolveCriteria(section: unknown, environment: Environment, source = 'validation'): Criteria {
  const parsed = sectionSchema.safeParse(section ?? {});
  if (!parsed.success) throw new CriteriaError(`${source}: must be a mapping`);
  const { staging, production, ...shared } = parsed.data;
  const own = environment === 'staging' ? staging : production;
  for (const [name, value] of [
    ['staging', staging],
    ['production', production],
  ] as const) {
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
      throw new CriteriaError(`${source}.${name}: must be a mapping`);
  }
  // Both environments are validated, so a typo in the one not run today is still reported.
  const other = environment === 'staging' ? production : staging;
  const check = (doc: Override, prefix: string) => {
    const result = criteriaSchema.safeParse(doc);
    if (!result.success) throw new CriteriaError(formatIssues(result.error.issues, prefix).join('\n'));
    return result.data;
  };
  if (other !== undefined)
    check(
      merge(shared, other as Override),
      `${source}.${environment === 'staging' ? 'production' : 'staging'}`,
    );
  return check(
    merge(shared, (own ?? {}) as Override),
    own === undefined ? source : `${source}.${environment}`,
  );
}

/**
 * Reads the criteria: `--criteria FILE` (the file is the `validation:` section itself, or a document that
 * has one) wins over `--config FILE` (the gateway configuration's `validation:` section).
 */
export async function loadCriteria(
  options: { criteriaFile?: string | undefined; configFile?: string | undefined },
  environment: Environment,
): Promise<{ criteria: Criteria; source: string }> {
  const file = options.criteriaFile ?? options.configFile;
  if (file === undefined) return { criteria: resolveCriteria({}, environment), source: 'defaults' };
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, 'utf8'));
  } catch (error) {
    throw new CriteriaError(`cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  const record = (doc ?? {}) as Record<string, unknown>;
  const section =
    options.criteriaFile !== undefined && !('validation' in record) ? record : (record.validation ?? {});
  return { criteria: resolveCriteria(section, environment, `${file}: validation`), source: file };
}

import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuditInput } from '../admin/audit-log.js';
import type { ResolvedConfig } from '../config/load.js';
import { DEFAULT_RULES, provisionScreening, type ScreeningModule } from '../screening/index.js';
import { PACKAGE_ROOT } from '../util/package-root.js';

export interface ScreeningAudit {
  append(entry: AuditInput): Promise<unknown>;
}

/** The shipped ruleset by default; another relative path is relative to the configuration file. */
export function rulesPath(config: ResolvedConfig): string {
  const rules = config.screening.rules;
  if (isAbsolute(rules)) return rules;
  if (rules === DEFAULT_RULES) return join(PACKAGE_ROOT, DEFAULT_RULES);
  return resolve(config.source === '(inline)' ? process.cwd() : dirname(config.source), rules);
}

export function wireScreening(
  config: ResolvedConfig,
  registry: Registry,
  logger: Logger,
  audit: ScreeningAudit | null,
): Promise<ScreeningModule> {
  return provisionScreening({
    config: { ...config.screening, rules: rulesPath(config) },
    registry,
    logger: logger.child({ stage: 'screening' }),
    audit: async (entry) => void (await audit?.append(entry)),
  });
}

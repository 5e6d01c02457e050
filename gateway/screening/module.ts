import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import type { StageModule } from '../pipeline/stage-module.js';
import { PACKAGE_ROOT } from '../util/package-root.js';
import { DEFAULT_RULES, provisionScreening } from './index.js';

/** The shipped ruleset by default; another relative path is relative to the configuration file. */
export function rulesPath(config: ResolvedConfig): string {
  const rules = config.screening.rules;
  if (isAbsolute(rules)) return rules;
  if (rules === DEFAULT_RULES) return join(PACKAGE_ROOT, DEFAULT_RULES);
  return resolve(config.source === '(inline)' ? process.cwd() : dirname(config.source), rules);
}

export const screeningModule: StageModule = {
  id: 'screening',
  summary: 'injection screening (libddwaf: libinjection plus the project rules); the policy decides on it',
  // Its findings mean something only to a policy that decides on them.
  enabled: (config) => config.screening.enabled && config.policy !== null,
  async provision({ config, registry, logger, audit }) {
    const screening = await provisionScreening({
      config: { ...config.screening, rules: rulesPath(config) },
      registry,
      logger: logger.child({ stage: 'screening' }),
      audit: async (entry) => void (await audit.append(entry)),
    });
    return {
      stage: screening.stage,
      readiness: screening.readiness,
      close: () => screening.close(),
      adminRoutes: (admin) => screening.registerRoutes(admin),
    };
  },
};

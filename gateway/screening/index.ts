// The screening module's one entry point, for the data-plane module table: provision → { stage,
// readiness, close, registerRoutes }.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Stage } from '../../core/types.js';
import { registerScreeningRoutes, type ScreeningAuditEntry } from './admin-routes.js';
import type { ScreeningConfig } from './config.js';
import { ScreeningEngine } from './engine.js';
import { exportCleanValueCounts, screeningMetrics } from './metrics.js';
import { describe, loadRulesetFile, RulesetError } from './ruleset-loader.js';
import { ScreeningRuntime } from './runtime.js';
import { createScreeningStage } from './stage.js';

export { registerScreeningRoutes } from './admin-routes.js';
export { DEFAULT_RULES, type ScreeningConfig, screeningConfigSchema } from './config.js';
export { RulesetError } from './ruleset-loader.js';

export interface ScreeningDeps {
  /** With `rules` already resolved to a path. */
  readonly config: ScreeningConfig;
  readonly registry: Registry;
  readonly logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  readonly audit: (entry: ScreeningAuditEntry) => Promise<void>;
}

export interface ScreeningModule {
  readonly stage: Stage;
  readonly runtime: ScreeningRuntime;
  /** Always ready once provisioned: a gateway whose ruleset does not load does not start. */
  readiness(): string | null;
  close(): Promise<void>;
  registerRoutes(admin: FastifyInstance): void;
}

/**
 * Loads the ruleset (a broken one stops the start with its diagnostics: screening that silently does
 * nothing is worse than a gateway that refuses to start) and builds the stage.
 */
export async function provisionScreening(deps: ScreeningDeps): Promise<ScreeningModule> {
  let loaded: Awaited<ReturnType<typeof loadRulesetFile>>;
  try {
    loaded = await loadRulesetFile(deps.config.rules);
  } catch (err) {
    if (err instanceof RulesetError)
      throw new Error(`screening ruleset ${deps.config.rules}: ${err.diagnostics.map(describe).join('; ')}`);
    throw err;
  }
  const metrics = screeningMetrics(deps.registry);
  const engine = new ScreeningEngine(loaded, { cleanValues: deps.config.cleanValues });
  exportCleanValueCounts(metrics, () => engine.cleanValues);
  const runtime = new ScreeningRuntime(engine, metrics, deps.logger, deps.config.rules);
  deps.logger.info(
    { revision: loaded.revision, rules: loaded.ruleset.rules.length, categories: loaded.categories },
    'screening ruleset loaded',
  );
  return {
    stage: createScreeningStage({ config: deps.config, engine, metrics }),
    runtime,
    readiness: () => null,
    close: async () => engine.close(),
    registerRoutes: (admin) => registerScreeningRoutes(admin, { runtime, audit: deps.audit }),
  };
}

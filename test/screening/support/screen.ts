// Runs the real screening stage (shipped ruleset) on a request context, as the pipeline does before the
// policy: for policy tests that must decide on real findings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { RequestContext } from '../../../core/types.js';
import { screeningConfigSchema } from '../../../gateway/screening/config.js';
import { ScreeningEngine } from '../../../gateway/screening/engine.js';
import { screeningMetrics } from '../../../gateway/screening/metrics.js';
import { buildRuleset } from '../../../gateway/screening/ruleset-loader.js';
import { createScreeningStage } from '../../../gateway/screening/stage.js';
import { PACKAGE_ROOT } from '../../../gateway/util/package-root.js';

let stage: ReturnType<typeof createScreeningStage> | null = null;

export function screen<T extends RequestContext>(ctx: T): T {
  stage ??= createScreeningStage({
    config: screeningConfigSchema.parse({ enabled: true, budgetUs: 1_000_000 }),
    engine: new ScreeningEngine(
      buildRuleset(readFileSync(join(PACKAGE_ROOT, 'policies/screening-rules.json'), 'utf8')),
    ),
    metrics: screeningMetrics(new Registry()),
  });
  stage.run(ctx);
  return ctx;
}

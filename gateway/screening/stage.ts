// The screening stage: runs libddwaf over everything the request carries and records what matched in
// ctx.screening; the policy stage after it decides (this stage only refuses what it cannot screen).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RequestContext, ScreeningFindings, Stage } from '../../core/types.js';
import { bodyVerdict } from './body-kind.js';
import { readBody } from './body-reader.js';
import type { ScreeningConfig } from './config.js';
import type { ScreeningEngine } from './engine.js';
import type { ScreeningMetrics } from './metrics.js';
import { formLeaves, jsonLeaves, type RequestLeaves, requestLeaves, textLeaves } from './targets.js';

export interface ScreeningStageOptions {
  readonly config: ScreeningConfig;
  readonly engine: ScreeningEngine;
  readonly metrics: ScreeningMetrics;
}

export function createScreeningStage(opts: ScreeningStageOptions): Stage {
  const { config, engine, metrics } = opts;
  const skipped = Object.fromEntries(
    ['too_large', 'content_type', 'encoding', 'unknown_length', 'timeout', 'truncated'].map((r) => [
      r,
      metrics.skipped.labels({ reason: r }),
    ]),
  );

  const inspect = (
    ctx: RequestContext,
    leaves: RequestLeaves,
    bodyInspected: boolean,
    bodySkipped: string | null,
  ) => {
    const started = process.hrtime.bigint();
    const result = engine.inspect(leaves, config.budgetUs);
    const findings: ScreeningFindings = {
      matches: result.matches,
      bodyInspected,
      bodySkipped,
      timedOut: result.timedOut,
      truncated: result.truncated,
    };
    ctx.screening = findings;
    metrics.seconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    for (const m of result.matches) metrics.matches.labels({ category: m.category, rule: m.rule }).inc();
    if (result.truncated) skipped.truncated!.inc();
    if (result.timedOut) {
      skipped.timeout!.inc();
      if (config.failMode === 'closed') throw new GatewayError(Errors.SCREENING_INCOMPLETE);
    }
  };

  return {
    name: 'screening',
    run(ctx: RequestContext, req?: IncomingMessage, res?: ServerResponse): void | Promise<void> {
      const leaves = requestLeaves(ctx);
      const verdict = req ? bodyVerdict(req.headers, config.maxBodyBytes) : null;
      if (verdict === null) return inspect(ctx, leaves, false, null);
      if (verdict.skip !== null) {
        skipped[verdict.skip]!.inc();
        return inspect(ctx, leaves, false, verdict.skip);
      }
      return readBody(ctx, req!, res, verdict.length, config.bodyTimeout).then((body) => {
        ctx.body = body;
        // Invalid UTF-8 becomes U+FFFD here; the bytes forwarded upstream are the original ones.
        const text = body.toString('utf8');
        if (verdict.kind === 'form') formLeaves(text, leaves);
        else if (verdict.kind === 'json') {
          let doc: unknown;
          let parsed = true;
          try {
            doc = JSON.parse(text);
          } catch {
            parsed = false; // not JSON after all (or nested past V8's limit): inspected as text
          }
          if (parsed) jsonLeaves(doc, leaves);
          else textLeaves(text, leaves);
        } else textLeaves(text, leaves);
        inspect(ctx, leaves, true, null);
      });
    },
  };
}

// The OPA decision stage of the data-plane pipeline: build the input, ask the active engine, apply
// the decision (deny, response headers, override permission). Fails closed with 503 policy_error.
import type { Registry } from 'prom-client';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RequestContext, Stage } from '../../core/types.js';
import type { DecisionLogger } from './decision-log.js';
import { DECISION_ENTRYPOINT, WasmPolicyEngine } from './engine.js';
import { buildPolicyInput } from './input.js';
import { policyInputText } from './input-text.js';
import { DistinctErrorLog, type MinimalLogger } from './log-once.js';
import type { PolicyManager } from './manager.js';
import { type PolicyMetrics, policyMetrics } from './metrics.js';
import { FULL_PROJECTION } from './projection.js';

export interface PolicyStageOptions {
  readonly manager: PolicyManager;
  readonly registry: Registry;
  readonly logger: MinimalLogger;
  readonly decisionLog?: DecisionLogger;
}

const BEARER_CHALLENGE: Record<string, string> = Object.freeze({ 'www-authenticate': 'Bearer realm="acgs"' });

export function createPolicyStage(opts: PolicyStageOptions): Stage {
  const { manager, decisionLog } = opts;
  const metrics = policyMetrics(opts.registry);
  // Label children resolved once: inc() on the hot path without a label lookup.
  const allowed = metrics.decisions.labels({ result: 'allow' });
  const denied = metrics.decisions.labels({ result: 'deny' });
  const badRequest = metrics.decisions.labels({ result: 'bad_request' });
  const failed = metrics.decisions.labels({ result: 'error' });
  // Export every result from the start, so rate() and alerts see 0 rather than no series.
  for (const c of [allowed, denied, badRequest, failed]) c.inc(0);
  exportCacheCounts(manager, metrics);
  const errors = new DistinctErrorLog(opts.logger);
  manager.onSwap(() => errors.reset());

  return {
    name: 'policy',
    run(ctx: RequestContext): void {
      const started = process.hrtime.bigint();
      const engine = manager.engine;
      const projection = engine === null ? FULL_PROJECTION : engine.projection;
      const decision = manager.decideText(policyInputText(ctx, projection));
      const evalNs = Number(process.hrtime.bigint() - started);
      metrics.evaluationSeconds.observe(evalNs / 1e9);
      if (decisionLog?.sampled()) {
        // The object only for the log line: the same document as the text the engine read.
        decisionLog.log({
          requestId: ctx.id,
          path: DECISION_ENTRYPOINT,
          input: buildPolicyInput(ctx, projection),
          clientIp: ctx.clientIp,
          result: decision,
          revision: engine?.revision ?? '',
          evalNs,
          screening: ctx.screening,
        });
      }
      if (decision.error !== undefined) {
        failed.inc();
        errors.error(decision.error, { revision: engine?.revision ?? '' });
        throw new GatewayError(Errors.POLICY_ERROR);
      }
      const headers = decision.headers;
      if (headers !== undefined) {
        for (const name in headers) ctx.responseHeaders.push(name, headers[name]!);
      }
      if (!decision.allow) {
        if (decision.status === 400) {
          badRequest.inc();
          throw new GatewayError(Errors.BAD_REQUEST, decision.reason);
        }
        if (decision.status === 401) {
          // The policy says a token would help: the RFC 6750 challenge, like a route that requires one.
          denied.inc();
          throw new GatewayError(Errors.UNAUTHORIZED, decision.reason, BEARER_CHALLENGE);
        }
        denied.inc();
        throw new GatewayError(Errors.FORBIDDEN, decision.reason);
      }
      ctx.overrideAllowed = decision.allow_color_override === true;
      allowed.inc();
    },
  };
}

/**
 * The decision cache counts in plain integers on the hot path; a scrape turns them into the counter
 * (deltas since the last scrape, per engine: a swap starts a new cache from zero).
 */
function exportCacheCounts(manager: PolicyManager, metrics: PolicyMetrics): void {
  let engine: unknown = null;
  let hits = 0;
  let misses = 0;
  const hit = metrics.decisionCache.labels({ result: 'hit' });
  const miss = metrics.decisionCache.labels({ result: 'miss' });
  hit.inc(0);
  miss.inc(0);
  const sync = () => {
    const current = manager.engine;
    const cache = current instanceof WasmPolicyEngine ? current.decisionCache : null;
    if (current !== engine) {
      engine = current;
      hits = 0;
      misses = 0;
    }
    if (cache === null) {
      metrics.decisionCacheEntries.set(0);
      return;
    }
    hit.inc(cache.hits - hits);
    miss.inc(cache.misses - misses);
    hits = cache.hits;
    misses = cache.misses;
    metrics.decisionCacheEntries.set(cache.size);
  };
  // prom-client calls collect() on every scrape; both metrics read the same snapshot.
  (metrics.decisionCache as unknown as { collect?: () => void }).collect = sync;
}

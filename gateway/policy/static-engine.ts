// A PolicyEngine without wasm, for tests of the stage and the pipeline: decisions come from functions.
import type { Decision } from './decision.js';
import { ADMIN_ENTRYPOINT, DECISION_ENTRYPOINT, type PolicyEngine } from './engine.js';
import type { AdminPolicyInput, PolicyInput } from './input.js';

export interface StaticEngineOptions {
  readonly revision?: string;
  readonly decide: (input: PolicyInput) => Decision;
  readonly decideAdmin?: (input: AdminPolicyInput) => Decision;
}

export function createStaticEngine(opts: StaticEngineOptions): PolicyEngine {
  const adminDeny = (): Decision => ({ allow: false, status: 403, reason: 'no admin policy' });
  return {
    revision: opts.revision ?? 'static',
    entrypoints: [DECISION_ENTRYPOINT, ADMIN_ENTRYPOINT],
    evaluate: opts.decide,
    evaluateAdmin: opts.decideAdmin ?? adminDeny,
  } satisfies PolicyEngine;
}

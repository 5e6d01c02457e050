// A PolicyEngine without wasm, for tests of the stage and the pipeline: decisions come from functions.
import type { PolicyDecision } from '../../gateway/policy/decision.js';
import { ADMIN_ENTRYPOINT, DECISION_ENTRYPOINT, type PolicyEngine } from '../../gateway/policy/engine.js';
import type { AdminPolicyInput, PolicyInput } from '../../gateway/policy/input.js';
import { FULL_PROJECTION } from '../../gateway/policy/projection.js';

export interface StaticEngineOptions {
  readonly revision?: string;
  readonly decide: (input: PolicyInput) => PolicyDecision;
  readonly decideAdmin?: (input: AdminPolicyInput) => PolicyDecision;
}

export function createStaticEngine(opts: StaticEngineOptions): PolicyEngine {
  const adminDeny = (): PolicyDecision => ({ allow: false, status: 403, reason: 'no admin policy' });
  return {
    revision: opts.revision ?? 'static',
    entrypoints: [DECISION_ENTRYPOINT, ADMIN_ENTRYPOINT],
    projection: FULL_PROJECTION,
    // The stage builds the whole input for a full projection.
    evaluate: (input) => opts.decide(input as PolicyInput),
    evaluateText: (text) => opts.decide(JSON.parse(text) as PolicyInput),
    evaluateAdmin: opts.decideAdmin ?? adminDeny,
  } satisfies PolicyEngine;
}

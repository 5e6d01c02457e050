// The policy stage's public API, for the pipeline and admin-plane wiring.
export { createAdminAuthorizer } from './admin-authorizer.js';
export {
  POLICY_BODY_LIMIT,
  type PolicyRouteDeps,
  registerPolicyRoutes,
} from './admin-routes.js';
export { BundleError, type ParsedBundle, parseBundle } from './bundle.js';
export type { BundleFailureKind } from './bundle-error.js';
export { type PolicyConfig, policyConfigSchema } from './config.js';
export type { PolicyDecision } from './decision.js';
export { createDecisionLogger, type DecisionLogger, type DecisionLogSink } from './decision-log.js';
export {
  ADMIN_ENTRYPOINT,
  createWasmEngine,
  DECISION_ENTRYPOINT,
  type PolicyEngine,
  PolicyEvaluationError,
  WasmPolicyEngine,
} from './engine.js';
export { type AdminPolicyInput, buildPolicyInput, type PolicyInput } from './input.js';
export {
  type PolicyLoadResult,
  PolicyManager,
  type PolicyManagerOptions,
  type PolicyState,
} from './manager.js';
export { policyMetrics } from './metrics.js';
export { parseVerificationKey, type VerificationKey } from './signature.js';
export { type BundleSource, createBundleSource } from './source.js';
export { createPolicyStage, type PolicyStageOptions } from './stage.js';

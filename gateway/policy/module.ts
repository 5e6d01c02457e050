import type { StageModule } from '../pipeline/stage-module.js';
import { createAdminAuthorizer } from './admin-authorizer.js';
import { registerPolicyRoutes } from './admin-routes.js';
import { createDecisionLogger } from './decision-log.js';
import { PolicyManager } from './manager.js';
import { parseVerificationKey } from './signature.js';
import { createBundleSource } from './source.js';
import { createPolicyStage } from './stage.js';

export const policyModule: StageModule = {
  id: 'policy',
  summary: 'the OPA decision (Rego compiled to wasm, in-process), fail closed; bundles hot-swapped',
  enabled: (config) => config.policy !== null,
  async provision(deps) {
    const config = deps.config.policy!;
    const { registry, logger, audit } = deps;
    const manager = new PolicyManager({
      verificationKey: config.verificationKey ? parseVerificationKey(config.verificationKey) : undefined,
      maxMemoryPages: config.maxMemoryPages,
      decisionCacheEntries: config.decisionCache.maxEntries,
      registry,
      logger,
    });
    const source = createBundleSource({
      location: config.bundle,
      manager,
      pollIntervalMs: config.pollIntervalMs,
      pollJitter: config.pollJitter,
      logger,
    });
    // A failed first load leaves /readyz at 503 and every request failing closed until a bundle arrives.
    if (!(await source.start())) {
      logger.error(
        { bundle: config.bundle, state: manager.state() },
        'no policy bundle could be loaded: requests fail closed',
      );
    }
    const decisionLog = config.decisionLog.enabled
      ? createDecisionLogger({
          enabled: true,
          sampleRate: config.decisionLog.sampleRate,
          sink: process.stdout,
        })
      : undefined;
    return {
      stage: createPolicyStage({ manager, registry, logger, ...(decisionLog ? { decisionLog } : {}) }),
      readiness: () => (manager.isReady() ? null : 'no policy bundle is loaded'),
      close: () => source.close(),
      adminRoutes: (admin) => registerPolicyRoutes(admin, { manager, audit }),
      // The admin plane asks the same engine (the admin_decision entrypoint) before every action.
      authorizeAdmin: createAdminAuthorizer(manager),
    };
  },
};

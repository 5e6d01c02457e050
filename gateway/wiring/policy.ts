import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AdminAuthorizer } from '../admin/admin-server.js';
import type { AuditLog } from '../admin/audit-log.js';
import type { Closeable, Stage } from '../core/types.js';
import {
  type BundleSource,
  createAdminAuthorizer,
  createBundleSource,
  createDecisionLogger,
  createPolicyStage,
  type PolicyConfig,
  PolicyManager,
  parseVerificationKey,
  registerPolicyRoutes,
} from '../policy/index.js';

export interface PolicyWiring extends Closeable {
  readonly manager: PolicyManager;
  readonly stage: Stage;
  readonly source: BundleSource;
  /** The admin plane asks the same engine (the admin_decision entrypoint) before every action. */
  readonly authorize: AdminAuthorizer;
  registerRoutes(admin: FastifyInstance, audit: AuditLog): void;
}

/** Loads the first bundle (a failed load leaves /readyz at 503 and every request failing closed). */
export async function wirePolicy(
  config: PolicyConfig,
  registry: Registry,
  logger: Logger,
): Promise<PolicyWiring> {
  const manager = new PolicyManager({
    verificationKey: config.verificationKey ? parseVerificationKey(config.verificationKey) : undefined,
    maxMemoryPages: config.maxMemoryPages,
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
  if (!(await source.start())) {
    logger.error(
      { bundle: config.bundle, state: manager.state() },
      'no policy bundle could be loaded: requests fail closed',
    );
  }
  const decisionLog = config.decisionLog.enabled
    ? createDecisionLogger({ enabled: true, sampleRate: config.decisionLog.sampleRate, sink: process.stdout })
    : undefined;
  const stage = createPolicyStage({ manager, registry, logger, ...(decisionLog ? { decisionLog } : {}) });

  const authorize = createAdminAuthorizer(manager);

  return {
    manager,
    stage,
    source,
    authorize,
    registerRoutes(admin, audit) {
      registerPolicyRoutes(admin, {
        manager,
        audit: async (entry) => void (await audit.append(entry)),
      });
    },
    close: () => source.close(),
  };
}

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AdminJwtOptions } from '../admin/admin-auth.js';
import { type AuthConfigInput, authConfigFromEnv } from '../auth/config.js';
import { createDemoSigner, type DemoSigner } from '../auth/demo-signer.js';
import { createAuthStage } from '../auth/stage.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Closeable, Stage } from '../core/types.js';
import type { ReadinessCheck } from '../pipeline/data-plane.js';
import { createRateLimitStages } from '../ratelimit/stage.js';
import type { ScreeningModule } from '../screening/index.js';
import { type PolicyWiring, wirePolicy } from './policy.js';
import type { ScreeningAudit } from './screening.js';
import { wireScreening } from './screening.js';

export interface StagesWiring {
  /** In pipeline order: rate limit (address) → JWT → rate limit (subject) → policy. */
  readonly stages: Stage[];
  /** Identity header names only the auth stage may set: stripped from every client request. */
  readonly identityHeaders: Set<string>;
  readonly readiness: ReadinessCheck[];
  readonly closers: Closeable[];
  /** Set when JWT verification is on: the admin plane accepts admin JWTs verified with the same keys. */
  readonly adminJwt: AdminJwtOptions | null;
  readonly policy: PolicyWiring | null;
  /** The embedded default's signer of demo tokens. */
  readonly demoSigner: DemoSigner | null;
  /** Injection screening, when `screening.enabled`: its admin routes go on the admin plane. */
  readonly screening: ScreeningModule | null;
}

/** Builds the optional stages the configuration asks for; a section left out is a stage left out. */
export async function wireStages(
  config: ResolvedConfig,
  redis: Redis | null,
  registry: Registry,
  logger: Logger,
  audit: ScreeningAudit | null = null,
): Promise<StagesWiring> {
  const stages: Stage[] = [];
  const closers: Closeable[] = [];
  const readiness: ReadinessCheck[] = [];
  const identityHeaders = new Set<string>();

  const rateLimits =
    config.rateLimit.limits.length > 0
      ? createRateLimitStages({ config: config.rateLimit, redis, registry, logger })
      : null;
  if (rateLimits) {
    closers.push(rateLimits);
    stages.push(rateLimits.beforeAuth);
  }

  let auth = config.auth;
  let demoSigner: DemoSigner | null = null;
  if (config.demo.enabled) {
    // The embedded default signs its own demo tokens so a newcomer can try authenticated calls at once.
    demoSigner = createDemoSigner();
    auth = authConfigFromEnv({}, {
      ...auth,
      keys: [...(auth?.keys ?? []), demoSigner.key],
    } as AuthConfigInput);
  }
  let adminJwt: AdminJwtOptions | null = null;
  if (auth) {
    const serviceModes = Object.fromEntries(
      config.services.filter((s) => s.auth !== undefined).map((s) => [s.name, s.auth!]),
    );
    const authStage = createAuthStage({ config: auth, services: serviceModes, registry, logger });
    closers.push(authStage);
    for (const name of authStage.identityHeaderNames) identityHeaders.add(name.toLowerCase());
    stages.push(authStage);
    adminJwt = { verify: authStage.verify, rolesClaim: auth.rolesClaim, roles: config.admin.jwtRoles };
  }
  if (rateLimits) stages.push(rateLimits.afterAuth);

  // Screening runs right before the policy, which decides on its findings.
  const screening =
    config.screening.enabled && config.policy ? await wireScreening(config, registry, logger, audit) : null;
  if (screening) {
    closers.push(screening);
    stages.push(screening.stage);
  }

  const policy = config.policy ? await wirePolicy(config.policy, registry, logger) : null;
  if (policy) {
    closers.push(policy);
    stages.push(policy.stage);
    readiness.push(() => (policy.manager.isReady() ? null : 'no policy bundle is loaded'));
  }
  return { stages, identityHeaders, readiness, closers, adminJwt, policy, demoSigner, screening };
}

import type { ProvisionDeps, StageModule } from '../pipeline/stage-module.js';
import { createRateLimitStages, type RateLimitStages } from './stage.js';

/** Both rate-limit modules share one set of limiters and stores (and the shared Redis connection). */
function limiters(deps: ProvisionDeps): RateLimitStages {
  return deps.shared('ratelimit', () =>
    createRateLimitStages({
      config: deps.config.rateLimit,
      redis: deps.redis,
      registry: deps.registry,
      logger: deps.logger,
    }),
  );
}

export const rateLimitByAddressModule: StageModule = {
  id: 'ratelimit.address',
  summary: 'limits with `by: address`, before any signature is checked (cheap rejection of floods)',
  enabled: (config) => config.rateLimit.limits.some((l) => l.by === 'address'),
  provision(deps) {
    const set = limiters(deps);
    return { stage: set.beforeAuth, close: () => set.close() };
  },
};

export const rateLimitBySubjectModule: StageModule = {
  id: 'ratelimit.subject',
  summary: 'limits with `by: subject` (the verified sub, else the client address), after the JWT',
  enabled: (config) => config.rateLimit.limits.some((l) => l.by === 'subject'),
  provision(deps) {
    const set = limiters(deps);
    // Closing twice is harmless, but only the module that made the set closes it.
    const ownsSet = !rateLimitByAddressModule.enabled(deps.config);
    return { stage: set.afterAuth, ...(ownsSet ? { close: () => set.close() } : {}) };
  },
};

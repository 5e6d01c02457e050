import type { ProvisionDeps, StageModule } from '../pipeline/stage-module.js';
import { createDemoSigner, type DemoSigner } from './demo-signer.js';
import { createAuthStage } from './stage.js';

/** The embedded default's demo signer, when the auth module made one (the start banner prints a token). */
export function demoSignerOf(deps: Pick<ProvisionDeps, 'shared'>): DemoSigner | null {
  return deps.shared<DemoSigner | null>('auth.demoSigner', () => null);
}

export const authModule: StageModule = {
  id: 'auth',
  summary: 'JWT verification (jose): per-service modes, key allow-lists, JWKS, a cache of verified tokens',
  enabled: (config) => config.auth !== null,
  async provision(deps) {
    const { config } = deps;
    let auth = config.auth!;
    if (config.demo.enabled) {
      // The embedded default signs its own demo tokens so a newcomer can try authenticated calls at once.
      const signer = deps.shared<DemoSigner | null>('auth.demoSigner', createDemoSigner);
      auth = { ...auth, keys: [...auth.keys, signer!.key] };
    }
    const services = Object.fromEntries(
      config.services.filter((s) => s.auth !== undefined).map((s) => [s.name, s.auth!]),
    );
    const stage = createAuthStage({ config: auth, services, registry: deps.registry, logger: deps.logger });
    return {
      stage,
      close: () => stage.close(),
      adminJwt: { verify: stage.verify, rolesClaim: auth.rolesClaim, roles: config.admin.jwtRoles },
    };
  },
};

import type { FastifyInstance } from 'fastify';
import type { Closeable, ReadinessCheck, Stage } from '../core/types.js';
import type { AdminJwtOptions } from './admin/admin-auth.js';
import type { AdminAuthorizer } from './admin/admin-server.js';
import type { ProvisionDeps, ProvisionedStage, StageModule } from './pipeline/stage-module.js';

/** The data plane after provisioning: stages in order, and what the modules contribute elsewhere. */
export interface ProvisionedChain {
  readonly modules: readonly string[];
  readonly stages: readonly Stage[];
  readonly readiness: readonly ReadinessCheck[];
  /** In provisioning order; close in reverse. */
  readonly closers: readonly Closeable[];
  readonly adminRoutes: readonly ((admin: FastifyInstance) => void | Promise<void>)[];
  readonly adminJwt: AdminJwtOptions | null;
  readonly authorizeAdmin: AdminAuthorizer | null;
}

/**
 * Provisions the enabled modules of the table in order (Caddy's Provision step). When one fails, the ones
 * already provisioned are closed before the error goes on.
 */
export async function provisionChain(
  table: readonly StageModule[],
  deps: ProvisionDeps,
): Promise<ProvisionedChain> {
  const done: { id: string; result: ProvisionedStage }[] = [];
  try {
    for (const module of table) {
      if (!module.enabled(deps.config)) continue;
      done.push({ id: module.id, result: await module.provision(deps) });
    }
  } catch (err) {
    for (const { result } of done.reverse()) await result.close?.().catch(() => {});
    throw err;
  }
  const pick = <K extends keyof ProvisionedStage>(key: K) =>
    done.map((d) => d.result[key]).filter((v): v is NonNullable<ProvisionedStage[K]> => v !== undefined);
  return {
    modules: done.map((d) => d.id),
    stages: done.map((d) => d.result.stage),
    readiness: pick('readiness'),
    closers: pick('close').map((close) => ({ close })),
    adminRoutes: pick('adminRoutes'),
    adminJwt: pick('adminJwt')[0] ?? null,
    authorizeAdmin: pick('authorizeAdmin')[0] ?? null,
  };
}

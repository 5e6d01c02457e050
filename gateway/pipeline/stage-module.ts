import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Closeable, ReadinessCheck, Stage } from '../../core/types.js';
import type { WeightStore } from '../../core/weight-store.js';
import type { LiveWindows } from '../../rollout/live-windows.js';
import type { AdminJwtOptions } from '../admin/admin-auth.js';
import type { AdminAuthorizer } from '../admin/admin-server.js';
import type { AuditLog } from '../admin/audit-log.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Responder } from '../http/responder.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { ServiceTable } from '../routing/service-table.js';

/**
 * What a stage module may use when it is provisioned: the validated configuration (its own section
 * included, already parsed by the one config loader) and the gateway's shared parts. A module takes
 * what it needs and owns nothing it did not create.
 */
export interface ProvisionDeps {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly metrics: GatewayMetrics;
  readonly responder: Responder;
  /** The one shared Redis connection, null without REDIS_URL. */
  readonly redis: Redis | null;
  readonly table: ServiceTable;
  readonly runtimes: ReadonlyMap<string, ServiceRuntime>;
  readonly weights: WeightStore;
  readonly windows: LiveWindows;
  readonly audit: AuditLog;
  /** Every readiness check of every module, asked at request time (for the health stage). */
  readonly readiness: () => readonly ReadinessCheck[];
  /** True once the gateway drains (SIGTERM): /readyz answers 503. */
  readonly draining: () => boolean;
  /**
   * One value per gateway, made on first use: lets the two rate-limit modules (by address before auth,
   * by subject after it) share their limiters and stores.
   */
  shared<T>(key: string, make: () => T): T;
}

/** What provisioning a module yields (Caddy's Provision result, Envoy's filter factory). */
export interface ProvisionedStage {
  readonly stage: Stage;
  readonly readiness?: ReadinessCheck;
  readonly close?: Closeable['close'];
  /** Registered on the admin plane (routes must declare their action for audit and policy). */
  readonly adminRoutes?: (admin: FastifyInstance) => void | Promise<void>;
  /** The admin plane accepts admin JWTs verified with this module's keys. */
  readonly adminJwt?: AdminJwtOptions;
  /** The admin plane asks this before every action. */
  readonly authorizeAdmin?: AdminAuthorizer;
}

/**
 * One entry of the data plane's table (gateway/modules.ts). Modules run in table order; a module whose
 * configuration section is absent is left out, so its stage costs nothing per request.
 */
export interface StageModule {
  readonly id: string;
  /** What the stage does, one line (README, `--help`, logs). */
  readonly summary: string;
  /** Whether the configuration turns this module on. */
  enabled(config: ResolvedConfig): boolean;
  provision(deps: ProvisionDeps): ProvisionedStage | Promise<ProvisionedStage>;
}

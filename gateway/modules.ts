// The data plane, as one ordered table of stage modules (Envoy's filter chain, Caddy's modules). A
// request passes the enabled modules top to bottom; each stage continues, stops with a local reply, or
// answers itself. Adding a stage is one folder with a module.ts and one line here (README: "Adding a
// stage"). Which fields of the request context each stage writes is documented in core/types.ts.

import { authModule } from './auth/module.js';
import { createIdentityStage } from './identity/stage.js';
import { createAccessLogStage } from './pipeline/access-log.js';
import { createHealthStage } from './pipeline/health-stage.js';
import type { StageModule } from './pipeline/stage-module.js';
import { policyModule } from './policy/module.js';
import { DeadlineSweep, resolutionFor } from './proxy/deadlines.js';
import { Forwarder } from './proxy/forwarder.js';
import { createProxyStage } from './proxy/stage.js';
import { rateLimitByAddressModule, rateLimitBySubjectModule } from './ratelimit/module.js';
import { createRouteStage } from './routing/route-stage.js';
import { createSplitStage } from './routing/split-stage.js';
import { screeningModule } from './screening/module.js';

const always = () => true;

export const identityModule: StageModule = {
  id: 'identity',
  summary: 'request id, client address, canonical path, the header lines that may travel upstream',
  enabled: always,
  provision: ({ config }) => ({ stage: createIdentityStage(config) }),
};

export const accessLogModule: StageModule = {
  id: 'access-log',
  summary: 'one info line per request, written when the response ends (server.accessLog)',
  enabled: (config) => config.server.accessLog,
  provision: ({ logger }) => ({ stage: createAccessLogStage(logger) }),
};

export const healthModule: StageModule = {
  id: 'health',
  summary: '/healthz and /readyz (every module ready, not draining)',
  enabled: always,
  provision: ({ readiness, draining }) => ({ stage: createHealthStage(readiness, draining) }),
};

export const routeModule: StageModule = {
  id: 'route',
  summary: 'the service by path prefix (404 when none); a declared body over maxBodyBytes is a 413',
  enabled: always,
  provision: ({ table, config }) => ({ stage: createRouteStage(table, config.server.maxBodyBytes) }),
};

export const splitModule: StageModule = {
  id: 'split',
  summary: 'blue or green: the allowed override header, else the sticky bucket against the weights',
  enabled: always,
  provision: ({ weights, config }) => ({ stage: createSplitStage(weights, config.server.stickyCookie) }),
};

export const proxyModule: StageModule = {
  id: 'proxy',
  summary: 'undici pools, breakers, one retry, failover; relays the answer and records the outcome',
  enabled: always,
  provision({ config, runtimes, metrics, windows, logger, responder }) {
    let shortest = Number.POSITIVE_INFINITY;
    for (const { timeouts } of runtimes.values())
      shortest = Math.min(shortest, timeouts.headers, timeouts.body);
    const deadlines = new DeadlineSweep(resolutionFor(shortest));
    const forwarder = new Forwarder({
      metrics,
      recorder: windows,
      logger,
      responder,
      maxBodyBytes: config.server.maxBodyBytes,
      keepEscapedSlashes: config.server.escapedSlashes === 'keep',
      sendTimeout: config.server.sendTimeout,
      deadlines,
    });
    return { stage: createProxyStage(runtimes, forwarder), close: async () => deadlines.close() };
  },
};

/** In request order. The proxy is the last stage. */
export const DATA_PLANE_MODULES: readonly StageModule[] = [
  identityModule,
  accessLogModule,
  healthModule,
  routeModule,
  rateLimitByAddressModule,
  authModule,
  rateLimitBySubjectModule,
  screeningModule,
  policyModule,
  splitModule,
  proxyModule,
];

import { waitForScrapes } from '../monitoring-wait.js';
import { loadStackApi, type StackProgress } from '../stack-api.js';
import type { Step } from '../types.js';

export const stagingDeployment: Step = {
  id: 'staging_deployment',
  description: 'bring the staging stack up (Redis, replicas, nginx, Prometheus, Alertmanager), wait healthy',
  environment: 'staging',
  changesProduction: false,
  async preconditions() {
    try {
      await loadStackApi();
      return [];
    } catch (error) {
      return [(error as Error).message];
    }
  },
  async run(ctx) {
    const stack = await loadStackApi();
    const seen = new Map<string, StackProgress['status']>();
    const started = Date.now();
    const stateDir = ctx.stackStateDir('staging');
    // A deployment starts from nothing: a stack left by an earlier run (or a failed later step) is
    // stopped first, so a fixed config is what comes up.
    const previous = await stack.stackStatus({ environment: 'staging', stateDir }).catch(() => null);
    if (previous?.state) {
      ctx.note(`a staging stack from ${previous.state.startedAt} is running: stopping it to deploy afresh`);
      await stack.stackDown({ environment: 'staging', stateDir });
    }
    try {
      const state = await stack.stackUp({
        environment: 'staging',
        driver: ctx.driver,
        ...(ctx.config.replicas === undefined ? {} : { replicas: ctx.config.replicas }),
        ...(ctx.gatewayConfig === undefined ? {} : { config: ctx.gatewayConfig }),
        ...(ctx.redisUrl ? { redisUrl: ctx.redisUrl } : {}),
        gatewayEnv: { JWT_SECRET: await ctx.stagingJwtSecret() },
        ...(ctx.config.monitoring.scrapeInterval
          ? { monitoring: { scrapeInterval: ctx.config.monitoring.scrapeInterval } }
          : {}),
        stateDir,
        signal: ctx.signal,
        onProgress: (p) => {
          seen.set(p.component, p.status);
          const healthy = [...seen.values()].filter((s) => s === 'healthy').length;
          ctx.progress(
            `${healthy}/${seen.size} healthy; ${p.component} ${p.status}${p.message ? `: ${p.message}` : ''}`,
          );
          if (p.status === 'failed') ctx.note(`${p.component} failed${p.message ? `: ${p.message}` : ''}`);
        },
      });
      ctx.setStack(state);
      const scraped = await waitForScrapes(
        state,
        ctx.config.monitoring.waitTimeout,
        ctx.signal,
        ctx.progress,
      );
      if (scraped !== null) {
        return {
          verdict: 'fail',
          summary: `the staging stack is up at ${state.target} but Prometheus does not scrape it: ${scraped}`,
          measurements: { upMs: Date.now() - started, target: state.target },
          fix: [
            `check var/stack/staging/prometheus.log and the replicas' admin /metrics; then \`acgs-gateway stack down --environment staging\` and resume`,
          ],
        };
      }
      return {
        verdict: 'pass',
        summary: `staging stack up at ${state.target} (${state.replicas.length} replicas, ${state.components.length} parts)`,
        measurements: {
          upMs: Date.now() - started,
          target: state.target,
          monitoring: state.prometheus !== null,
          replicas: state.replicas.length,
          components: state.components.map((c) => c.name),
        },
      };
    } catch (error) {
      return {
        verdict: 'fail',
        summary: `the staging stack did not come up: ${(error as Error).message}`,
        measurements: { upMs: Date.now() - started, components: Object.fromEntries(seen) },
        fix: [
          (error as Error).message,
          `look at the logs under var/stack/staging/, or run \`acgs-gateway stack up --environment staging --driver ${ctx.driver}\` to see it alone`,
        ],
      };
    }
  },
  async dryRun(ctx) {
    return [
      `run: stack up --environment staging --driver ${ctx.driver}${ctx.config.replicas ? ` --replicas ${ctx.config.replicas}` : ''}${ctx.gatewayConfig ? ` --config ${ctx.gatewayConfig}` : ''}`,
      'wait until Redis, every replica, nginx, Prometheus and Alertmanager are healthy (state in var/stack/staging/)',
    ];
  },
};

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
    try {
      const state = await stack.stackUp({
        environment: 'staging',
        driver: ctx.driver,
        ...(ctx.config.replicas === undefined ? {} : { replicas: ctx.config.replicas }),
        ...(ctx.gatewayConfig === undefined ? {} : { config: ctx.gatewayConfig }),
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
      return {
        verdict: 'pass',
        summary: `staging stack up at ${state.target} (${state.replicas.length} replicas, ${state.components.length} parts)`,
        measurements: {
          upMs: Date.now() - started,
          target: state.target,
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

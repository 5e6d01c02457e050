import type { Step, StepContext } from '../types.js';
import { describeValidate, endpointProblems, resultFromValidate } from './validate-step.js';

const request = (ctx: StepContext) => ({
  environment: 'staging' as const,
  name: 'load_testing',
  only: ['load'],
  extraArgs: [
    '--users',
    String(ctx.config.load.users),
    '--duration',
    ctx.config.load.duration,
    ...ctx.config.validate.extraArgs,
  ],
});

export const loadTesting: Step = {
  id: 'load_testing',
  description: 'the load checks of validate against staging (100+ users by default)',
  environment: 'staging',
  changesProduction: false,
  preconditions: endpointProblems,
  async run(ctx) {
    const outcome = await ctx.validate(request(ctx));
    const result = resultFromValidate(outcome, `load test (${ctx.config.load.users} users)`);
    return { ...result, measurements: { users: ctx.config.load.users, ...result.measurements } };
  },
  dryRun: (ctx) => describeValidate(ctx, request(ctx)),
};

import type { Step, StepContext } from '../types.js';
import { describeValidate, endpointProblems, resultFromValidate } from './validate-step.js';

const request = (ctx: StepContext) => ({
  environment: 'production' as const,
  name: 'production_validation',
  extraArgs: [
    '--users',
    String(ctx.config.load.users),
    '--duration',
    ctx.config.load.duration,
    ...ctx.config.validate.extraArgs,
  ],
});

export const productionValidation: Step = {
  id: 'production_validation',
  description: 'validate --environment production (every gate)',
  environment: 'production',
  changesProduction: false,
  preconditions: endpointProblems,
  async run(ctx) {
    return resultFromValidate(await ctx.validate(request(ctx)), 'production validation');
  },
  dryRun: (ctx) => describeValidate(ctx, request(ctx)),
};

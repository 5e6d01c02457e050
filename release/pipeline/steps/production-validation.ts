import type { Step, StepContext } from '../types.js';
import { describeValidate, endpointProblems, resultFromValidate } from './validate-step.js';

// validate refuses a load run against production without --yes; the pipeline passes the operator's
// --yes on, and without it leaves the load group out (and says so) rather than failing on a usage error.
const request = (ctx: StepContext) => ({
  environment: 'production' as const,
  name: 'production_validation',
  extraArgs: [
    ...(ctx.yes
      ? ['--users', String(ctx.config.load.users), '--duration', ctx.config.load.duration]
      : ['--skip', 'load']),
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
    if (!ctx.yes) ctx.note('no --yes: the load checks are left out against production');
    return resultFromValidate(await ctx.validate(request(ctx)), 'production validation');
  },
  dryRun: (ctx) => describeValidate(ctx, request(ctx)),
};

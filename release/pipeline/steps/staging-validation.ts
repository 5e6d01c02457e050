import type { Step } from '../types.js';
import { describeValidate, endpointProblems, resultFromValidate } from './validate-step.js';

/** The gates that need no load: is the stack up, fast, observed, caching, within its resources. */
export const STAGING_VALIDATION_GROUPS = ['health', 'latency', 'monitoring', 'cache', 'resources'] as const;

const request = (ctx: Parameters<Step['run']>[0]) => ({
  environment: 'staging' as const,
  name: 'staging_validation',
  only: STAGING_VALIDATION_GROUPS,
  extraArgs: ctx.config.validate.extraArgs,
});

export const stagingValidation: Step = {
  id: 'staging_validation',
  description: `validate the staging stack (${STAGING_VALIDATION_GROUPS.join(', ')})`,
  environment: 'staging',
  changesProduction: false,
  preconditions: endpointProblems,
  async run(ctx) {
    return resultFromValidate(await ctx.validate(request(ctx)), 'staging validation');
  },
  dryRun: (ctx) => describeValidate(ctx, request(ctx)),
};

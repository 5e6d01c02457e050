import type { Step } from '../types.js';
import { loadTesting } from './load-testing.js';
import { productionInfrastructure } from './production-infrastructure.js';
import { productionRollout } from './production-rollout.js';
import { productionValidation } from './production-validation.js';
import { securityTesting } from './security-testing.js';
import { stagingDeployment } from './staging-deployment.js';
import { stagingValidation } from './staging-validation.js';

/** The release, in order: each step is a gate for the next. Adding a step is one module and one line here. */
export const STEPS: readonly Step[] = [
  stagingDeployment,
  stagingValidation,
  loadTesting,
  securityTesting,
  productionInfrastructure,
  productionRollout,
  productionValidation,
];

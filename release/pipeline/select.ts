import type { Environment } from '../contracts.js';
import type { Step } from './types.js';

export type EnvironmentChoice = Environment | 'all';

export class SelectionError extends Error {}

/**
 * The steps a run executes: those of the environment (all: every step), from --start-from to --stop-at
 * inclusive. Unknown names and a start after the stop are errors that list the valid names.
 */
export function selectSteps(
  steps: readonly Step[],
  environment: EnvironmentChoice,
  startFrom?: string,
  stopAt?: string,
): Step[] {
  const chosen = steps.filter((s) => environment === 'all' || s.environment === environment);
  const names = chosen.map((s) => s.id);
  const indexOf = (name: string, flag: string) => {
    const i = names.indexOf(name);
    if (i >= 0) return i;
    const elsewhere = steps.find((s) => s.id === name);
    throw new SelectionError(
      elsewhere
        ? `${flag} ${name}: that step belongs to --environment ${elsewhere.environment}, not ${environment}`
        : `${flag} ${name}: unknown step; the steps of ${environment} are ${names.join(', ')}`,
    );
  };
  const first = startFrom === undefined ? 0 : indexOf(startFrom, '--start-from');
  const last = stopAt === undefined ? names.length - 1 : indexOf(stopAt, '--stop-at');
  if (first > last)
    throw new SelectionError(`--start-from ${startFrom} comes after --stop-at ${stopAt}; nothing to run`);
  return chosen.slice(first, last + 1);
}

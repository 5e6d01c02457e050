// Shared settings of the property tests: one seed per process, printed so a failing run can be replayed
// (`FC_SEED=<seed> node scripts/run-tests.mjs test/fuzz`), and a bounded number of runs per property so
// the whole folder stays well under a minute on a 2-core machine.
import type { Parameters } from 'fast-check';

function seedFromEnv(): number {
  const raw = process.env.FC_SEED;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new Error(`FC_SEED must be an integer, got '${raw}'`);
    return n;
  }
  return (Date.now() ^ (process.pid << 16)) | 0;
}

export const SEED = seedFromEnv();
const RUNS_SCALE = Number(process.env.FC_RUNS_SCALE ?? 1) || 1;

let announced = false;

/** fast-check parameters: the process seed and `runs` (scaled by FC_RUNS_SCALE) runs. */
export function params<T>(runs: number): Parameters<T> {
  if (!announced) {
    announced = true;
    process.stdout.write(`# fast-check seed ${SEED} (replay with FC_SEED=${SEED})\n`);
  }
  return { seed: SEED, numRuns: Math.max(1, Math.round(runs * RUNS_SCALE)) };
}

import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for the gateway; called before the gateway's modules load.
 *
 * Why: when a scavenge falls into a burst of concurrent requests (a deploy, a client pool reconnecting),
 * V8 sees a per-request literal survive and allocates it in the old generation from then on, for the rest
 * of the process's life (a "tenure" decision is final). What those objects reference survives the young
 * collections too, so the process promotes 4-20x more and keeps running its old generation up to the limit
 * (about one start in three under the bench's burst; bench/README.md, "Memory, continued"). The flag costs
 * nothing measurable. `node --allocation-site-pretenuring` keeps V8's default.
 */
export function disablePretenuring(): void {
  if (process.execArgv.includes('--allocation-site-pretenuring')) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
}

// The load generator: `users` virtual users in a closed loop (each sends its next request when the last
// one answered), all drawing from one global rate cap, for a fixed duration. A separate health probe
// measures availability meanwhile. Stops at once on the abort signal (Ctrl-C) with what it measured.
import { setMaxListeners } from 'node:events';
import { Agent } from 'undici';
import { describeError } from './http.js';
import type { VirtualIdentity } from './identities.js';

export interface LoadPlan {
  readonly target: string;
  /** Paths the users cycle through, e.g. one per service. */
  readonly paths: readonly { readonly service: string; readonly path: string }[];
  readonly identities: readonly VirtualIdentity[];
  readonly durationMs: number;
  readonly maxRps: number;
  /** URLs the health probe polls (every replica's /healthz). */
  readonly healthUrls: readonly string[];
  readonly healthEveryMs?: number;
  /** After `earlyAfterMs`, a 429 share above this stops the run as meaningless. */
  readonly max429Rate: number;
  readonly earlyAfterMs?: number;
  readonly signal: AbortSignal;
  /** Called about every 250 ms with the running totals. */
  readonly onTick?: (tick: LoadTick) => void;
}

export interface LoadTick {
  readonly elapsedMs: number;
  readonly requests: number;
  readonly errors: number;
  readonly limited: number;
  /** Requests per second over the last second. */
  readonly rps: number;
  /** p99 of the last second, ms. */
  readonly p99Ms: number;
}

/** One finished request. `status` 0 means a connection error. */
export interface Completion {
  readonly at: number;
  readonly ms: number;
  readonly status: number;
  readonly service: string;
  readonly color: string | null;
  readonly error: string | null;
}

export interface LoadResult {
  readonly completions: readonly Completion[];
  readonly health: readonly { readonly at: number; readonly ok: boolean }[];
  readonly elapsedMs: number;
  readonly usersStarted: number;
  readonly distinctIdentities: number;
  /** Why the run ended before its duration: interrupted (Ctrl-C) or rate_limited (too many 429s). */
  readonly stopped: 'interrupted' | 'rate_limited' | null;
}

/** Paces the users to `rps` overall: each takes the next free slot, so bursts cannot exceed the cap. */
class RateCap {
  #next = 0;
  readonly #interval: number;
  constructor(rps: number) {
    this.#interval = 1000 / rps;
  }
  /** Milliseconds to wait before sending. */
  take(now: number): number {
    const slot = Math.max(now, this.#next);
    this.#next = slot + this.#interval;
    return slot - now;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const stop = new AbortController();
  // Every in-flight request listens on it: one per user, far past the default warning threshold.
  setMaxListeners(0, stop.signal);
  const onOuterAbort = () => stop.abort();
  plan.signal.addEventListener('abort', onOuterAbort, { once: true });
  let stopped: LoadResult['stopped'] = plan.signal.aborted ? 'interrupted' : null;
  // The end of the run (or a refusal) only stops new requests: in-flight ones finish, because cutting
  // them off is a client leaving mid-response, which validate has no reason to inflict on a target.
  // Only Ctrl-C (the outer signal) aborts what is in flight.
  let halted = false;
  const running = () => !halted && !stop.signal.aborted;
  const agent = new Agent({
    connections: Math.max(1, plan.identities.length),
    pipelining: 1,
    keepAliveTimeout: 10_000,
  });
  // Its own connections: a health probe queued behind the users' requests would measure our queue.
  const healthAgent = new Agent({ connections: 4, keepAliveTimeout: 10_000 });
  const started = performance.now();
  const now = () => performance.now() - started;
  const completions: Completion[] = [];
  const health: { at: number; ok: boolean }[] = [];
  const cap = new RateCap(plan.maxRps);
  let limited = 0;
  let errors = 0;

  const user = async (index: number, identity: VirtualIdentity) => {
    let i = index;
    while (running() && now() < plan.durationMs) {
      await sleep(cap.take(now()), stop.signal);
      if (!running() || now() >= plan.durationMs) break;
      const target = plan.paths[i++ % plan.paths.length]!;
      const t0 = now();
      try {
        const response = await agent.request({
          origin: plan.target,
          path: target.path,
          method: 'GET',
          headers: identity.headers(),
          signal: stop.signal,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        await response.body.dump();
        identity.remember(response.headers['set-cookie']);
        const status = response.statusCode;
        if (status === 429) limited++;
        if (status >= 500) errors++;
        const color = response.headers['x-acgs-color'];
        completions.push({
          at: now(),
          ms: now() - t0,
          status,
          service: target.service,
          color: typeof color === 'string' ? color : null,
          error: null,
        });
      } catch (error) {
        if (stop.signal.aborted) break;
        errors++;
        completions.push({
          at: now(),
          ms: now() - t0,
          status: 0,
          service: target.service,
          color: null,
          error: describeError(error),
        });
      }
    }
  };

  const healthLoop = async () => {
    const every = plan.healthEveryMs ?? 200;
    while (running() && now() < plan.durationMs) {
      await Promise.all(
        plan.healthUrls.map(async (url) => {
          const at = now();
          try {
            const response = await healthAgent.request({
              origin: new URL(url).origin,
              path: new URL(url).pathname,
              method: 'GET',
              signal: stop.signal,
              headersTimeout: 2000,
              bodyTimeout: 2000,
            });
            await response.body.dump();
            health.push({ at, ok: response.statusCode === 200 });
          } catch {
            if (!stop.signal.aborted) health.push({ at, ok: false });
          }
        }),
      );
      await sleep(every, stop.signal);
    }
  };

  const ticker = setInterval(() => {
    const t = now();
    const recent: number[] = [];
    for (let i = completions.length - 1; i >= 0 && completions[i]!.at > t - 1000; i--)
      recent.push(completions[i]!.ms);
    recent.sort((a, b) => a - b);
    plan.onTick?.({
      elapsedMs: t,
      requests: completions.length,
      errors,
      limited,
      rps: recent.length,
      p99Ms: recent.length > 0 ? recent[Math.max(0, Math.ceil(recent.length * 0.99) - 1)]! : 0,
    });
    // Refuse to keep hammering a target whose limits answer most of the load with 429.
    if (
      t > (plan.earlyAfterMs ?? 2000) &&
      completions.length >= 50 &&
      limited / completions.length > plan.max429Rate
    ) {
      stopped = 'rate_limited';
      halted = true;
    }
  }, 250);

  try {
    await Promise.all([...plan.identities.map((identity, i) => user(i, identity)), healthLoop()]);
  } finally {
    clearInterval(ticker);
    plan.signal.removeEventListener('abort', onOuterAbort);
    if (plan.signal.aborted) stopped = 'interrupted';
    await Promise.all([agent.destroy().catch(() => {}), healthAgent.destroy().catch(() => {})]);
  }
  return {
    completions,
    health,
    elapsedMs: Math.min(now(), plan.durationMs),
    usersStarted: plan.identities.length,
    // A token user is its token; a cookie user is its own jar (and connection-level client address).
    distinctIdentities: new Set(plan.identities.map((id, i) => id.token ?? `jar-${i}`)).size,
    stopped,
  };
}

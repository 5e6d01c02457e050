import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { StackState } from '../contracts.js';

interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

/** Targets of the gateway job that Prometheus scrapes successfully, out of those it knows. */
async function gatewayTargets(prometheus: string): Promise<{ up: number; known: number; errors: string[] }> {
  const res = await request(new URL('/api/v1/targets?state=active', prometheus), {
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  const body = (await res.body.json()) as { data?: { activeTargets?: Target[] } };
  const targets = (body.data?.activeTargets ?? []).filter((t) => t.labels.job === 'acgs-gateway');
  return {
    up: targets.filter((t) => t.health === 'up').length,
    known: targets.length,
    errors: targets.filter((t) => t.lastError).map((t) => `${t.labels.instance}: ${t.lastError}`),
  };
}

/**
 * A stack is only ready for validation once Prometheus has scraped every replica: right after start its
 * targets are 'unknown' until the first scrape (up to one scrape interval). Returns null when ready, or
 * why not at the deadline.
 */
export async function waitForScrapes(
  state: StackState,
  timeoutMs: number,
  signal: AbortSignal,
  progress: (text: string) => void,
): Promise<string | null> {
  if (!state.prometheus) return null;
  const want = state.replicas.length;
  const deadline = Date.now() + timeoutMs;
  let last = 'Prometheus did not answer';
  for (;;) {
    try {
      const t = await gatewayTargets(state.prometheus);
      last = `${t.up}/${want} replicas scraped${t.errors.length ? ` (${t.errors.join('; ')})` : ''}`;
      progress(`prometheus: ${last}`);
      if (t.up >= want) return null;
    } catch (error) {
      last = `Prometheus at ${state.prometheus} does not answer: ${(error as Error).message}`;
    }
    if (Date.now() > deadline || signal.aborted) return last;
    await sleep(500, undefined, { signal }).catch(() => {});
  }
}

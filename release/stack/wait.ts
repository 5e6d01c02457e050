import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from './stack-error.js';

/**
 * Polls `check` until it returns a value (not undefined), the deadline passes or `signal` aborts. `check`
 * may throw a StackError to give up at once (the process died); other errors count as "not yet".
 */
export async function waitUntil<T>(
  component: string,
  what: string,
  check: () => Promise<T | undefined>,
  deadline: number,
  signal?: AbortSignal,
): Promise<T> {
  let last = '';
  for (;;) {
    if (signal?.aborted)
      throw new StackError(`${component}: interrupted while waiting for ${what}`, component);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof StackError) throw err;
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new StackError(
        `${component}: not ${what} before the deadline${last ? ` (last: ${last})` : ''}`,
        component,
      );
    }
    await sleep(100);
  }
}

/** GET `url` with a short timeout; resolves with the status and body. */
export async function probe(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

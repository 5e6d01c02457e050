// Small HTTP helpers over undici for the checks (not the load generator, which keeps its own pool).
import { type Dispatcher, request } from 'undici';

export interface HttpResult {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  readonly ms: number;
}

export interface HttpOptions {
  readonly method?: Dispatcher.HttpMethod;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly dispatcher?: Dispatcher;
}

export async function http(url: string, options: HttpOptions = {}): Promise<HttpResult> {
  const started = performance.now();
  const timeout = options.timeoutMs ?? 10_000;
  const response = await request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    signal: options.signal,
    dispatcher: options.dispatcher,
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    ms: performance.now() - started,
  };
}

export function header(result: HttpResult, name: string): string | undefined {
  const value = result.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function json(result: HttpResult): unknown {
  try {
    return JSON.parse(result.text);
  } catch {
    return null;
  }
}

/** The gateway's error code from its JSON error shape, when the answer is one. */
export function errorCode(result: HttpResult): string | null {
  const body = json(result) as { error?: { code?: unknown; message?: unknown } } | null;
  return typeof body?.error?.code === 'string' ? body.error.code : null;
}

export function errorMessage(result: HttpResult): string | null {
  const body = json(result) as { error?: { message?: unknown } } | null;
  return typeof body?.error?.message === 'string' ? body.error.message : null;
}

/** A short description of a failure: "ECONNREFUSED" rather than a stack. */
export function describeError(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  // Node's and undici's network errors carry a code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT); ours a message.
  const code = e.cause?.code ?? e.code;
  if (code !== undefined && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
  return e.cause?.message ?? e.message ?? String(error);
}

/** Calls `attempt` with exponential backoff (250 ms doubling, at most 4 s) until it returns null or the deadline. */
export async function retryUntil<T>(
  deadlineMs: number,
  attempt: () => Promise<T | null>,
  signal?: AbortSignal,
): Promise<T | null> {
  const end = Date.now() + deadlineMs;
  let delay = 250;
  for (;;) {
    const problem = await attempt();
    if (problem === null || Date.now() + delay > end || signal?.aborted) return problem;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 4000);
  }
}

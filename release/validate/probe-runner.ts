// Runs one security probe against the target and judges what came back against its expectation.
import { describeError, type HttpResult, header, http, json } from './http.js';
import type { TokenSource } from './identities.js';
import type { Expectation, Probe } from './probe-suite.js';
import { probeToken } from './probe-tokens.js';
import { rawExchange } from './raw-http.js';

export type ProbeVerdict = 'held' | 'failed' | 'skipped';

export interface ProbeOutcome {
  readonly category: string;
  readonly name: string;
  readonly verdict: ProbeVerdict;
  /** What was seen: "403 forbidden", "200 from upstream (blue)", or why it was skipped. */
  readonly observed: string;
}

export interface ProbeEnv {
  readonly target: string;
  readonly service: { readonly name: string; readonly prefix: string };
  /** Bearer tokens per role the probes may need; null when not available. */
  readonly credentials: {
    readonly reader: string | null;
    readonly writer: string | null;
    readonly admin: string | null;
  };
  /** Set when body placements cannot be judged (no identity may write): the reason. */
  readonly writeBlockedReason: string | null;
  readonly signer: TokenSource | null;
  readonly signal: AbortSignal;
  readonly maxBurst: number;
}

const proxied = (r: HttpResult) => header(r, 'x-acgs-color') !== undefined;

function describe(r: HttpResult): string {
  const code = (json(r) as { error?: { code?: string } } | null)?.error?.code;
  return `${r.status}${code ? ` ${code}` : ''}${proxied(r) ? ` from the upstream (${header(r, 'x-acgs-color')})` : ''}`;
}

/** Header values cannot carry CR, LF or NUL; such a payload has no header placement. */
const headerSafe = (v: string) => !/[\r\n\0]/.test(v) && /^[\x20-\x7e\t]*$/.test(v);

interface BuiltRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function build(probe: Probe, env: ProbeEnv): BuiltRequest | string {
  const prefix = env.service.prefix;
  const headers: Record<string, string> = { ...probe.headers };
  const p = probe.payload ?? '';
  const enc = encodeURIComponent(p);
  switch (probe.placement) {
    case 'query':
      return { method: 'GET', path: `${prefix}search?q=${enc}`, headers };
    case 'path':
      return { method: 'GET', path: `${prefix}items/${enc}`, headers };
    case 'cookie':
      return {
        method: 'GET',
        path: `${prefix}items`,
        headers: { ...headers, cookie: `session=validate; pref=${enc}` },
      };
    case 'json_body':
      return {
        method: 'POST',
        path: `${prefix}items`,
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'validate', comment: p }),
      };
    case 'form_body':
      return {
        method: 'POST',
        path: `${prefix}items`,
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: `name=validate&comment=${enc}`,
      };
    case null:
      break;
    default: {
      const name = probe.placement.slice('header:'.length);
      if (!headerSafe(p)) return `payload has characters a header cannot carry`;
      const value = name === 'referer' ? `https://shop.example/search?q=${p}` : p;
      return { method: 'GET', path: `${prefix}items`, headers: { ...headers, [name]: value } };
    }
  }
  const path = (probe.rawPath ?? prefix)
    .replaceAll('{prefix}', prefix)
    .replaceAll('{service}', env.service.name);
  return {
    method: probe.method,
    path,
    headers,
    ...(probe.json === undefined ? {} : { body: JSON.stringify(probe.json) }),
    ...(probe.json === undefined ? {} : { headers: { ...headers, 'content-type': 'application/json' } }),
  };
}

function judge(expect: Expectation, r: HttpResult): { held: boolean; observed: string } | null {
  const observed = describe(r);
  if (expect === 'blocked') {
    // Refused by the gateway itself: 400/403, or a 404 because no service is routed at what the path became.
    const held = (r.status === 400 || r.status === 403 || r.status === 404) && !proxied(r);
    return { held, observed };
  }
  if (expect === 'passes') return { held: r.status >= 200 && r.status < 300 && proxied(r), observed };
  if (expect === 'not_ok')
    return {
      held: r.status >= 400 && r.status < 500 && !/"services"\s*:|acgs_requests_total/.test(r.text),
      observed,
    };
  if ('status' in expect) return { held: expect.status.includes(r.status), observed };
  // notForwarded: refused outright holds; otherwise the upstream's echo must not show the value.
  if (r.status >= 400 && !proxied(r)) return { held: true, observed };
  const echoed = (json(r) as { headers?: Record<string, unknown> } | null)?.headers;
  if (echoed === undefined || typeof echoed !== 'object' || echoed === null) return null;
  const name = expect.notForwarded.header.toLowerCase();
  const value = Object.entries(echoed).find(([k]) => k.toLowerCase() === name)?.[1];
  const text = Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : '';
  const leaked = text.includes(expect.notForwarded.value);
  return {
    held: !leaked,
    observed: leaked
      ? `upstream received ${name}: ${text}`
      : `upstream did not receive ${name}: ${expect.notForwarded.value}`,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends one request; a 429 is waited out (Retry-After, at most 3 times) since it says nothing about the probe. */
async function send(env: ProbeEnv, req: BuiltRequest): Promise<HttpResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await http(`${env.target}${req.path}`, {
      method: req.method as 'GET',
      headers: req.headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      timeoutMs: 10_000,
      signal: env.signal,
    });
    if (r.status !== 429 || attempt >= 3) return r;
    await sleep(Math.min(15, Math.max(1, Number(header(r, 'retry-after') ?? 1))) * 1000);
  }
}

async function runBurst(env: ProbeEnv, auth: Record<string, string>): Promise<ProbeOutcome> {
  const base = { category: 'rate_limit', name: 'burst from one identity' };
  let sent = 0;
  let found: HttpResult | null = null;
  let firstLimit: string | undefined;
  const worker = async () => {
    while (found === null && sent < env.maxBurst && !env.signal.aborted) {
      sent++;
      try {
        const r = await http(`${env.target}${env.service.prefix}`, {
          headers: auth,
          timeoutMs: 10_000,
          signal: env.signal,
        });
        firstLimit ??= header(r, 'ratelimit-limit');
        if (r.status === 429) found ??= r;
      } catch {
        // A refused connection is not a 429; keep going until the budget runs out.
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  if (found === null)
    return {
      ...base,
      verdict: 'failed',
      observed: `no 429 after ${sent} requests${firstLimit ? ` (RateLimit-Limit ${firstLimit})` : ' and no RateLimit-* fields: no limit applies to this route'}`,
    };
  const r = found as HttpResult;
  const retryAfter = header(r, 'retry-after');
  const ok = retryAfter !== undefined && /^\d+$/.test(retryAfter.trim()) && Number(retryAfter) >= 1;
  return {
    ...base,
    verdict: ok ? 'held' : 'failed',
    observed: `429 after ${sent} requests${ok ? ` with Retry-After ${retryAfter}` : ' without a valid Retry-After'}${firstLimit ? ` (RateLimit-Limit ${firstLimit})` : ''}`,
  };
}

export async function runProbe(probe: Probe, env: ProbeEnv): Promise<ProbeOutcome> {
  const base = { category: probe.category, name: probe.name };
  try {
    if (probe.requires === 'signer' && env.signer === null)
      return {
        ...base,
        verdict: 'skipped',
        observed: 'needs the signing key (VALIDATE_JWT_KEY) to build this token',
      };
    const auth: Record<string, string> = {};
    if (probe.auth !== 'none') {
      const token = env.credentials[probe.auth];
      if (token === null)
        return { ...base, verdict: 'skipped', observed: `needs a ${probe.auth} credential` };
      auth.authorization = `Bearer ${token}`;
    }
    if (probe.burst) return await runBurst(env, auth);
    if (probe.raw !== null) {
      const url = new URL(env.target);
      const raw = probe.raw.replaceAll('{host}', url.host).replaceAll('{path}', env.service.prefix);
      const x = await rawExchange(env.target, raw);
      const first = x.statuses[0];
      // Held: refused (4xx) or dropped, and never a second answer (which would be the smuggled request's).
      const held = x.statuses.length <= 1 && (first === undefined || (first >= 400 && first < 500));
      const observed =
        x.statuses.length === 0
          ? `no answer (${x.error ?? (x.closed ? 'connection closed' : 'silence')})`
          : `answered ${x.statuses.join(', ')}${x.statuses.length > 1 ? ': the smuggled request was answered too' : ''}`;
      return { ...base, verdict: held ? 'held' : 'failed', observed };
    }
    const built = build(probe, env);
    if (typeof built === 'string') return { ...base, verdict: 'skipped', observed: built };
    if (probe.method === 'POST' && probe.placement !== null && env.writeBlockedReason !== null)
      return { ...base, verdict: 'skipped', observed: env.writeBlockedReason };
    if (probe.token !== null) {
      const token = await probeToken(probe.token, env.signer);
      if (token === null)
        return { ...base, verdict: 'skipped', observed: 'needs the signing key (VALIDATE_JWT_KEY)' };
      built.headers.authorization = `Bearer ${token}`;
    } else Object.assign(built.headers, auth);
    const r = await send(env, built);
    const verdict = judge(probe.expect, r);
    if (verdict === null)
      return {
        ...base,
        verdict: 'skipped',
        observed: `cannot observe what reached the upstream: ${env.service.prefix}__echo did not echo headers`,
      };
    return { ...base, verdict: verdict.held ? 'held' : 'failed', observed: verdict.observed };
  } catch (error) {
    if (env.signal.aborted) return { ...base, verdict: 'skipped', observed: 'interrupted' };
    return { ...base, verdict: 'failed', observed: `request failed: ${describeError(error)}` };
  }
}

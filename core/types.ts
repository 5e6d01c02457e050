import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export type Color = 'blue' | 'green';
export const COLORS: readonly Color[] = ['blue', 'green'];
export function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

/** Verified JWT claims as the auth stage hands them on. */
export type Claims = Readonly<Record<string, unknown>> & { readonly sub?: string };

/**
 * Per-request state that every stage of the data plane reads and fills in, documented here once. The
 * data plane creates it from the socket and request line; the identity stage fills in what it derives
 * (id, addresses, canonical path, forwardable headers); each later stage writes only the fields named as
 * its own below, and never re-derives what an earlier one put here.
 */
export interface RequestContext {
  // ── set by the data plane when the request arrives ──────────────────────────────────────────────
  /** process.hrtime.bigint() when the request arrived. */
  readonly startedAt: bigint;
  readonly method: string;
  /** Lower-cased request headers as node parsed them (the first of a repeated singleton field). */
  readonly headers: IncomingHttpHeaders;
  /** The raw query string without '?', '' when none. */
  readonly query: string;
  /** The client sent `Expect: 100-continue`: the proxy sends `100 Continue` just before it forwards. */
  readonly expectContinue: boolean;
  /** Set when the client closed the connection before its response was complete (counted as 499). */
  clientGone: boolean;

  // ── identity stage ───────────────────────────────────────────────────────────────────────────────
  /** x-request-id: the client's when well-formed, else generated. */
  id: string;
  /** The socket peer address (the proxy in front of us, if any). */
  peerIp: string;
  /** Whether the peer is a configured trusted proxy (then its X-Forwarded-* and Forwarded are believed). */
  peerTrusted: boolean;
  /** Client address: the peer, or X-Forwarded-For's first untrusted hop when the peer is a trusted proxy. */
  clientIp: string;
  /**
   * Canonical path: percent-decoded once, dot-segments removed, `//` collapsed, escaped slashes handled
   * per server.escapedSlashes. Always starts with '/'. Every later stage and the upstream see this path.
   */
  path: string;
  /**
   * The client's header lines that travel upstream, flat [name, value, ...] in arrival order, every value
   * of a repeated header included: no hop-by-hop, forwarding or identity headers. The policy sees these.
   */
  clientHeaders: readonly string[];
  /** Colour asked for with the x-acgs-color header, null when none or invalid. */
  colorOverride: Color | null;

  // ── route stage ──────────────────────────────────────────────────────────────────────────────────
  /** The matched service name, or null before routing. */
  service: string | null;
  /** The path after the service prefix, always starting with '/'. */
  rest: string;

  // ── auth stage ───────────────────────────────────────────────────────────────────────────────────
  /** Verified JWT claims, null when no (valid) token was presented. */
  claims: Claims | null;
  /** Extra request headers for the upstream (verified identity), flat [name, value, ...]. */
  readonly upstreamHeaders: string[];

  // ── screening stage ──────────────────────────────────────────────────────────────────────────────
  /**
   * The whole request body when a stage read it to inspect it (screening of small JSON/form bodies); the
   * proxy then forwards exactly these bytes instead of streaming the request. null: the body streams.
   */
  body: Buffer | null;
  /** What the screening stage found (null when it did not run); the policy decides on it. */
  screening: ScreeningFindings | null;

  // ── policy stage ─────────────────────────────────────────────────────────────────────────────────
  /** The caller may use the override header. */
  overrideAllowed: boolean;

  // ── split and proxy stages ───────────────────────────────────────────────────────────────────────
  /** The colour chosen by the split, then the one that served (the proxy may fail over). */
  color: Color | null;
  /** Cancels the upstream request in flight, if any; the data plane calls it when the client leaves. */
  upstreamAbort: { abort(): void } | null;

  // ── any stage ────────────────────────────────────────────────────────────────────────────────────
  /** Extra response headers for the answer (RateLimit-*, Set-Cookie, policy headers), flat [name, value, ...]. */
  readonly responseHeaders: string[];
}

/** One screening rule that matched, and where. */
export interface ScreeningMatch {
  readonly rule: string;
  readonly category: string;
  /** Where it matched: 'path', 'query', 'header', 'cookie', 'body'. */
  readonly placement: string;
  /** The key path inside that placement ('q', 'user-agent', 'items.0.name'). */
  readonly key: string;
  /** A short masked excerpt of the matched value (first characters and length), for the decision log. */
  readonly excerpt?: string;
}

export interface ScreeningFindings {
  readonly matches: readonly ScreeningMatch[];
  /** Whether the body was inspected; false when absent, too large or of another type (it streamed). */
  readonly bodyInspected: boolean;
  /** Why the body was not inspected, when it was present: 'too_large', 'content_type', 'encoding'. */
  readonly bodySkipped: string | null;
  /** The engine ran out of its time budget: the findings may be incomplete. */
  readonly timedOut: boolean;
  /** More values than the engine is given (tens of thousands): the rest were not inspected. */
  readonly truncated?: boolean;
}

/**
 * One stage of the data plane, with Envoy's filter contract: return to let the request continue; throw
 * a GatewayError to stop it with a local reply (the responder writes it); or answer the request itself
 * (the proxy, the last stage, and health). Synchronous stages return undefined rather than a resolved
 * promise, which saves a tick per request.
 */
export interface Stage {
  readonly name: string;
  /**
   * `req` and `res` are there for stages that read the body (they then set ctx.body, and send
   * `100 Continue` first when ctx.expectContinue) or answer themselves; most ignore them. The data plane
   * always passes both; unit tests of a stage that needs neither may leave them out.
   */
  run(ctx: RequestContext, req?: IncomingMessage, res?: ServerResponse): void | Promise<void>;
  /**
   * Called once when the response has ended, however it ended (res.writableFinished false: the client
   * left). For work on the response side (an access log line) instead of side channels.
   */
  onResponse?(ctx: RequestContext, res: ServerResponse): void;
}

/** Something the gateway must close on shutdown. */
export interface Closeable {
  close(): Promise<void>;
}

/** Something /readyz asks; returns null when ready, else the reason. */
export type ReadinessCheck = () => string | null | Promise<string | null>;

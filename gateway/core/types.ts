import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export type Color = 'blue' | 'green';
export const COLORS: readonly Color[] = ['blue', 'green'];
export function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

/** Verified JWT claims as the auth stage hands them on. */
export type Claims = Readonly<Record<string, unknown>> & { readonly sub?: string };

/**
 * Per-request state that every pipeline stage reads and fills in. Created once per request by the
 * identity stage; stages never re-derive what is already here (one canonical path, one client address).
 */
export interface RequestContext {
  /** x-request-id: the client's when well-formed, else generated. */
  readonly id: string;
  /** process.hrtime.bigint() when the request arrived. */
  readonly startedAt: bigint;
  readonly method: string;
  /** Lower-cased request headers as node parsed them. */
  readonly headers: IncomingHttpHeaders;
  /** Client address: the socket peer, or X-Forwarded-For's first untrusted hop when the peer is a trusted proxy. */
  readonly clientIp: string;
  /** The socket peer address (the proxy in front of us, if any). */
  readonly peerIp: string;
  /** Whether the peer is a configured trusted proxy (then its X-Forwarded-* and Forwarded are believed). */
  readonly peerTrusted: boolean;
  /**
   * The client's header lines that travel upstream, flat [name, value, ...] in arrival order, every value of
   * a repeated header included: no hop-by-hop, forwarding or identity headers. The policy sees these.
   */
  readonly clientHeaders: readonly string[];
  /** The client sent `Expect: 100-continue`: the proxy sends `100 Continue` just before it forwards. */
  readonly expectContinue: boolean;
  /** Set when the client closed the connection before its response was complete (counted as 499). */
  clientGone: boolean;
  /** Cancels the upstream request in flight, if any; the data plane calls it when the client leaves. */
  upstreamAbort: { abort(): void } | null;
  /**
   * The whole request body when a stage read it to inspect it (screening of small JSON/form bodies); the
   * proxy then forwards exactly these bytes instead of streaming the request. null: the body streams.
   */
  body: Buffer | null;
  /** What the screening stage found (null when it did not run); the policy decides on it. */
  screening: ScreeningFindings | null;
  /** Canonical path: percent-decoded once, dot-segments removed, `//` collapsed. Always starts with '/'. */
  readonly path: string;
  /** The raw query string without '?', '' when none. */
  readonly query: string;
  /** The matched service name, or null (no such service / not a service route). */
  service: string | null;
  /** The path after the service prefix, always starting with '/'. */
  rest: string;
  /** Verified JWT claims, null when no (valid) token was presented. */
  claims: Claims | null;
  /** Rate-limit and sticky identity: the verified `sub`, else the sticky cookie, else the client address. */
  identity: string;
  /** Colour asked for with the x-acgs-color header, null when none or invalid. */
  colorOverride: Color | null;
  /** Set by the policy stage when the caller may use the override header. */
  overrideAllowed: boolean;
  /** The colour that served (or was chosen for) the request, once the proxy stage picked one. */
  color: Color | null;
  /** Extra response headers stages want on the answer (RateLimit-*, policy headers), flat [name, value, ...]. */
  readonly responseHeaders: string[];
  /** Extra request headers for the upstream (verified identity), flat [name, value, ...]. */
  readonly upstreamHeaders: string[];
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
 * One pipeline stage. Returns nothing to let the request go on; throws a GatewayError to answer it.
 * Synchronous stages should return undefined rather than a resolved promise to save a tick.
 */
export interface Stage {
  readonly name: string;
  /**
   * `req` and `res` are there for stages that must read the body (they then set ctx.body, and send
   * `100 Continue` first when ctx.expectContinue); most ignore them. The data plane always passes both;
   * stage unit tests without a body may leave them out.
   */
  run(ctx: RequestContext, req?: IncomingMessage, res?: ServerResponse): void | Promise<void>;
}

/** Something the gateway must close on shutdown. */
export interface Closeable {
  close(): Promise<void>;
}

import type { IncomingHttpHeaders } from 'node:http';
import type { Color, RequestContext } from '../core/types.js';

// RFC 9110 §7.6.1: connection-specific fields a proxy must not forward, plus the de-facto ones.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers the gateway sets itself and never takes from the client. */
const GATEWAY_OWNED = new Set([
  'host',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-acgs-color',
]);

/** Names listed in a Connection header are hop-by-hop too (RFC 9110 §7.6.1). Usually there are none. */
function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  const text = Array.isArray(value) ? value.join(',') : value;
  let listed: Set<string> | null = null;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    listed ??= new Set();
    listed.add(name);
  }
  return listed;
}

export interface ForwardedInfo {
  /** Whether the socket peer is a trusted proxy (then its X-Forwarded-* are kept and extended). */
  readonly peerTrusted: boolean;
}

/**
 * Builds the upstream request headers as a flat [name, value, ...] list (undici takes it without copying
 * into an object). `strip` holds the identity header names only the auth stage may set.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  ctx: RequestContext,
  color: Color,
  peerTrusted: boolean,
  strip: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  const listed = connectionListed(ctx.headers.connection);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || GATEWAY_OWNED.has(lower) || strip.has(lower)) continue;
    if (listed?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  // TE: trailers is the one TE value a proxy may pass on (RFC 9110 §10.1.4); we do not, as we do not relay trailers.
  const headers = ctx.headers;
  const priorFor = peerTrusted ? headers['x-forwarded-for'] : undefined;
  out.push('x-forwarded-for', priorFor ? `${flatten(priorFor)}, ${ctx.peerIp}` : ctx.clientIp);
  out.push('x-forwarded-proto', (peerTrusted && flatten(headers['x-forwarded-proto'])) || 'http');
  const host = (peerTrusted && flatten(headers['x-forwarded-host'])) || headers.host;
  if (host) out.push('x-forwarded-host', host);
  out.push('x-request-id', ctx.id, 'x-acgs-color', color);
  const extra = ctx.upstreamHeaders;
  for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  return out;
}

function flatten(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Upstream response headers minus hop-by-hop ones, as a flat list for res.writeHead. */
export function clientResponseHeaders(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): string[] {
  const out: string[] = [];
  const listed = connectionListed(headers.connection);
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}

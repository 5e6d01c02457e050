import type { IncomingHttpHeaders } from 'node:http';
import type { Color, RequestContext } from '../../core/types.js';
import { connectionListed, HOP_BY_HOP_FIELDS } from '../identity/request-headers.js';

/** Connection-specific response fields (RFC 9110 §7.6.1): never relayed to the client. */
const HOP_BY_HOP = new Set<string>(HOP_BY_HOP_FIELDS);

/**
 * The upstream request headers as a flat [name, value, ...] list (undici takes it without copying into an
 * object): the client lines the identity step let through (ctx.clientHeaders), then the ones the gateway
 * owns: the forwarding chain, the request id, the colour and the verified identity.
 */
export function upstreamRequestHeaders(ctx: RequestContext, color: Color): string[] {
  const out = ctx.clientHeaders.slice();
  const headers = ctx.headers;
  const trusted = ctx.peerTrusted;
  // TE: trailers is the one TE value a proxy may pass on (RFC 9110 §10.1.4); we do not, as we do not relay trailers.
  const priorFor = trusted ? headers['x-forwarded-for'] : undefined;
  out.push('x-forwarded-for', priorFor ? `${flatten(priorFor)}, ${ctx.peerIp}` : ctx.clientIp);
  const proto = (trusted && flatten(headers['x-forwarded-proto'])) || 'http';
  out.push('x-forwarded-proto', proto);
  const host = (trusted && flatten(headers['x-forwarded-host'])) || headers.host;
  if (host) out.push('x-forwarded-host', host);
  out.push('x-real-ip', ctx.clientIp);
  // RFC 7239: each proxy appends the node it received the request from.
  const element = `for=${forwardedNode(ctx.peerIp)};proto=${proto}`;
  const priorForwarded = trusted ? headers.forwarded : undefined;
  out.push('forwarded', priorForwarded ? `${flatten(priorForwarded)}, ${element}` : element);
  out.push('x-request-id', ctx.id, 'x-acgs-color', color);
  const extra = ctx.upstreamHeaders;
  for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  return out;
}

/** RFC 7239 §6: an IPv6 node is quoted and bracketed. */
function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
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

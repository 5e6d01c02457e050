import { util } from 'undici';
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

/**
 * The upstream's response header lines minus hop-by-hop ones (and any the upstream's Connection lists), as
 * a flat [name, value, ...] list for res.writeHead, straight from undici's raw lines: names lower-cased
 * (undici's table of known names, no allocation for them), values decoded as latin1 so every byte the
 * upstream sent is passed on unchanged, repeated lines kept in order.
 */
export function relayedResponseHeaders(raw: readonly Buffer[]): string[] {
  const out: string[] = [];
  // Node upstreams send `Connection: keep-alive` on every answer: one line stays a string (no split).
  let connection: string | string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = util.headerNameToString(raw[i]!);
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') {
        const value = raw[i + 1]!.toString('latin1');
        if (connection === undefined) connection = value;
        else if (typeof connection === 'string') connection = [connection, value];
        else connection.push(value);
      }
      continue;
    }
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  const listed = connectionListed(connection);
  if (listed === null) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!listed.has(out[i]!)) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

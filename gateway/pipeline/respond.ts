import type { ServerResponse } from 'node:http';
import { errorBody, type GatewayError } from '../core/errors.js';
import type { Color, RequestContext } from '../core/types.js';

/**
 * Writes a gateway-made error answer in the JSON shape of DESIGN.md. Headers from the error (Retry-After,
 * WWW-Authenticate) win over the same names collected on the context (RateLimit-*). When the response has
 * already started, the only honest signal left is to close the connection.
 */
export function writeError(
  res: ServerResponse,
  ctx: RequestContext,
  error: GatewayError,
  color: Color | null,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(error.code, error.message, ctx.id);
  const headers: string[] = [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    'x-request-id',
    ctx.id,
  ];
  if (color !== null) headers.push('x-acgs-color', color);
  const own = error.headers;
  if (own) for (const name in own) headers.push(name, own[name]!);
  const extra = ctx.responseHeaders;
  for (let i = 0; i < extra.length; i += 2) {
    const name = extra[i]!;
    if (own && Object.hasOwn(own, name.toLowerCase())) continue;
    headers.push(name, extra[i + 1]!);
  }
  res.writeHead(error.status, headers);
  res.end(body);
}

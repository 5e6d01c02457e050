import type { RequestContext } from '../../core/types.js';

/**
 * A RequestContext as the identity stage would hand it to the next stages: GET /api/ac/items from
 * 203.0.113.9, no token. Stage tests override what they are about.
 */
export function requestContext(over: Partial<RequestContext> = {}): RequestContext {
  const clientIp = over.clientIp ?? '203.0.113.9';
  const headers = over.headers ?? { host: 'gw', 'user-agent': 'test' };
  return {
    id: 'req-1',
    startedAt: process.hrtime.bigint(),
    method: 'GET',
    headers,
    clientIp,
    peerIp: clientIp,
    peerTrusted: false,
    // What the identity step would let through of these headers (tests of the policy input set both).
    clientHeaders: flatHeaders(headers),
    expectContinue: false,
    clientGone: false,
    upstreamAbort: null,
    body: null,
    screening: null,
    path: '/api/ac/items',
    query: '',
    service: 'ac',
    rest: '/items',
    claims: null,
    colorOverride: null,
    overrideAllowed: false,
    color: null,
    responseHeaders: [],
    upstreamHeaders: [],
    ...over,
  };
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'host') continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
  }
  return out;
}

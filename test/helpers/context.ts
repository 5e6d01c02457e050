import type { RequestContext } from '../../gateway/core/types.js';

/**
 * A RequestContext as the identity stage would hand it to the next stages: GET /api/ac/items from
 * 203.0.113.9, no token. Stage tests override what they are about.
 */
export function requestContext(over: Partial<RequestContext> = {}): RequestContext {
  const clientIp = over.clientIp ?? '203.0.113.9';
  return {
    id: 'req-1',
    startedAt: process.hrtime.bigint(),
    method: 'GET',
    headers: { host: 'gw', 'user-agent': 'test' },
    clientIp,
    peerIp: clientIp,
    path: '/api/ac/items',
    query: '',
    service: 'ac',
    rest: '/items',
    claims: null,
    identity: clientIp,
    colorOverride: null,
    overrideAllowed: false,
    color: null,
    responseHeaders: [],
    upstreamHeaders: [],
    ...over,
  };
}

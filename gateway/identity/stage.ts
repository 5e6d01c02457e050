import type { IncomingMessage } from 'node:http';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RequestContext, Stage } from '../../core/types.js';
import type { ResolvedConfig } from '../config/load.js';
import { canonicalizePath } from './canonical-path.js';
import { isTrusted, normalizeAddress, resolveClientAddress } from './client-address.js';
import {
  forwardableClientHeaders,
  type HeaderRejection,
  type HeaderRules,
  reservedHeaderNames,
} from './request-headers.js';
import { requestIdFor } from './request-id.js';

const HEADER_PROBLEMS: Record<HeaderRejection, string> = {
  duplicate_authorization: 'The request carries more than one Authorization header',
  duplicate_host: 'The request carries more than one Host header',
  underscore_in_header_name: 'Header names with underscores are not accepted here',
};

/**
 * The first stage: who is asking and for what, derived once for every later stage. Request id, client
 * address (X-Forwarded-For only from trusted proxies), the canonical path, and the client header lines
 * that may travel upstream. A path that cannot be normalised safely, or headers that cannot be accepted,
 * are refused with 400 here, before anything else looks at them.
 */
export function createIdentityStage(config: ResolvedConfig): Stage {
  const trusted = config.trustedProxies;
  const hasTrustedProxies = config.server.trustedProxies.length > 0;
  const escapedSlashes = config.server.escapedSlashes;
  const rules: HeaderRules = {
    underscores: config.server.headersWithUnderscores,
    // Identity headers the auth module may set, even when it is off: no client may ever send them.
    reserved: reservedHeaderNames(config.auth ? Object.values(config.auth.forwardHeaders) : []),
  };
  return {
    name: 'identity',
    run(ctx: RequestContext, req?: IncomingMessage) {
      const headers = ctx.headers;
      ctx.id = requestIdFor(headers['x-request-id']);
      const peerIp = normalizeAddress(req?.socket.remoteAddress);
      const peerTrusted = hasTrustedProxies && isTrusted(trusted, peerIp);
      ctx.peerIp = peerIp;
      ctx.peerTrusted = peerTrusted;
      ctx.clientIp = resolveClientAddress(peerIp, headers['x-forwarded-for'], trusted, peerTrusted);
      const override = headers['x-acgs-color'];
      ctx.colorOverride = override === 'green' || override === 'blue' ? override : null;
      const canonical = canonicalizePath(ctx.path, escapedSlashes);
      if (canonical === null) throw new GatewayError(Errors.BAD_PATH);
      ctx.path = canonical;
      // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (node's own check answers without a body).
      if (headers.host === undefined && req?.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
        throw new GatewayError(Errors.BAD_REQUEST, 'An HTTP/1.1 request needs a Host header');
      }
      // RFC 9110 §10.1.1: an expectation we cannot meet is a 417; 100-continue is the only one there is.
      const expect = headers.expect;
      if (expect !== undefined && expect.toLowerCase() !== '100-continue') {
        throw new GatewayError(Errors.EXPECTATION_FAILED);
      }
      const lines = forwardableClientHeaders(req?.rawHeaders ?? [], headers.connection, peerTrusted, rules);
      if (typeof lines === 'string') throw new GatewayError(Errors.BAD_REQUEST, HEADER_PROBLEMS[lines]);
      ctx.clientHeaders = lines;
    },
  };
}

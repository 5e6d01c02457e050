import type { ServerResponse } from 'node:http';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RequestContext, Stage } from '../../core/types.js';
import type { ServiceTable } from './service-table.js';

/**
 * Which service the request is for (by path prefix, longest first): 404 when none. A declared body over
 * server.maxBodyBytes is refused here, before any stage spends work on it; chunked bodies are counted by
 * the proxy as they stream.
 */
export function createRouteStage(table: ServiceTable, maxBodyBytes: number): Stage {
  return {
    name: 'route',
    run(ctx: RequestContext, _req, res?: ServerResponse) {
      const match = table.match(ctx.path);
      if (match === null) throw new GatewayError(Errors.NOT_FOUND, `No service is routed at ${ctx.path}`);
      ctx.service = match.service.name;
      ctx.rest = match.rest;
      const declared = ctx.headers['content-length'];
      if (declared !== undefined && Number(declared) > maxBodyBytes) {
        if (res) res.shouldKeepAlive = false; // the body will not be read: the connection cannot be reused
        throw new GatewayError(Errors.PAYLOAD_TOO_LARGE);
      }
    },
  };
}

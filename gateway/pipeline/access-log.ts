import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RequestContext, Stage } from '../../core/types.js';

/**
 * One info line per request when server.accessLog is on (it costs a log write each, so it is off by
 * default); a response-side step only.
 */
export function createAccessLogStage(logger: Logger): Stage {
  return {
    name: 'access-log',
    run() {},
    onResponse(ctx: RequestContext, res: ServerResponse) {
      logger.info(
        {
          requestId: ctx.id,
          method: ctx.method,
          path: ctx.path,
          service: ctx.service,
          status: res.writableFinished ? res.statusCode : 499,
          color: ctx.color,
          client: ctx.clientIp,
          sub: ctx.claims?.sub ?? null,
          ms: Math.round(Number(process.hrtime.bigint() - ctx.startedAt) / 1e4) / 100,
        },
        'access',
      );
    },
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { Errors, GatewayError } from '../../core/errors.js';
import type { OutcomeRecorder } from '../../core/outcome.js';
import { type Color, otherColor, type RequestContext } from '../../core/types.js';
import type { Responder } from '../http/responder.js';
import { encodePathForWire } from '../identity/canonical-path.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { BodyLimit } from './body-limit.js';
import type { DeadlineSweep } from './deadlines.js';
import { answerWithError, UpstreamExchange } from './exchange.js';
import { upstreamRequestHeaders } from './headers.js';
import type { ServiceRuntime } from './service-runtime.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface ForwarderOptions {
  readonly metrics: GatewayMetrics;
  readonly recorder: OutcomeRecorder;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  /** server.escapedSlashes is 'keep': the canonical path's '%' escapes go out as they are. */
  readonly keepEscapedSlashes: boolean;
  /** server.sendTimeout: how long a client may leave the response unread before it is cut. */
  readonly sendTimeout: number;
  /** Writes the gateway-made answer (error JSON) when proxying fails before the response started. */
  readonly responder: Responder;
  /** Enforces every exchange's upstream headers and body timeouts. */
  readonly deadlines: DeadlineSweep;
}

/**
 * Sends one request to an upstream of the chosen colour (failing over to the other colour when the
 * service allows it and the chosen one has no upstream left) and hands it to an UpstreamExchange, which
 * relays the answer, retries once where that is safe, and reports the outcome. Synchronous: nothing
 * here waits, so the data plane needs no promise for the proxy stage.
 */
export class Forwarder {
  readonly #opts: ForwarderOptions;

  constructor(opts: ForwarderOptions) {
    this.#opts = opts;
  }

  forward(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    service: ServiceRuntime,
    chosen: Color,
  ): void {
    let color = chosen;
    let upstream = service.pools[color].pick();
    if (upstream === null && service.config.failover) {
      color = otherColor(color);
      upstream = service.pools[color].pick();
    }
    if (upstream === null) {
      const error = new GatewayError(Errors.UPSTREAM_UNAVAILABLE);
      answerWithError(this.#opts, res, ctx, service.name, chosen, error, 'upstream');
      return;
    }

    const hasBody =
      req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    let body: NodeJS.ReadableStream | Buffer | null = null;
    if (ctx.body !== null) {
      body = ctx.body; // a stage read it whole (within its own limit): forward exactly those bytes
    } else if (hasBody) {
      body =
        req.headers['content-length'] === undefined ? req.pipe(new BodyLimit(this.#opts.maxBodyBytes)) : req;
    }
    // The client asked to be told before it sends its body: everything that could refuse the request has
    // run, so this is the moment (RFC 9110 §10.1.1). The upstream never sees the Expect header.
    if (ctx.expectContinue && hasBody && ctx.body === null) res.writeContinue();

    const exchange = new UpstreamExchange(
      this.#opts,
      req,
      res,
      ctx,
      service,
      color,
      {
        method: ctx.method as Dispatcher.HttpMethod,
        restAndQuery:
          encodePathForWire(ctx.rest, this.#opts.keepEscapedSlashes) +
          (ctx.query === '' ? '' : `?${ctx.query}`),
        // Built once: a retry goes to the same colour, and undici does not keep or change the list.
        headers: upstreamRequestHeaders(ctx, color),
        body,
        canRetry: !hasBody && IDEMPOTENT.has(ctx.method),
      },
      upstream,
    );
    ctx.upstreamAbort = exchange;
    exchange.start();
  }
}

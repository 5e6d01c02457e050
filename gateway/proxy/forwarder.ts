import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { Errors, GatewayError } from '../../core/errors.js';
import type { OutcomeRecorder } from '../../core/outcome.js';
import { type Color, otherColor, type RequestContext } from '../../core/types.js';
import type { Responder } from '../http/responder.js';
import { encodePathForWire } from '../identity/canonical-path.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { BodyLimit, PayloadTooLargeError } from './body-limit.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { BodyRelay, type RelayFailure, relayBody } from './relay-body.js';
import type { ServiceRuntime } from './service-runtime.js';
import { UpstreamAbort } from './upstream-abort.js';
import { classifyUpstreamError, errorSpecFor, isRetryable } from './upstream-errors.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

function noop(): void {}

/** A client that stopped reading the response: closing it ends the request as a 499. */
function onSendTimeout(this: ServerResponse): void {
  this.destroy();
}

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
}

/** A relayed response; its end is recorded for the rollout's live window and counted in the metrics. */
class RelayedResponse extends BodyRelay {
  constructor(
    body: Readable,
    res: ServerResponse,
    readonly opts: ForwarderOptions,
    readonly ctx: RequestContext,
    readonly service: string,
    readonly color: Color,
    readonly status: number,
  ) {
    super(body, res);
  }

  relayEnded(failure: RelayFailure | null): void {
    const { opts, ctx, service, color, status } = this;
    const ms = elapsedMs(ctx);
    if (failure === null) {
      opts.recorder.record(service, color, status, ms, false);
      opts.metrics.observeRequest(service, color, status, ms / 1000);
    } else if (failure.by === 'upstream' && !ctx.clientGone) {
      const kind = classifyUpstreamError(failure.error);
      if (kind !== 'other') opts.metrics.upstreamError(service, color, kind);
      opts.recorder.record(service, color, status >= 500 ? status : 502, ms, true);
      opts.metrics.observeRequest(service, color, 502, ms / 1000);
    } else {
      // The client left mid-response (nginx's 499), and the body was cut because it left: not the
      // upstream's failure, so not a rollout error.
      opts.metrics.observeRequest(service, color, 499, ms / 1000);
    }
  }
}

/** Who a failed forward is blamed on: the upstream's colour (live window, breaker) or nobody. */
type Blame = 'upstream' | 'none';

/** Sends one request to an upstream of the chosen colour, with one retry, failover and breakers. */
export class Forwarder {
  readonly #opts: ForwarderOptions;

  constructor(opts: ForwarderOptions) {
    this.#opts = opts;
  }

  async forward(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    service: ServiceRuntime,
    chosen: Color,
  ): Promise<void> {
    let color = chosen;
    let upstream = service.pools[color].pick();
    if (upstream === null && service.config.failover) {
      color = otherColor(color);
      upstream = service.pools[color].pick();
    }
    if (upstream === null) {
      this.#fail(res, ctx, service, chosen, new GatewayError(Errors.UPSTREAM_UNAVAILABLE), 'upstream');
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
    const canRetry = !hasBody && IDEMPOTENT.has(ctx.method);
    const restAndQuery =
      encodePathForWire(ctx.rest, this.#opts.keepEscapedSlashes) + (ctx.query === '' ? '' : `?${ctx.query}`);
    // The client asked to be told before it sends its body: everything that could refuse the request has
    // run, so this is the moment (RFC 9110 §10.1.1). The upstream never sees the Expect header.
    if (ctx.expectContinue && hasBody && ctx.body === null) res.writeContinue();

    const abort = new UpstreamAbort();
    ctx.upstreamAbort = abort;
    // Built once: a retry goes to the same colour, and undici does not keep or change the list.
    const headers = upstreamRequestHeaders(ctx, color);
    let attempt = upstream;
    for (let tries = 0; ; tries++) {
      const target = attempt;
      let response: Dispatcher.ResponseData;
      try {
        response = await target.request({
          path: target.basePath + restAndQuery,
          method: ctx.method as Dispatcher.HttpMethod,
          headers,
          body: body as Dispatcher.DispatchOptions['body'],
          headersTimeout: service.timeouts.headers,
          bodyTimeout: service.timeouts.body,
          signal: abort,
        });
      } catch (err) {
        if (ctx.clientGone) {
          // The client left (during the upload or while we waited): its request ends as a 499 and costs
          // the upstream nothing; the abort signal has already freed the connection.
          ctx.color = color;
          this.#opts.metrics.observeRequest(service.name, color, 499, elapsedMs(ctx) / 1000);
          return;
        }
        if (
          err instanceof PayloadTooLargeError ||
          (err as { cause?: unknown }).cause instanceof PayloadTooLargeError
        ) {
          req.unpipe();
          res.shouldKeepAlive = false; // the rest of the body is unread: the connection cannot be reused
          this.#fail(res, ctx, service, color, new GatewayError(Errors.PAYLOAD_TOO_LARGE), 'none');
          return;
        }
        const kind = classifyUpstreamError(err);
        if (kind === 'other') {
          // Not a failure we know from upstreams: ours until proven otherwise, so nobody's colour pays.
          this.#opts.logger.error(
            { err, requestId: ctx.id, service: service.name, upstream: target.url },
            'unexpected error forwarding a request',
          );
          if (body !== null) res.shouldKeepAlive = false;
          this.#fail(res, ctx, service, color, new GatewayError(Errors.INTERNAL), 'none');
          return;
        }
        this.#opts.metrics.upstreamError(service.name, color, kind);
        // A breaker that opened between pick and call never sent anything, so even a POST may go elsewhere.
        const retry = kind === 'breaker_open' || (canRetry && isRetryable(err));
        if (tries === 0 && retry) {
          // A reset on a reused keep-alive connection (the upstream closed it just as we sent) is worth one
          // more try even on the same upstream: the pool opens a fresh connection for it.
          const next = service.pools[color].pick(target) ?? (kind === 'reset' ? target : null);
          if (next !== null) {
            attempt = next;
            continue;
          }
        }
        if (body !== null) res.shouldKeepAlive = false;
        this.#fail(res, ctx, service, color, new GatewayError(errorSpecFor(kind)), 'upstream');
        return;
      }
      this.#relay(res, ctx, service, color, response);
      return;
    }
  }

  #relay(
    res: ServerResponse,
    ctx: RequestContext,
    service: ServiceRuntime,
    color: Color,
    response: Dispatcher.ResponseData,
  ): void {
    ctx.color = color;
    const status = response.statusCode;
    if (!res.destroyed) {
      const headers = clientResponseHeaders(response.headers);
      headers.push('x-request-id', ctx.id, 'x-acgs-color', color);
      const extra = ctx.responseHeaders;
      for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
      try {
        res.writeHead(status, headers);
      } catch (err) {
        // The upstream sent a header node refuses to repeat (invalid characters, bad status): it lied, so
        // its colour pays, and the client gets a clean 502 instead of a half-written answer.
        response.body.on('error', noop).destroy();
        this.#opts.metrics.upstreamError(service.name, color, 'protocol');
        this.#opts.logger.debug({ err, requestId: ctx.id }, 'upstream response headers refused');
        this.#fail(res, ctx, service, color, new GatewayError(Errors.BAD_GATEWAY), 'upstream');
        return;
      }
    }
    // While the body flows the client's socket is busy; it only idles when the upstream pauses (bounded
    // by the body timeout) or when the client stops reading, which this bounds.
    res.setTimeout(Math.max(this.#opts.sendTimeout, service.timeouts.body + 1000), onSendTimeout);
    relayBody(new RelayedResponse(response.body, res, this.#opts, ctx, service.name, color, status));
  }

  #fail(
    res: ServerResponse,
    ctx: RequestContext,
    service: ServiceRuntime,
    color: Color,
    error: GatewayError,
    blame: Blame,
  ): void {
    ctx.color = color;
    const ms = elapsedMs(ctx);
    if (blame === 'upstream') this.#opts.recorder.record(service.name, color, error.status, ms, true);
    this.#opts.metrics.observeRequest(service.name, color, error.status, ms / 1000);
    this.#opts.responder.dataError(res, ctx, error, color);
  }
}

function elapsedMs(ctx: RequestContext): number {
  return Number(process.hrtime.bigint() - ctx.startedAt) / 1e6;
}

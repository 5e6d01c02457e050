import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { Errors, GatewayError } from '../core/errors.js';
import { type Color, otherColor, type RequestContext } from '../core/types.js';
import { encodePathForWire } from '../identity/canonical-path.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { BodyLimit, PayloadTooLargeError } from './body-limit.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { OutcomeRecorder } from './outcome.js';
import { relayBody } from './relay-body.js';
import type { ServiceRuntime } from './service-runtime.js';
import type { Upstream } from './upstream.js';
import { classifyUpstreamError, errorSpecFor, isRetryable } from './upstream-errors.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface ForwarderOptions {
  readonly metrics: GatewayMetrics;
  readonly recorder: OutcomeRecorder;
  readonly maxBodyBytes: number;
  /** Identity header names only the auth stage may set; stripped from every client request. */
  readonly identityHeaders: ReadonlySet<string>;
  /** Called with a gateway-made answer (error JSON) when proxying fails before the response started. */
  readonly sendError: (
    res: ServerResponse,
    ctx: RequestContext,
    error: GatewayError,
    color: Color | null,
  ) => void;
}

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
    peerTrusted: boolean,
  ): Promise<void> {
    let color = chosen;
    let upstream = service.pools[color].pick();
    if (upstream === null && service.config.failover) {
      color = otherColor(color);
      upstream = service.pools[color].pick();
    }
    if (upstream === null) {
      this.#fail(res, ctx, service, chosen, new GatewayError(Errors.UPSTREAM_UNAVAILABLE), false);
      return;
    }

    const hasBody =
      req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    let body: NodeJS.ReadableStream | null = null;
    if (hasBody) {
      body =
        req.headers['content-length'] === undefined ? req.pipe(new BodyLimit(this.#opts.maxBodyBytes)) : req;
    }
    const canRetry = !hasBody && IDEMPOTENT.has(ctx.method);
    const restAndQuery = encodePathForWire(ctx.rest) + (ctx.query === '' ? '' : `?${ctx.query}`);

    let attempt = upstream;
    for (let tries = 0; ; tries++) {
      const headers = upstreamRequestHeaders(
        req.rawHeaders,
        ctx,
        color,
        peerTrusted,
        this.#opts.identityHeaders,
      );
      const target = attempt;
      try {
        const response = await target.call(() =>
          target.pool.request({
            path: target.basePath + restAndQuery,
            method: ctx.method as Dispatcher.HttpMethod,
            headers,
            body: body as Dispatcher.DispatchOptions['body'],
            headersTimeout: service.timeouts.headers,
            bodyTimeout: service.timeouts.body,
          }),
        );
        this.#relay(res, ctx, service, color, response);
        return;
      } catch (err) {
        if (
          err instanceof PayloadTooLargeError ||
          (err as { cause?: unknown }).cause instanceof PayloadTooLargeError
        ) {
          req.unpipe();
          this.#fail(res, ctx, service, color, new GatewayError(Errors.PAYLOAD_TOO_LARGE), false);
          return;
        }
        if (res.destroyed) return; // the client went away: nobody to answer (req.destroyed only means its body was read)
        const kind = classifyUpstreamError(err);
        this.#opts.metrics.upstreamError(service.name, color, kind);
        // A breaker that opened between pick and call never sent anything, so even a POST may go elsewhere.
        const retry = kind === 'breaker_open' || (canRetry && isRetryable(err));
        if (tries === 0 && retry) {
          const next = service.pools[color].pick(target);
          if (next !== null) {
            attempt = next;
            continue;
          }
        }
        this.#fail(res, ctx, service, color, new GatewayError(errorSpecFor(kind)), kind !== 'breaker_open');
        return;
      }
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
    const headers = clientResponseHeaders(response.headers);
    headers.push('x-request-id', ctx.id, 'x-acgs-color', color);
    const extra = ctx.responseHeaders;
    for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
    const status = response.statusCode;
    res.writeHead(status, headers);
    relayBody(response.body, res, (failure) => {
      const ms = elapsedMs(ctx);
      if (failure === null) {
        this.#opts.recorder.record(service.name, color, status, ms, false);
        this.#opts.metrics.observeRequest(service.name, color, status, ms / 1000);
      } else if (failure.by === 'upstream') {
        const kind = classifyUpstreamError(failure.error);
        if (kind !== 'other') this.#opts.metrics.upstreamError(service.name, color, kind);
        this.#opts.recorder.record(service.name, color, status >= 500 ? status : 502, ms, true);
        this.#opts.metrics.observeRequest(service.name, color, 502, ms / 1000);
      } else {
        // The client left mid-response (nginx's 499): not the upstream's failure, so not a rollout error.
        this.#opts.recorder.record(service.name, color, status, ms, false);
        this.#opts.metrics.observeRequest(service.name, color, 499, ms / 1000);
      }
    });
  }

  #fail(
    res: ServerResponse,
    ctx: RequestContext,
    service: ServiceRuntime,
    color: Color,
    error: GatewayError,
    transport: boolean,
  ): void {
    ctx.color = color;
    const ms = elapsedMs(ctx);
    this.#opts.recorder.record(service.name, color, error.status, ms, transport || error.status >= 500);
    this.#opts.metrics.observeRequest(service.name, color, error.status, ms / 1000);
    this.#opts.sendError(res, ctx, error, color);
  }

  /** Upstreams whose pools are used, for shutdown. */
  static upstreamsOf(service: ServiceRuntime): Upstream[] {
    return [...service.pools.blue.upstreams, ...service.pools.green.upstreams];
  }
}

function elapsedMs(ctx: RequestContext): number {
  return Number(process.hrtime.bigint() - ctx.startedAt) / 1e6;
}

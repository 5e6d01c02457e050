// The one writer of every answer the gateway makes itself, on both planes: the JSON error shape of the
// contract, one content type, and the one place acgs_gateway_responses_total is counted. Domain errors
// (rollout, policy bundles) are mapped to HTTP here, at the edge, and nowhere else.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorSpec, Errors, errorBody, GatewayError } from '../../core/errors.js';
import type { Color, RequestContext } from '../../core/types.js';
import {
  InvalidRolloutParamsError,
  RolloutConflictError,
  RolloutNotFoundError,
  RolloutStateUnavailableError,
} from '../../rollout/errors.js';
import { requestIdFor } from '../identity/request-id.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { BundleError } from '../policy/bundle-error.js';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** The HTTP meaning of an error thrown below the edge, or null when it is not a known refusal (a bug). */
export function toGatewayError(err: unknown): GatewayError | null {
  if (err instanceof GatewayError) return err;
  if (err instanceof RolloutNotFoundError) return new GatewayError(Errors.NOT_FOUND, err.message);
  if (err instanceof RolloutConflictError) return new GatewayError(Errors.CONFLICT, err.message);
  if (err instanceof InvalidRolloutParamsError) return new GatewayError(Errors.BAD_REQUEST, err.message);
  if (err instanceof RolloutStateUnavailableError)
    return new GatewayError(Errors.STATE_UNAVAILABLE, err.message, { 'retry-after': '1' });
  if (err instanceof BundleError) {
    const spec =
      err.status === 400
        ? Errors.BAD_REQUEST
        : err.status === 502
          ? Errors.BAD_GATEWAY
          : Errors.UNPROCESSABLE;
    return new GatewayError(spec, err.message);
  }
  return null;
}

export class Responder {
  readonly #metrics: GatewayMetrics;

  constructor(metrics: GatewayMetrics) {
    this.#metrics = metrics;
  }

  /**
   * A data-plane answer. Headers from the error (Retry-After, WWW-Authenticate) win over the same names
   * collected on the context (RateLimit-*). When the response has already started, the only honest signal
   * left is to close the connection.
   */
  dataError(res: ServerResponse, ctx: RequestContext, error: GatewayError, color: Color | null): void {
    this.#metrics.gatewayResponse('data', error.code);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A refused `Expect: 100-continue` request never got its 100: its body may or may not follow, so the
    // connection cannot be trusted for another request.
    if (ctx.expectContinue) res.shouldKeepAlive = false;
    const body = errorBody(error.code, error.message, ctx.id, error.details);
    const headers: string[] = [
      'content-type',
      JSON_CONTENT_TYPE,
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

  /**
   * node's HTTP parser rejects a request before any handler runs (headers too large, malformed request
   * line, a slow client past headersTimeout): the answer goes straight to the socket, then it is closed.
   */
  readonly parserError = (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      (socket as Socket & { _httpMessage?: unknown })._httpMessage
    ) {
      socket.destroy();
      return;
    }
    let spec: ErrorSpec = Errors.BAD_REQUEST;
    if (err.code === 'HPE_HEADER_OVERFLOW') spec = Errors.HEADERS_TOO_LARGE;
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') spec = Errors.REQUEST_TIMEOUT;
    this.#metrics.gatewayResponse('data', spec.code);
    const body = errorBody(spec.code, spec.message, requestIdFor(undefined));
    socket.end(
      `HTTP/1.1 ${spec.status} ${spec.code}\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  /** An admin-plane answer, in the same shape and content type. */
  adminError(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
    this.#metrics.gatewayResponse('admin', error.code);
    if (error.headers) reply.headers(error.headers);
    return reply
      .code(error.status)
      .header('content-type', JSON_CONTENT_TYPE)
      .send(errorBody(error.code, error.message, String(request.id), error.details));
  }

  /**
   * The admin server's error handler: known refusals get their status; fastify's own 4xx (bad JSON, too
   * large, wrong content type) keep theirs; anything else is a bug, logged with its stack, answered 500.
   */
  readonly adminErrorHandler = (
    err: Error & { statusCode?: number },
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply => {
    const known = toGatewayError(err);
    if (known) return this.adminError(request, reply, known);
    const status = err.statusCode ?? 500;
    if (status === 413) return this.adminError(request, reply, new GatewayError(Errors.PAYLOAD_TOO_LARGE));
    if (status === 415)
      return this.adminError(request, reply, new GatewayError(Errors.UNSUPPORTED_MEDIA_TYPE, err.message));
    if (status >= 400 && status < 500)
      return this.adminError(request, reply, new GatewayError(Errors.BAD_REQUEST, err.message));
    request.log.error({ err }, 'admin request failed');
    return this.adminError(request, reply, new GatewayError(Errors.INTERNAL));
  };
}

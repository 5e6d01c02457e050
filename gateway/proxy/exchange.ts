import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Dispatcher, errors } from 'undici';
import { Errors, GatewayError } from '../../core/errors.js';
import type { Color, RequestContext } from '../../core/types.js';
import { PayloadTooLargeError } from './body-limit.js';
import { BreakerOpenError } from './breaker.js';
import type { Deadline } from './deadlines.js';
import type { ForwarderOptions } from './forwarder.js';
import { relayedResponseHeaders } from './headers.js';
import type { ServiceRuntime } from './service-runtime.js';
import type { Upstream } from './upstream.js';
import { classifyUpstreamError, errorSpecFor, isRetryable } from './upstream-errors.js';

/** Where an exchange is: waiting for the answer's head, relaying its body, or done (reported once). */
const WAITING = 0;
const RELAYING = 1;
const ENDED = 2;

/** Who a failed exchange is blamed on: the upstream's colour (live window, breaker) or nobody. */
export type Blame = 'upstream' | 'none';

/** A client that stopped reading the response: closing it ends the request as a 499. */
function onSendTimeout(this: ServerResponse): void {
  this.destroy();
}

/** What an exchange sends: the request as the forwarder prepared it, the same for every attempt. */
export interface OutgoingRequest {
  readonly method: Dispatcher.HttpMethod;
  /** Service-relative path and query, already encoded for the wire. */
  readonly restAndQuery: string;
  readonly headers: string[];
  /** Exact bytes a stage read, the streaming request body, or null for none. */
  readonly body: Buffer | NodeJS.ReadableStream | null;
  /** Bodiless and idempotent: may go out a second time after a transport failure. */
  readonly canRetry: boolean;
}

/**
 * One request's trip to an upstream and back, written as an undici dispatch handler: the answer's head is
 * written to the client as it arrives and every body chunk goes straight into `res.write`, with undici's
 * parser paused while the client's socket is full. `pool.request()` would wrap the same callbacks in a
 * promise, a header object and a Readable that is then piped: a few objects and ~7 µs of CPU per request
 * that a relay does not need. It is also the `ctx.upstreamAbort` the data plane calls when the client
 * leaves, so no signal emitter is needed either.
 *
 * The callbacks are undici's dispatch-handler interface (onConnect, onHeaders, onData, onComplete,
 * onError). undici 7 marks them deprecated in favour of controller-based ones, but its own request API is
 * built on them and the controller form re-wraps every call (a controller object and a parsed header
 * object per response), so these stay until undici drops them.
 *
 * Every exchange reports its end exactly once (the phase guards it): to the rollout's live window and the
 * metrics, or, when the client left first, as a 499 that is nobody's failure. The breaker of the upstream
 * it went to hears exactly one outcome per attempt.
 *
 * The upstream timeouts are the forwarder's deadline sweep's, not undici's (its per-request timers are
 * switched off): the headers timeout runs from the last progress of the request's upload (its end, for
 * most) to the answer's head, then the body timeout between chunks, suspended while the client's socket is
 * full.
 * An expired one cancels the attempt with undici's own timeout error, so it ends as undici's would have.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler, Deadline {
  deadlineAt = 0;
  deadlineNext: Deadline | null = null;
  deadlinePrev: Deadline | null = null;
  #phase = WAITING;
  #tries = 0;
  #target: Upstream;
  /** undici's cancel for the attempt in flight; null until the pool hands the request to a connection. */
  #cancel: ((err?: Error) => void) | null = null;
  #clientLeft = false;
  #status = 0;
  /** A body chunk of the answer reached onData (the head then goes out with it). */
  #bodyStarted = false;
  /** The request (its body, if any) is still being written to the upstream. */
  #uploading = false;
  #resume: (() => void) | null = null;
  /** Made on the first full client socket only: most responses never wait for one. */
  #onDrain: (() => void) | null = null;

  constructor(
    readonly opts: ForwarderOptions,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly ctx: RequestContext,
    readonly service: ServiceRuntime,
    readonly color: Color,
    readonly request: OutgoingRequest,
    first: Upstream,
  ) {
    this.#target = first;
  }

  /**
   * The client is gone: it called abort() (the data plane does, on the response's close) or, as a guard,
   * the context says so. Every outcome below checks this first: such a request is nobody's failure.
   */
  get #clientGone(): boolean {
    return this.#clientLeft || this.ctx.clientGone;
  }

  /** Sends the request to the first upstream; everything after happens in the callbacks. */
  start(): void {
    this.#send(this.#target);
  }

  /** The client left (the data plane calls this): cancel the attempt, freeing its upstream connection. */
  abort(): void {
    if (this.#clientLeft) return;
    this.#clientLeft = true;
    if (this.#phase !== ENDED && this.#cancel !== null) this.#cancel(new errors.RequestAbortedError());
  }

  #send(target: Upstream): void {
    this.#target = target;
    this.#cancel = null;
    const r = this.request;
    const sent = target.dispatch(
      {
        path: target.basePath + r.restAndQuery,
        method: r.method,
        headers: r.headers,
        body: r.body as Dispatcher.DispatchOptions['body'],
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      this,
    );
    // A breaker that opened between pick and send: nothing went out, so even a POST may go elsewhere.
    if (sent) return;
    try {
      this.#noAnswer(new BreakerOpenError());
    } catch (bug) {
      this.#bug(bug); // a retry runs from a microtask, where a throw would be an uncaught exception
    }
  }

  // ── undici's callbacks ───────────────────────────────────────────────────────────────────────────

  onConnect(cancel: (err?: Error) => void): void {
    // The client left while the request waited in the pool's queue: it never goes out.
    if (this.#clientLeft) {
      cancel(new errors.RequestAbortedError());
      return;
    }
    this.#cancel = cancel;
    // The headers deadline is armed once something went out (onBodySent, onRequestSent); for a request
    // without a body both run before the dispatch returns, so arming here would only be overwritten.
    this.#uploading = true;
  }

  /** Part of the request body went out: an upload that moves is not a stalled upstream. */
  onBodySent(): void {
    if (this.#phase === WAITING) this.opts.deadlines.arm(this, this.service.timeouts.headers);
  }

  /** The whole request went out: the headers timeout counts from here (as undici's does). */
  onRequestSent(): void {
    this.#uploading = false;
    if (this.#phase === WAITING) this.opts.deadlines.arm(this, this.service.timeouts.headers);
  }

  /** The sweep found the headers or the body timeout expired: cancel with the error undici would give. */
  onDeadline(): void {
    const cancel = this.#cancel;
    if (cancel === null || this.#phase === ENDED) return;
    if (this.#phase === RELAYING) {
      cancel(new errors.BodyTimeoutError('Body Timeout Error'));
      return;
    }
    // Still uploading and the upstream reads what it is sent: the client is the slow one (the server's
    // requestTimeout bounds it), and that is not the upstream's failure. Only an upload held back by the
    // upstream (undici paused the body: its socket is full) times out here, as undici's own timer would.
    if (this.#uploading && !this.#uploadHeldBack()) {
      this.opts.deadlines.arm(this, this.service.timeouts.headers);
      return;
    }
    cancel(new errors.HeadersTimeoutError('Headers Timeout Error'));
  }

  #uploadHeldBack(): boolean {
    const body = this.request.body;
    return body !== null && !Buffer.isBuffer(body) && body.isPaused();
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (103 Early Hints): informational, the final answer follows on the same request.
    if (status < 200) return true;
    if (this.#phase !== WAITING) return false;
    this.#target.answered();
    this.#phase = RELAYING;
    this.#status = status;
    this.#resume = resume;
    const { res, ctx, color } = this;
    ctx.color = color;
    if (res.destroyed) {
      // The client is gone but its 'close' has not run yet: cancel now rather than read a body for nobody.
      this.abort();
      return false;
    }
    const headers = relayedResponseHeaders(rawHeaders);
    headers.push('x-request-id', ctx.id, 'x-acgs-color', color);
    const extra = ctx.responseHeaders;
    for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
    try {
      res.writeHead(status, headers);
    } catch (err) {
      // The upstream sent a header node refuses to repeat (invalid characters, bad status): it lied, so its
      // colour pays, and the client gets a clean 502 instead of a half-written answer.
      this.opts.metrics.upstreamError(this.service.name, color, 'protocol');
      this.opts.logger.debug({ err, requestId: ctx.id }, 'upstream response headers refused');
      this.#fail(new GatewayError(Errors.BAD_GATEWAY), 'upstream');
      this.#cancel?.(err as Error);
      return false;
    }
    // While the body flows the client's socket is busy; it only idles when the upstream pauses (bounded by
    // the body timeout) or when the client stops reading, which this bounds.
    res.setTimeout(Math.max(this.opts.sendTimeout, this.service.timeouts.body + 1000), onSendTimeout);
    this.opts.deadlines.arm(this, this.service.timeouts.body);
    // node sends the head with the first body write; an upstream that sends its head and then waits (an
    // event stream, a long poll) must not leave the client without it. The body usually came in the same
    // read and is already written by the next tick, so this rarely costs a write of its own.
    process.nextTick(UpstreamExchange.#flushHeadWithoutBody, this);
    return true;
  }

  static #flushHeadWithoutBody(exchange: UpstreamExchange): void {
    if (exchange.#phase === RELAYING && !exchange.#bodyStarted && !exchange.res.destroyed)
      exchange.res.flushHeaders();
  }

  onData(chunk: Buffer): boolean {
    this.#bodyStarted = true;
    const res = this.res;
    // The client left: its 'close' cancels this exchange; until then, read nothing more.
    if (res.destroyed) return false;
    const deadlines = this.opts.deadlines;
    if (res.write(chunk)) {
      deadlines.arm(this, this.service.timeouts.body);
      return true;
    }
    // The client's socket is full: pause undici's parser (and so the upstream) until it drains. The upstream
    // is not idle meanwhile but held back, so its body timeout waits too (the send timeout bounds the client).
    deadlines.disarm(this);
    this.#onDrain ??= () => {
      if (this.#phase !== RELAYING) return;
      this.opts.deadlines.arm(this, this.service.timeouts.body);
      this.#resume!();
    };
    res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    this.opts.deadlines.disarm(this);
    if (this.#phase !== RELAYING) return;
    this.#phase = ENDED;
    const { res, opts, ctx, color, service } = this;
    if (res.destroyed || this.#clientGone) {
      this.#endAsClientLeft();
      return;
    }
    const ms = elapsedMs(ctx);
    res.end();
    // The upstream delivered its whole answer: that is what the rollout's live window judges it on, even if
    // the client leaves before the last bytes leave our socket (the data plane counts that as a 499).
    opts.recorder.record(service.name, color, this.#status, ms, false);
    opts.metrics.observeRequest(service.name, color, this.#status, ms / 1000);
  }

  onError(err: Error): void {
    this.opts.deadlines.disarm(this);
    try {
      if (this.#phase === WAITING) {
        if (this.#clientGone) this.#target.abandoned();
        else this.#target.failed(err);
        this.#noAnswer(err);
      } else if (this.#phase === RELAYING) {
        this.#bodyFailed(err);
      }
    } catch (bug) {
      this.#bug(bug); // never throw here: undici would re-emit it as the pool's 'error' event
    }
  }

  /** A bug of ours while ending the exchange: logged, and the client's connection closed (it gets a 499). */
  #bug(bug: unknown): void {
    this.#phase = ENDED;
    this.opts.logger.error({ err: bug, requestId: this.ctx.id }, 'failed ending an upstream exchange');
    this.res.destroy();
  }

  // ── outcomes ─────────────────────────────────────────────────────────────────────────────────────

  /** The attempt failed before the answer's head: retry once, or answer the client with an error. */
  #noAnswer(err: Error): void {
    const { opts, req, res, ctx, service, color } = this;
    if (this.#clientGone) {
      // The client left (during the upload or while we waited): it cost the upstream nothing; the cancel
      // has already freed the connection.
      this.#endAsClientLeft();
      return;
    }
    const hasBody = this.request.body !== null;
    if (
      err instanceof PayloadTooLargeError ||
      (err as { cause?: unknown }).cause instanceof PayloadTooLargeError
    ) {
      req.unpipe();
      res.shouldKeepAlive = false; // the rest of the body is unread: the connection cannot be reused
      this.#fail(new GatewayError(Errors.PAYLOAD_TOO_LARGE), 'none');
      return;
    }
    const target = this.#target;
    const kind = classifyUpstreamError(err);
    if (kind === 'other') {
      // Not a failure we know from upstreams: ours until proven otherwise, so nobody's colour pays.
      opts.logger.error(
        { err, requestId: ctx.id, service: service.name, upstream: target.url },
        'unexpected error forwarding a request',
      );
      if (hasBody) res.shouldKeepAlive = false;
      this.#fail(new GatewayError(Errors.INTERNAL), 'none');
      return;
    }
    opts.metrics.upstreamError(service.name, color, kind);
    const retry = kind === 'breaker_open' || (this.request.canRetry && isRetryable(err));
    if (this.#tries === 0 && retry) {
      // A reset on a reused keep-alive connection (the upstream closed it just as we sent) is worth one more
      // try even on the same upstream: the pool opens a fresh connection for it.
      const next = service.pools[color].pick(target) ?? (kind === 'reset' ? target : null);
      if (next !== null) {
        this.#tries++;
        // Not from inside undici's error callback: the pool is still tearing down the failed connection
        // and could hand the retry the same dying socket. A microtask later, as its own API would.
        queueMicrotask(() => this.#send(next));
        return;
      }
    }
    if (hasBody) res.shouldKeepAlive = false;
    this.#fail(new GatewayError(errorSpecFor(kind)), 'upstream');
  }

  /** The body broke off after the head was sent: closing the connection is the only honest signal left. */
  #bodyFailed(err: Error): void {
    if (this.#clientGone) {
      // Cut because the client left: not the upstream's failure, so not a rollout error.
      this.#endAsClientLeft();
      return;
    }
    this.#phase = ENDED;
    const { opts, res, ctx, service, color } = this;
    const ms = elapsedMs(ctx);
    res.destroy(err);
    const kind = classifyUpstreamError(err);
    if (kind !== 'other') opts.metrics.upstreamError(service.name, color, kind);
    const status = this.#status;
    opts.recorder.record(service.name, color, status >= 500 ? status : 502, ms, true);
    opts.metrics.observeRequest(service.name, color, 502, ms / 1000);
  }

  /** Ends as nginx's 499: counted for the service and colour, never in the live window or the breaker. */
  #endAsClientLeft(): void {
    this.#phase = ENDED;
    this.ctx.color = this.color;
    this.opts.metrics.observeRequest(this.service.name, this.color, 499, elapsedMs(this.ctx) / 1000);
  }

  /** Answers the client with the gateway's own error, before any of the upstream's answer was sent. */
  #fail(error: GatewayError, blame: Blame): void {
    this.#phase = ENDED;
    answerWithError(this.opts, this.res, this.ctx, this.service.name, this.color, error, blame);
  }
}

/**
 * The gateway's own error answer for a request the proxy could not forward: counted for the service and
 * colour, and in the colour's live window when the upstream side is to blame (unreachable, too slow, lying).
 */
export function answerWithError(
  opts: ForwarderOptions,
  res: ServerResponse,
  ctx: RequestContext,
  service: string,
  color: Color,
  error: GatewayError,
  blame: Blame,
): void {
  ctx.color = color;
  const ms = elapsedMs(ctx);
  if (blame === 'upstream') opts.recorder.record(service, color, error.status, ms, true);
  opts.metrics.observeRequest(service, color, error.status, ms / 1000);
  opts.responder.dataError(res, ctx, error, color);
}

function elapsedMs(ctx: RequestContext): number {
  return Number(process.hrtime.bigint() - ctx.startedAt) / 1e6;
}

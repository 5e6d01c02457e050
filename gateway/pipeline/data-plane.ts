import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RequestContext, Stage } from '../../core/types.js';
import { type Responder, toGatewayError } from '../http/responder.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';

export interface DataPlaneOptions {
  /** The provisioned stages in table order (gateway/modules.ts); the proxy is the last. */
  readonly stages: readonly Stage[];
  readonly responder: Responder;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}

/** The request context of a response, for the shared 'close' listener (no closure per request). */
const kContext = Symbol('acgs.context');
// The responses of one connection that have not ended yet (pipelined requests queue up behind the first),
// as a doubly linked list threaded through the responses themselves: the socket holds the first, each
// response its neighbours. A Set per connection allocated a new hash table on nearly every add and delete
// (V8 shrinks a set that falls to a quarter of its capacity), once per request.
const kFirstOpen = Symbol('acgs.firstOpen');
const kPrevOpen = Symbol('acgs.prevOpen');
const kNextOpen = Symbol('acgs.nextOpen');
const kSocket = Symbol('acgs.socket');
type TrackedResponse = ServerResponse & {
  [kContext]?: RequestContext;
  [kSocket]?: TrackedSocket;
  [kPrevOpen]?: TrackedResponse;
  [kNextOpen]?: TrackedResponse;
};
/** kFirstOpen: undefined until the connection's first request (no 'close' listener yet), null when empty. */
type TrackedSocket = Socket & { [kFirstOpen]?: TrackedResponse | null };

const NO_HEADERS: readonly string[] = Object.freeze([]);

/**
 * The data plane's request handler: makes the request context, runs the stages in order (each either
 * continues, stops with a local reply by throwing a GatewayError, or answers itself, as the proxy does),
 * and ends every request exactly once, counting it by how it ended.
 */
export class DataPlane {
  readonly #stages: readonly Stage[];
  readonly #responseSteps: readonly Stage[];
  readonly #responder: Responder;
  readonly #metrics: GatewayMetrics;
  readonly #logger: Logger;
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  /** Runs once per request when its response closes, however it ended; `this` is the response. */
  readonly #onClose: (this: TrackedResponse) => void;
  /** Runs once per connection when it closes; `this` is the socket. */
  readonly #onSocketClose: (this: TrackedSocket) => void;

  constructor(options: DataPlaneOptions) {
    this.#stages = options.stages;
    this.#responseSteps = options.stages.filter((s) => s.onResponse !== undefined);
    this.#responder = options.responder;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    const plane = this;
    this.#onClose = function (this: TrackedResponse) {
      plane.#ended(this);
    };
    // node emits 'close' only for the response attached to the socket: the responses of pipelined
    // requests queued behind it never close when the client hangs up. Left alone, each would stay in
    // flight for ever with its upstream request, and drain would never finish (a client could pile them
    // up at will), so every response still open on a closed connection ends here, as a 499.
    this.#onSocketClose = function (this: TrackedSocket) {
      let res = this[kFirstOpen];
      while (res !== undefined && res !== null) {
        const next = res[kNextOpen];
        plane.#ended(res);
        res = next;
      }
    };
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Stop advertising readiness and ask clients to reconnect elsewhere; resolves when nothing is in flight. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#start(req, res, false);
  };

  /**
   * The server's 'checkContinue' listener: a request with `Expect: 100-continue` runs the same stages,
   * and the proxy sends `100 Continue` only once every stage let it through, so a refused upload is
   * refused before its body is sent.
   */
  readonly handleExpectContinue = (req: IncomingMessage, res: ServerResponse): void => {
    this.#start(req, res, true);
  };

  #start(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    this.#inFlight++;
    this.#metrics.requestReceived();
    const ctx = newContext(req, expectContinue);
    const tracked = res as TrackedResponse;
    tracked[kContext] = ctx;
    // `on`, not `once`: a response closes once, #ended ignores a second call, and `once` would allocate
    // a wrapper per request.
    res.on('close', this.#onClose);
    // One listener per connection, not per request; the response joins the front of its connection's list.
    const socket = req.socket as TrackedSocket;
    const first = socket[kFirstOpen];
    if (first === undefined) socket.once('close', this.#onSocketClose);
    tracked[kSocket] = socket;
    tracked[kPrevOpen] = undefined;
    tracked[kNextOpen] = first ?? undefined;
    if (first !== undefined && first !== null) first[kPrevOpen] = tracked;
    socket[kFirstOpen] = tracked;
    if (this.#draining) res.shouldKeepAlive = false;
    this.#runFrom(0, req, res, ctx);
  }

  /**
   * Runs the stages from `first` on. Synchronous stages run in one loop, with no promise per request; a
   * stage that returns a promise (a body read, a token verification, the proxy) continues the chain when
   * it settles. The safety net: whatever a stage throws or rejects with becomes an answer in the JSON
   * shape; a bug is a 500, logged with its stack.
   */
  #runFrom(first: number, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    const stages = this.#stages;
    for (let i = first; i < stages.length; i++) {
      let pending: void | Promise<void>;
      try {
        pending = stages[i]!.run(ctx, req, res);
      } catch (err) {
        this.#fail(res, ctx, err);
        return;
      }
      if (pending !== undefined) {
        // The last stage (the proxy) has nothing to continue: only its failure needs a handler.
        if (i === stages.length - 1) {
          pending.then(undefined, (err: unknown) => this.#fail(res, ctx, err));
          return;
        }
        pending.then(
          () => {
            if (!res.headersSent && !ctx.clientGone) this.#runFrom(i + 1, req, res, ctx);
          },
          (err: unknown) => this.#fail(res, ctx, err),
        );
        return;
      }
      // A stage that answered (health, the proxy) ends the chain, as does a client that left.
      if (res.headersSent || ctx.clientGone) return;
    }
  }

  /**
   * Every request ends here exactly once: counted by how it ended, and when the client left first (499),
   * the upstream request still in flight is cancelled so its connection is freed at once.
   */
  #ended(res: TrackedResponse): void {
    const ctx = res[kContext];
    if (ctx === undefined) return; // already ended (its connection closed first, or the other way round)
    res[kContext] = undefined;
    unlinkOpen(res);
    if (res.writableFinished) {
      this.#metrics.requestEnded(res.statusCode);
    } else {
      ctx.clientGone = true;
      this.#metrics.requestEnded(499);
      ctx.upstreamAbort?.abort();
      this.#logger.debug(
        { requestId: ctx.id, path: ctx.path, service: ctx.service },
        'client closed the connection before the response was complete',
      );
    }
    const steps = this.#responseSteps;
    for (let i = 0; i < steps.length; i++) steps[i]!.onResponse!(ctx, res);
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle !== null) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }

  #fail(res: ServerResponse, ctx: RequestContext, err: unknown): void {
    if (ctx.clientGone) return; // nobody is left to answer; counted as 499 when the response closed
    let error = toGatewayError(err);
    if (error === null) {
      this.#logger.error(
        { err, requestId: ctx.id, path: ctx.path },
        'unexpected error in the request pipeline',
      );
      error = new GatewayError(Errors.INTERNAL);
    }
    this.#responder.dataError(res, ctx, error, null);
  }
}

/** Takes an ended response out of its connection's list of open ones. */
function unlinkOpen(res: TrackedResponse): void {
  const socket = res[kSocket];
  if (socket === undefined) return;
  const prev = res[kPrevOpen];
  const next = res[kNextOpen];
  if (prev !== undefined) prev[kNextOpen] = next;
  else socket[kFirstOpen] = next ?? null;
  if (next !== undefined) next[kPrevOpen] = prev;
  res[kSocket] = undefined;
  res[kPrevOpen] = undefined;
  res[kNextOpen] = undefined;
}

/** The context as the request arrives; the identity stage fills in what it derives. */
function newContext(req: IncomingMessage, expectContinue: boolean): RequestContext {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    startedAt: process.hrtime.bigint(),
    method: req.method ?? 'GET',
    headers: req.headers,
    query: q === -1 ? '' : url.slice(q + 1),
    expectContinue,
    clientGone: false,
    id: '',
    peerIp: '',
    peerTrusted: false,
    clientIp: '',
    path: q === -1 ? url : url.slice(0, q),
    clientHeaders: NO_HEADERS,
    colorOverride: null,
    service: null,
    rest: '/',
    claims: null,
    upstreamHeaders: [],
    body: null,
    screening: null,
    overrideAllowed: false,
    color: null,
    upstreamAbort: null,
    responseHeaders: [],
  };
}

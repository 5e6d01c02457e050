import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { Errors, GatewayError } from '../core/errors.js';
import type { Color, RequestContext, Stage } from '../core/types.js';
import { canonicalizePath } from '../identity/canonical-path.js';
import { isTrusted, normalizeAddress, resolveClientAddress } from '../identity/client-address.js';
import {
  forwardableClientHeaders,
  type HeaderRejection,
  type HeaderRules,
} from '../identity/request-headers.js';
import { requestIdFor } from '../identity/request-id.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { Forwarder } from '../proxy/forwarder.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { ServiceTable } from '../routing/service-table.js';
import { bucketOf, isGreenBucket } from '../routing/sticky.js';
import type { WeightStore } from '../routing/weight-store.js';
import { writeError } from './respond.js';
import { newStickyId, readCookie, stickySetCookie } from './sticky-cookie.js';

/** Something /readyz asks; returns null when ready, else the reason. */
export type ReadinessCheck = () => string | null | Promise<string | null>;

export interface DataPlaneOptions {
  readonly config: ResolvedConfig;
  readonly table: ServiceTable;
  readonly runtimes: ReadonlyMap<string, ServiceRuntime>;
  readonly weights: WeightStore;
  /** In pipeline order: rate limit (address), JWT, rate limit (subject), policy. */
  readonly stages: readonly Stage[];
  readonly forwarder: Forwarder;
  /** Which client header lines may travel upstream (identity step). */
  readonly headerRules: HeaderRules;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly readiness: readonly ReadinessCheck[];
}

/** The request context of a response, for the shared 'close' listener (no closure per request). */
const kContext = Symbol('acgs.context');
type TrackedResponse = ServerResponse & { [kContext]?: RequestContext };

const NO_HEADERS: readonly string[] = Object.freeze([]);

/**
 * The request pipeline of DESIGN.md: identity → stages (rate limit, JWT, policy) → route → proxy.
 * One RequestContext per request carries everything the stages derive, so nothing is computed twice.
 */
export class DataPlane {
  readonly #o: DataPlaneOptions;
  readonly #hasTrustedProxies: boolean;
  readonly #cookie: ResolvedConfig['server']['stickyCookie'];
  readonly #accessLog: boolean;
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  /** Runs once per request when its response closes, however it ended; `this` is the response. */
  readonly #onClose: (this: TrackedResponse) => void;

  constructor(options: DataPlaneOptions) {
    this.#o = options;
    const plane = this;
    this.#onClose = function (this: TrackedResponse) {
      plane.#ended(this);
    };
    this.#hasTrustedProxies = options.config.server.trustedProxies.length > 0;
    this.#cookie = options.config.server.stickyCookie;
    this.#accessLog = options.config.server.accessLog;
  }

  get inFlight(): number {
    return this.#inFlight;
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
   * The server's 'checkContinue' listener: a request with `Expect: 100-continue` runs the same pipeline,
   * and the proxy sends `100 Continue` only once every stage let it through, so a refused upload is
   * refused before its body is sent.
   */
  readonly handleExpectContinue = (req: IncomingMessage, res: ServerResponse): void => {
    this.#start(req, res, true);
  };

  #start(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    this.#inFlight++;
    this.#o.metrics.requestReceived();
    const ctx = this.#context(req, expectContinue);
    (res as TrackedResponse)[kContext] = ctx;
    res.once('close', this.#onClose);
    if (this.#draining) res.shouldKeepAlive = false;
    if (this.#accessLog) res.once('finish', () => this.#logAccess(res, ctx));
    // The safety net: whatever a stage throws becomes a 500 in the JSON shape, logged with its stack.
    this.#run(req, res, ctx).catch((err: unknown) => this.#fail(res, ctx, err, null));
  }

  /**
   * Every request ends here exactly once: counted by how it ended, and when the client left first (499),
   * the upstream request still in flight is cancelled so its connection is freed at once.
   */
  #ended(res: TrackedResponse): void {
    const ctx = res[kContext]!;
    res[kContext] = undefined;
    if (res.writableFinished) {
      this.#o.metrics.requestEnded(res.statusCode);
    } else {
      ctx.clientGone = true;
      this.#o.metrics.requestEnded(499);
      ctx.upstreamAbort?.abort();
      this.#o.logger.debug(
        { requestId: ctx.id, path: ctx.path, service: ctx.service },
        'client closed the connection before the response was complete',
      );
    }
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle !== null) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }

  /** One line per request, only when server.accessLog is on (it costs a closure and a log write each). */
  #logAccess(res: ServerResponse, ctx: RequestContext): void {
    this.#o.logger.info(
      {
        requestId: ctx.id,
        method: ctx.method,
        path: ctx.path,
        service: ctx.service,
        status: res.statusCode,
        color: ctx.color,
        client: ctx.clientIp,
        sub: ctx.claims?.sub ?? null,
        ms: Math.round(Number(process.hrtime.bigint() - ctx.startedAt) / 1e4) / 100,
      },
      'access',
    );
  }

  /**
   * The identity stage: request id, client address, canonical path (null = rejected in #run), and the
   * client header lines that may travel upstream (or why they may not).
   */
  #context(req: IncomingMessage, expectContinue: boolean): RequestContext & IdentityVerdict {
    const headers = req.headers;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const canonical = canonicalizePath(rawPath, this.#o.config.server.escapedSlashes);
    const peerIp = normalizeAddress(req.socket.remoteAddress);
    const trusted = this.#o.config.trustedProxies;
    const peerTrusted = this.#hasTrustedProxies && isTrusted(trusted, peerIp);
    const clientIp = resolveClientAddress(peerIp, headers['x-forwarded-for'], trusted, peerTrusted);
    const override = headers['x-acgs-color'];
    const forwardable = forwardableClientHeaders(
      req.rawHeaders,
      headers.connection,
      peerTrusted,
      this.#o.headerRules,
    );
    return {
      id: requestIdFor(headers['x-request-id']),
      startedAt: process.hrtime.bigint(),
      method: req.method ?? 'GET',
      headers,
      clientIp,
      peerIp,
      peerTrusted,
      clientHeaders: typeof forwardable === 'string' ? NO_HEADERS : forwardable,
      headerProblem: typeof forwardable === 'string' ? forwardable : null,
      expectContinue,
      clientGone: false,
      upstreamAbort: null,
      body: null,
      screening: null,
      path: canonical ?? rawPath,
      pathOk: canonical !== null,
      query: q === -1 ? '' : url.slice(q + 1),
      service: null,
      rest: '/',
      claims: null,
      identity: clientIp,
      colorOverride: override === 'green' || override === 'blue' ? override : null,
      overrideAllowed: false,
      color: null,
      responseHeaders: [],
      upstreamHeaders: [],
    };
  }

  async #run(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext & IdentityVerdict,
  ): Promise<void> {
    if (ctx.path === '/healthz' || ctx.path === '/readyz') {
      await this.#health(res, ctx);
      return;
    }
    if (!ctx.pathOk) throw new GatewayError(Errors.BAD_PATH);
    if (ctx.headerProblem !== null)
      throw new GatewayError(Errors.BAD_REQUEST, HEADER_PROBLEMS[ctx.headerProblem]);
    const match = this.#o.table.match(ctx.path);
    if (match === null) throw new GatewayError(Errors.NOT_FOUND, `No service is routed at ${ctx.path}`);
    ctx.service = match.service.name;
    ctx.rest = match.rest;

    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.#o.config.server.maxBodyBytes) {
      res.shouldKeepAlive = false; // we will not read the body, so the connection cannot be reused
      throw new GatewayError(Errors.PAYLOAD_TOO_LARGE);
    }

    const stages = this.#o.stages;
    for (let i = 0; i < stages.length; i++) {
      const pending = stages[i]!.run(ctx, req, res);
      if (pending !== undefined) await pending;
    }

    const runtime = this.#o.runtimes.get(match.service.name)!;
    const color = this.#chooseColor(ctx);
    await this.#o.forwarder.forward(req, res, ctx, runtime, color);
  }

  /**
   * Sticky split: the verified `sub`, else the sticky cookie (set here on first sight), else the client
   * address, hashed into one of 10 000 buckets. The override header counts only when the policy allowed it.
   */
  #chooseColor(ctx: RequestContext): Color {
    if (ctx.colorOverride !== null && ctx.overrideAllowed) return ctx.colorOverride;
    const weights = this.#o.weights.get(ctx.service!);
    if (weights.green <= 0) return 'blue';
    if (weights.green >= 100) return 'green';
    let key = typeof ctx.claims?.sub === 'string' && ctx.claims.sub !== '' ? ctx.claims.sub : null;
    if (key === null && this.#cookie.enabled) {
      key = readCookie(flat(ctx.headers.cookie), this.#cookie.name);
      if (key === null) {
        key = newStickyId();
        ctx.responseHeaders.push(
          'set-cookie',
          stickySetCookie(this.#cookie.name, key, this.#cookie.maxAgeSec),
        );
      }
    }
    return isGreenBucket(bucketOf(key ?? ctx.clientIp), weights.green) ? 'green' : 'blue';
  }

  async #health(res: ServerResponse, ctx: RequestContext): Promise<void> {
    let status = 200;
    const body: Record<string, unknown> = { status: 'ok' };
    if (ctx.path === '/readyz') {
      const problems: string[] = [];
      if (this.#draining) problems.push('draining');
      for (const check of this.#o.readiness) {
        const problem = await check();
        if (problem !== null) problems.push(problem);
      }
      if (problems.length > 0) {
        status = 503;
        body.status = 'not_ready';
        body.problems = problems;
      }
    }
    const text = JSON.stringify(body);
    res.writeHead(status, [
      'content-type',
      'application/json; charset=utf-8',
      'cache-control',
      'no-store',
      'x-request-id',
      ctx.id,
      'content-length',
      String(Buffer.byteLength(text)),
    ]);
    res.end(text);
  }

  #fail(res: ServerResponse, ctx: RequestContext, err: unknown, color: Color | null): void {
    if (ctx.clientGone) return; // nobody is left to answer; counted as 499 when the response closed
    let error: GatewayError;
    if (err instanceof GatewayError) {
      error = err;
    } else {
      this.#o.logger.error(
        { err, requestId: ctx.id, path: ctx.path },
        'unexpected error in the request pipeline',
      );
      error = new GatewayError(Errors.INTERNAL);
    }
    this.sendError(res, ctx, error, color);
  }

  /** Every gateway-made answer goes through here, so the error metric and the JSON shape always agree. */
  readonly sendError = (
    res: ServerResponse,
    ctx: RequestContext,
    error: GatewayError,
    color: Color | null,
  ): void => {
    this.#o.metrics.gatewayResponse(error.code);
    // A refused `Expect: 100-continue` request never got its 100: its body may or may not follow, so the
    // connection cannot be trusted for another request.
    if (ctx.expectContinue) res.shouldKeepAlive = false;
    writeError(res, ctx, error, color);
  };
}

/** What the identity step found wrong with a request's headers, besides its path. */
interface IdentityVerdict {
  readonly pathOk: boolean;
  readonly headerProblem: HeaderRejection | null;
}

const HEADER_PROBLEMS: Record<HeaderRejection, string> = {
  duplicate_authorization: 'The request carries more than one Authorization header',
  underscore_in_header_name: 'Header names with underscores are not accepted here',
};

function flat(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join('; ') : value;
}

// The JWT pipeline stage: decides per service/route whether a bearer token is required, optional or not
// looked at; verifies a presented token (cache first); hands the verified claims, the `sub` identity and
// the forwarded identity headers on to the later stages.
//
// A bad token on an `optional` route is refused with 401 rather than ignored: the client meant to
// authenticate, and silently treating it as anonymous hides expired or misconfigured credentials.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Errors, GatewayError } from '../../core/errors.js';
import type { Claims, Closeable, RequestContext, Stage } from '../../core/types.js';
import { bearerToken } from './bearer.js';
import type { AuthConfig, ServiceAuthConfig } from './config.js';
import { createIdentityHeaders } from './identity-headers.js';
import { JwksKeySet } from './jwks.js';
import { staticVerificationKeys } from './keys.js';
import { createAuthMetrics } from './metrics.js';
import { createAuthModeResolver } from './modes.js';
import {
  REJECTION_DESCRIPTIONS,
  REJECTION_REASONS,
  type RejectionReason,
  TokenRejectedError,
} from './rejection.js';
import { TokenCache, type VerifiedToken } from './token-cache.js';
import { createTokenVerifier } from './verifier.js';

export interface AuthStageOptions {
  readonly config: AuthConfig;
  readonly services: Readonly<Record<string, ServiceAuthConfig>>;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Epoch milliseconds; token times, cache expiry and the JWKS cooldown all read this clock. */
  readonly now?: () => number;
}

export interface AuthStage extends Stage, Closeable {
  /** Headers the stage sends upstream; the proxy must strip them from every client request. */
  readonly identityHeaderNames: readonly string[];
  /** Settles once the JWKS (if any) has been fetched for the first time, successfully or not. */
  ready(): Promise<void>;
  /** Verifies a token with the same keys and checks, bypassing the cache (the admin plane's admin JWTs). */
  verify(token: string): Promise<Claims>;
}

// RFC 6750 §3.1: a request without credentials gets the challenge without an error code.
const MISSING_HEADERS: Record<string, string> = Object.freeze({ 'www-authenticate': 'Bearer realm="acgs"' });

// RFC 6750 §3: the descriptions are fixed text, so the challenge per reason is built once.
const INVALID_HEADERS = {} as Record<RejectionReason, Record<string, string>>;
for (const reason of REJECTION_REASONS) {
  INVALID_HEADERS[reason] = Object.freeze({
    'www-authenticate': `Bearer error="invalid_token", error_description="${REJECTION_DESCRIPTIONS[reason]}"`,
  });
}

export function createAuthStage(opts: AuthStageOptions): AuthStage {
  const { config, logger } = opts;
  const now = opts.now ?? Date.now;
  const metrics = createAuthMetrics(opts.registry);
  const resolveMode = createAuthModeResolver(opts.services, config.defaultMode);
  const identityHeaders = createIdentityHeaders(config.forwardHeaders, config.rolesClaim);
  const cache = new TokenCache(config.cache.maxEntries, metrics.cacheHits, metrics.cacheMisses);
  const keys = staticVerificationKeys(config.keys);
  const jwks =
    config.jwksUrl === undefined
      ? null
      : new JwksKeySet({
          url: config.jwksUrl,
          cooldownMs: config.jwksCooldownMs,
          maxAgeMs: config.jwksCacheMaxAgeMs,
          timeoutMs: config.jwksTimeoutMs,
          algorithms: config.jwksAlgorithms,
          now,
          logger,
        });
  const verifier = createTokenVerifier({
    keys,
    jwks,
    issuer: config.issuer,
    audience: config.audience,
    clockToleranceSec: config.clockToleranceSec,
    maxTokenLength: config.maxTokenLength,
    now,
  });
  if (keys.length === 0 && jwks === null) {
    logger.warn('JWT stage has no keys and no JWKS URL: every presented token will be refused');
  }

  function invalid(reason: RejectionReason): GatewayError {
    return new GatewayError(
      Errors.INVALID_TOKEN,
      `${Errors.INVALID_TOKEN.message}: ${REJECTION_DESCRIPTIONS[reason]}`,
      INVALID_HEADERS[reason],
    );
  }

  function apply(ctx: RequestContext, token: VerifiedToken): void {
    ctx.claims = token.claims;
    const headers = token.upstreamHeaders;
    for (let i = 0; i < headers.length; i++) ctx.upstreamHeaders.push(headers[i]!);
  }

  function toVerifiedToken(claims: Claims): VerifiedToken {
    const verifiedAt = now();
    const lifetimeEnd = verifiedAt + config.cache.maxTtlMs;
    const exp = claims.exp;
    return {
      claims,
      subject: typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null,
      upstreamHeaders: identityHeaders.build(claims),
      expiresAt: typeof exp === 'number' ? Math.min(exp * 1000, lifetimeEnd) : lifetimeEnd,
    };
  }

  async function verifyAndApply(ctx: RequestContext, token: string): Promise<void> {
    let claims: Claims;
    try {
      claims = Object.freeze(await verifier.verify(token)) as Claims;
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      metrics.verifications[err.reason].inc();
      logger.debug({ requestId: ctx.id, reason: err.reason, detail: err.message }, 'bearer token refused');
      throw invalid(err.reason);
    }
    metrics.verifications.valid.inc();
    const verified = toVerifiedToken(claims);
    cache.set(token, verified);
    apply(ctx, verified);
  }

  return {
    name: 'auth',
    identityHeaderNames: identityHeaders.names,
    verify: (token: string) => verifier.verify(token) as Promise<Claims>,
    run(ctx) {
      const mode = resolveMode(ctx.service, ctx.rest);
      if (mode === 'off') return;
      const token = bearerToken(ctx.headers.authorization);
      if (token === null) {
        if (mode === 'required') throw new GatewayError(Errors.UNAUTHORIZED, undefined, MISSING_HEADERS);
        return;
      }
      if (token === '') {
        metrics.verifications.malformed.inc();
        throw invalid('malformed');
      }
      // Cache hit: answered synchronously, no promise and no tick.
      const cached = cache.get(token, now());
      if (cached !== undefined) {
        apply(ctx, cached);
        return;
      }
      return verifyAndApply(ctx, token);
    },
    ready() {
      return jwks === null ? Promise.resolve() : jwks.ready();
    },
    async close() {
      cache.clear();
      await jwks?.close();
    },
  };
}

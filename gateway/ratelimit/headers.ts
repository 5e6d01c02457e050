// RateLimit-* response fields (draft-ietf-httpapi-ratelimit-headers) and the 429 answer.
import { Errors, GatewayError } from '../../core/errors.js';
import type { LimitDecision } from './store.js';

export const RATELIMIT_LIMIT = 'RateLimit-Limit';
export const RATELIMIT_REMAINING = 'RateLimit-Remaining';
export const RATELIMIT_RESET = 'RateLimit-Reset';

/** Delta-seconds, rounded up: a client that waits the advertised time is never early. */
export function toSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/**
 * Puts the decision's fields on the flat response header list, or, when an earlier tier of this request
 * already put its own, keeps whichever is more restrictive (fewer remaining; on a tie, the later reset).
 * The three fields are always written together, so the tier they describe is never mixed up.
 */
export function pushRateLimitHeaders(headers: string[], d: LimitDecision): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== RATELIMIT_LIMIT) continue;
    const remaining = Number(headers[i + 3]);
    const reset = Number(headers[i + 5]);
    const dReset = toSeconds(d.resetMs);
    if (d.remaining < remaining || (d.remaining === remaining && dReset > reset)) {
      headers[i + 1] = String(d.limit);
      headers[i + 3] = String(d.remaining);
      headers[i + 5] = String(dReset);
    }
    return;
  }
  headers.push(
    RATELIMIT_LIMIT,
    String(d.limit),
    RATELIMIT_REMAINING,
    String(d.remaining),
    RATELIMIT_RESET,
    String(toSeconds(d.resetMs)),
  );
}

/** The 429 of a rejected decision: Retry-After (RFC 9110 §10.2.3) plus the rejecting tier's RateLimit-* fields. */
export function rateLimited(limitName: string, d: LimitDecision): GatewayError {
  const retryAfter = String(Math.max(1, toSeconds(d.retryAfterMs)));
  return new GatewayError(
    Errors.RATE_LIMITED,
    `Rate limit '${limitName}' exceeded; retry in ${retryAfter}s`,
    {
      'retry-after': retryAfter,
      'ratelimit-limit': String(d.limit),
      'ratelimit-remaining': String(d.remaining),
      'ratelimit-reset': String(toSeconds(d.resetMs)),
    },
  );
}

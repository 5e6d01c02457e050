import { type ErrorSpec, Errors } from '../../core/errors.js';
import type { UpstreamErrorKind } from '../metrics/gateway-metrics.js';

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

/**
 * What went wrong talking to an upstream, for the metrics label. 'other' means the failure is not known to
 * be the upstream's (an invalid argument, a bug of ours): it is answered 500 and never blamed on a colour.
 */
export function classifyUpstreamError(err: unknown): UpstreamErrorKind {
  const code = codeOf(err);
  // llhttp's parse errors of the upstream's response: it spoke invalid HTTP. undici leaves `code` unset
  // for some of them (an invalid status line), so the error's name is the reliable mark.
  if (code?.startsWith('HPE_') || (err as Error | null)?.name === 'HTTPParserError') return 'protocol';
  // undici refuses a response it did not ask for, including an unsolicited `100 Continue`
  // (RFC 9110 §15.2 says a client should ignore it; undici 7 closes the connection instead).
  if (code === 'UND_ERR_SOCKET' && (err as Error).message === 'bad response') return 'protocol';
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'reset';
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
    case 'UND_ERR_INFO':
    case 'ERR_INVALID_CHAR':
    case 'ERR_INVALID_HTTP_TOKEN':
    case 'ERR_HTTP_INVALID_STATUS_CODE':
    case 'ERR_HTTP_INVALID_HEADER_VALUE':
      return 'protocol';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'headers_timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'body_timeout';
    case 'EOPENBREAKER':
      return 'breaker_open';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    default:
      return 'other';
  }
}

/**
 * The answer for the client: 502 for unreachable or invalid HTTP, 504 for too slow, 503 when the breaker
 * is open, 500 when the failure was the gateway's own.
 */
export function errorSpecFor(kind: UpstreamErrorKind): ErrorSpec {
  switch (kind) {
    case 'other':
      return Errors.INTERNAL;
    case 'connect_timeout':
    case 'headers_timeout':
    case 'body_timeout':
      return Errors.GATEWAY_TIMEOUT;
    case 'breaker_open':
      return Errors.UPSTREAM_UNAVAILABLE;
    default:
      return Errors.BAD_GATEWAY;
  }
}

/** Failures that say the upstream host is unhealthy (they feed its circuit breaker). */
export function isTransportFailure(err: unknown): boolean {
  const kind = classifyUpstreamError(err);
  return kind !== 'other' && kind !== 'breaker_open';
}

/**
 * Failures where the request certainly never reached the application, or reached it on a connection
 * that broke: safe to try once more on another upstream when the method is idempotent and bodiless.
 */
export function isRetryable(err: unknown): boolean {
  const kind = classifyUpstreamError(err);
  return kind === 'refused' || kind === 'reset' || kind === 'connect_timeout' || kind === 'dns';
}

// The one catalogue of errors the gateway itself answers with. Every gateway-made response is built
// from here, so the status code, the JSON error shape of the contract and the metrics label always agree.

export interface ErrorSpec {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

function spec(code: string, status: number, message: string): ErrorSpec {
  return Object.freeze({ code, status, message });
}

export const Errors = Object.freeze({
  BAD_REQUEST: spec('bad_request', 400, 'The request is malformed'),
  BAD_PATH: spec('bad_path', 400, 'The request path cannot be normalised safely'),
  UNAUTHORIZED: spec('unauthorized', 401, 'A valid bearer token is required'),
  INVALID_TOKEN: spec('invalid_token', 401, 'The bearer token is not valid'),
  FORBIDDEN: spec('forbidden', 403, 'The policy denied this request'),
  NOT_FOUND: spec('not_found', 404, 'No service is routed at this path'),
  EXPECTATION_FAILED: spec('expectation_failed', 417, 'Only Expect: 100-continue is supported'),
  REQUEST_TIMEOUT: spec('request_timeout', 408, 'The request was not received in time'),
  CONFLICT: spec('conflict', 409, 'The request conflicts with the current state'),
  PAYLOAD_TOO_LARGE: spec('payload_too_large', 413, 'The request body exceeds the configured limit'),
  UNSUPPORTED_MEDIA_TYPE: spec('unsupported_media_type', 415, 'Unsupported content type'),
  UNPROCESSABLE: spec('unprocessable', 422, 'The content was understood but refused'),
  RATE_LIMITED: spec('rate_limited', 429, 'Too many requests'),
  HEADERS_TOO_LARGE: spec('headers_too_large', 431, 'The request headers exceed the configured limit'),
  INTERNAL: spec('internal_error', 500, 'Internal gateway error'),
  BAD_GATEWAY: spec('bad_gateway', 502, 'The upstream could not be reached'),
  UPSTREAM_UNAVAILABLE: spec('upstream_unavailable', 503, 'No healthy upstream is available'),
  RATE_LIMIT_UNAVAILABLE: spec('rate_limit_unavailable', 503, 'The rate limiter is unavailable'),
  POLICY_ERROR: spec('policy_error', 503, 'The policy could not be evaluated'),
  STATE_UNAVAILABLE: spec('state_unavailable', 503, 'The shared state cannot be read right now'),
  SCREENING_INCOMPLETE: spec('screening_incomplete', 503, 'The request could not be screened in time'),
  GATEWAY_TIMEOUT: spec('gateway_timeout', 504, 'The upstream did not answer in time'),
} satisfies Record<string, ErrorSpec>);

/**
 * Thrown by a pipeline stage to end the request with a gateway-made answer. `headers` are sent with it
 * (`WWW-Authenticate`, `Retry-After`, ...). Not for unexpected failures: those become 500s.
 */
export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  /** Extra fields of the error object (a refused ruleset's `diagnostics`), beside code and message. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    errorSpec: ErrorSpec,
    message?: string,
    headers?: Record<string, string>,
    details?: Readonly<Record<string, unknown>>,
  ) {
    super(message ?? errorSpec.message);
    this.name = 'GatewayError';
    this.code = errorSpec.code;
    this.status = errorSpec.status;
    this.headers = headers;
    this.details = details;
  }
}

/** The JSON error body of the contract: {"error": {"code", "message", "requestId", ...details}}. */
export function errorBody(
  code: string,
  message: string,
  requestId: string,
  details?: Readonly<Record<string, unknown>>,
): string {
  return JSON.stringify({
    error: details ? { code, message, requestId, ...details } : { code, message, requestId },
  });
}

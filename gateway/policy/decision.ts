// The decision object both entrypoints return, and the shape check that makes the gateway fail closed
// on anything else (an author's typo must deny, not allow).

export interface PolicyDecision {
  readonly allow: boolean;
  /** 200 when allowed; when denied 403 by default, 401 when a token could change the answer, 400 for malformed input. */
  readonly status: number;
  readonly reason: string;
  /** Response headers the policy wants on the answer. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Data plane only: whether the caller may force a colour with x-acgs-color. */
  readonly allow_color_override?: boolean;
  /** Set only by the gateway when it failed closed (no bundle, evaluation error, ill-shaped result). */
  readonly error?: string;
}

/** The deny the gateway substitutes when the policy cannot answer (503, code policy_error). */
export function failedDecision(error: string): PolicyDecision {
  return {
    allow: false,
    status: 503,
    reason: 'The policy could not be evaluated',
    allow_color_override: false,
    error,
  };
}

/** Returns the decision when `value` has the contract's shape, else a message saying what is wrong. */
export function checkDecision(value: unknown): PolicyDecision | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'decision is not an object';
  const d = value as Record<string, unknown>;
  if (typeof d.allow !== 'boolean') return 'decision.allow is not a boolean';
  if (typeof d.status !== 'number' || !Number.isInteger(d.status) || d.status < 100 || d.status > 599) {
    return 'decision.status is not an HTTP status';
  }
  if (typeof d.reason !== 'string') return 'decision.reason is not a string';
  if (d.allow_color_override !== undefined && typeof d.allow_color_override !== 'boolean') {
    return 'decision.allow_color_override is not a boolean';
  }
  if (d.headers !== undefined) {
    if (d.headers === null || typeof d.headers !== 'object' || Array.isArray(d.headers)) {
      return 'decision.headers is not an object';
    }
    for (const v of Object.values(d.headers))
      if (typeof v !== 'string') return 'decision.headers has a non-string value';
  }
  return value as PolicyDecision;
}

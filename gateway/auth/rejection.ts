// Why a presented bearer token was refused. Each reason has a fixed, client-safe description that goes
// into `WWW-Authenticate: Bearer error="invalid_token", error_description="..."` (RFC 6750 §3): specific
// enough to fix a client, never echoing token content (no injection into the header's quoted-string).

export const REJECTION_DESCRIPTIONS = {
  malformed: 'token is malformed',
  not_compact_jws: 'token is not a compact JWS',
  too_long: 'token is too long',
  expired: 'token expired',
  not_yet_valid: 'token is not yet valid',
  bad_signature: 'bad signature',
  wrong_issuer: 'wrong issuer',
  wrong_audience: 'wrong audience',
  alg_not_allowed: 'algorithm not allowed',
  unknown_key: 'no key matches the token kid',
  unsupported_crit: 'unsupported critical header parameter',
} as const;

export type RejectionReason = keyof typeof REJECTION_DESCRIPTIONS;
export const REJECTION_REASONS = Object.keys(REJECTION_DESCRIPTIONS) as readonly RejectionReason[];

/** Thrown by the verifier; the stage turns it into a 401 invalid_token. */
export class TokenRejectedError extends Error {
  readonly reason: RejectionReason;

  constructor(reason: RejectionReason, detail?: string) {
    super(
      detail === undefined ? REJECTION_DESCRIPTIONS[reason] : `${REJECTION_DESCRIPTIONS[reason]}: ${detail}`,
    );
    this.name = 'TokenRejectedError';
    this.reason = reason;
  }

  get description(): string {
    return REJECTION_DESCRIPTIONS[this.reason];
  }
}

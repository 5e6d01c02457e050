// Extracts the token from `Authorization: Bearer <token>` (RFC 6750 §2.1). The scheme is matched
// case-insensitively (RFC 9110 §11.1) without allocating a lower-cased copy.

/** The header carries no bearer credentials at all (absent, or another scheme such as Basic). */
export const NO_BEARER = null;

/**
 * The token ('' when the scheme is Bearer but no token follows: credentials were presented and are bad),
 * or NO_BEARER.
 */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined || authorization.length < 6) return NO_BEARER;
  if (
    (authorization.charCodeAt(0) | 0x20) !== 98 /* b */ ||
    (authorization.charCodeAt(1) | 0x20) !== 101 /* e */ ||
    (authorization.charCodeAt(2) | 0x20) !== 97 /* a */ ||
    (authorization.charCodeAt(3) | 0x20) !== 114 /* r */ ||
    (authorization.charCodeAt(4) | 0x20) !== 101 /* e */ ||
    (authorization.charCodeAt(5) | 0x20) !== 114 /* r */
  ) {
    return NO_BEARER;
  }
  if (authorization.length === 6) return '';
  const separator = authorization.charCodeAt(6);
  // "Bearerfoo" is some other scheme, not Bearer.
  if (separator !== 32 && separator !== 9) return NO_BEARER;
  // The common case, exactly one space and no surrounding blanks, skips trim() and its extra string.
  const token = authorization.slice(7);
  return isBlank(token.charCodeAt(0)) || isBlank(token.charCodeAt(token.length - 1)) ? token.trim() : token;
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}

// Verified identity forwarded to upstreams in request headers (x-acgs-sub, x-acgs-roles, ...). The values
// are computed once per verified token and cached with it. The proxy strips every one of these names
// from client requests, so an upstream can trust them.
import type { Claims } from '../../core/types.js';

export interface IdentityHeaders {
  /** Lower-case header names, for the proxy to strip from client requests. */
  readonly names: readonly string[];
  /** Flat [name, value, ...] for the claims present and representable as a header value. */
  build(claims: Claims): string[];
}

// Visible ASCII and space only: anything else (CR/LF, control characters, non-Latin text) could split or
// corrupt the upstream request, so such a value is not forwarded at all rather than mangled.
const SAFE_VALUE = /^[\x20-\x7e]+$/;

/**
 * `forwardHeaders` maps claim name → header name; the key `roles` reads the claim named `rolesClaim`
 * (providers put roles under different names). Arrays are joined with ',' (RFC 9110 §5.3 list syntax).
 */
export function createIdentityHeaders(
  forwardHeaders: Readonly<Record<string, string>>,
  rolesClaim: string,
): IdentityHeaders {
  const mappings = Object.entries(forwardHeaders).map(([claim, header]) => ({
    claim: claim === 'roles' ? rolesClaim : claim,
    header,
  }));
  const names = Object.freeze([...new Set(mappings.map((m) => m.header))]);
  return {
    names,
    build(claims) {
      const out: string[] = [];
      for (const { claim, header } of mappings) {
        const value = headerValue(claims[claim]);
        if (value !== undefined) out.push(header, value);
      }
      return out;
    },
  };
}

function headerValue(value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value)) {
    text = value.filter((item): item is string => typeof item === 'string' && !item.includes(',')).join(',');
  } else return undefined;
  return SAFE_VALUE.test(text) ? text : undefined;
}

// Which of the client's header lines may travel upstream, decided once per request in the identity step,
// so that the policy judges exactly the header lines the upstream will receive (every value of a repeated
// header included) and no client can speak for the gateway: identity headers, forwarding headers and
// hop-by-hop fields belong to the gateway.

export type UnderscoreAction = 'drop' | 'reject' | 'allow';

/** Why a request's headers cannot be accepted; the data plane answers 400 with this as the reason. */
export type HeaderRejection = 'duplicate_authorization' | 'duplicate_host' | 'underscore_in_header_name';

export interface HeaderRules {
  readonly underscores: UnderscoreAction;
  /**
   * Identity header names only the gateway sets (lower case, '-' spelling), besides every `x-acgs-*`:
   * the auth stage's configured names, which an operator may have chosen outside that prefix.
   */
  readonly reserved: ReadonlySet<string>;
}

/** RFC 9110 §7.6.1: connection-specific fields a proxy must not forward, plus the de-facto ones. */
export const HOP_BY_HOP_FIELDS = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
] as const;

// `expect` is answered by the gateway itself (100-continue), so it is consumed here, not passed on.
const HOP_BY_HOP = new Set<string>([...HOP_BY_HOP_FIELDS, 'expect']);

/**
 * Set by the gateway on every upstream request (the forwarder appends them), never copied from the client.
 * From a trusted proxy the forwarder extends its X-Forwarded-For/Forwarded chain instead.
 */
const GATEWAY_SET = new Set([
  'host',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'forwarded',
]);

const RESERVED_PREFIX = 'x-acgs-';
const FORWARDED_PREFIX = 'x-forwarded-';

/**
 * One pass over node's rawHeaders ([name, value, name, value, ...]): returns the client header lines to
 * forward, in order, as a flat list (undici takes it without copying), or why the request is refused.
 */
export function forwardableClientHeaders(
  raw: readonly string[],
  connection: string | string[] | undefined,
  peerTrusted: boolean,
  rules: HeaderRules,
): string[] | HeaderRejection {
  const listed = connectionListed(connection);
  const out: string[] = [];
  let authorizations = 0;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    let lower = name.toLowerCase();
    if (lower.includes('_')) {
      if (rules.underscores === 'reject') return 'underscore_in_header_name';
      if (rules.underscores === 'drop') continue;
      // allow: still compare in the '-' spelling, so `x-acgs_sub` cannot pose as `x-acgs-sub`.
      lower = lower.replaceAll('_', '-');
    }
    if (lower === 'authorization' && ++authorizations > 1) return 'duplicate_authorization';
    // RFC 9112 §3.2: more than one Host is a 400 (two proxies could each believe a different one).
    if (lower === 'host' && ++hosts > 1) return 'duplicate_host';
    if (HOP_BY_HOP.has(lower) || GATEWAY_SET.has(lower)) continue;
    if (lower.startsWith(RESERVED_PREFIX) || rules.reserved.has(lower)) continue;
    // X-Forwarded-Port, -Prefix, -Server, ...: only a trusted proxy may tell us about the original request.
    if (!peerTrusted && lower.startsWith(FORWARDED_PREFIX)) continue;
    if (listed?.has(lower) || listed?.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** Names listed in a Connection header are hop-by-hop too (RFC 9110 §7.6.1). Usually there are none. */
export function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  // Nearly every request says just one of these: no split, no set.
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return null;
  const text = Array.isArray(value) ? value.join(',') : value;
  let listed: Set<string> | null = null;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    listed ??= new Set();
    listed.add(name);
  }
  return listed;
}

/** The reserved-name set for HeaderRules from the auth stage's configured identity header names. */
export function reservedHeaderNames(names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of names) out.add(name.toLowerCase().replaceAll('_', '-'));
  return out;
}

import { type BlockList, isIP } from 'node:net';

/** '::ffff:10.0.0.1' (IPv4 on a dual-stack socket) → '10.0.0.1'. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function isTrusted(trusted: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The client's address. X-Forwarded-For is believed only when the socket peer is a trusted proxy, and then
 * read from the right, skipping further trusted proxies: the first untrusted hop is the client (what nginx's
 * real_ip_recursive does). Anything left of it could have been written by the client itself.
 */
export function resolveClientAddress(
  peer: string,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList,
  peerTrusted: boolean,
): string {
  if (!peerTrusted || forwardedFor === undefined) return peer;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  const hops = header.split(',');
  let candidate = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!.trim());
    if (isIP(hop) === 0) return candidate; // malformed entry: stop at the last address we could verify
    candidate = hop;
    if (!isTrusted(trusted, hop)) return hop;
  }
  return candidate;
}

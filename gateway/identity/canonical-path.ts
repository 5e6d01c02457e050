// The one canonical form of a request path that every later stage (rate limit, JWT route modes, policy,
// routing) sees, so that `/api/ac/../gs/x`, `/api/ac//x` or `/api/%61c/x` cannot mean one thing to the
// policy and another to the router. RFC 3986 §5.2.4 (dot-segment removal) applied after one decode.

/** Characters sent on the wire as-is; everything else in a decoded path is percent-encoded again. */
const WIRE_SAFE = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/") {
  WIRE_SAFE[ch.charCodeAt(0)] = 1;
}

/**
 * Returns the canonical path, or null when it cannot be normalised safely: not starting with '/',
 * malformed percent-encoding, control characters or NUL (raw or encoded), backslashes (some servers
 * treat them as '/'), or dot-segments climbing above the root.
 */
export function canonicalizePath(raw: string): string | null {
  if (raw.charCodeAt(0) !== 47 /* / */) return null;
  if (isAlreadyCanonical(raw)) return raw;

  let decoded: string;
  try {
    decoded = raw.includes('%') ? decodeURIComponent(raw) : raw;
  } catch {
    return null;
  }
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 92 /* \ */) return null;
  }

  const segments = decoded.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const segment = segments[i]!;
    if (segment === '..') {
      if (out.length === 0) return null; // would climb above the root
      out.pop();
      if (i === last) out.push('');
    } else if (segment === '.' || (segment === '' && i !== last)) {
      if (i === last) out.push(''); // keep a trailing slash: `/a/.` is `/a/`
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

/** Fast path: plain ASCII, no '%', no '//', no dot-segments. Most real traffic takes it. */
function isAlreadyCanonical(raw: string): boolean {
  let prev = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 128 || WIRE_SAFE[c] === 0 || c === 37 /* % */) return false;
    if (c === 47 && prev === 47) return false;
    if (c === 46 /* . */ && prev === 47) {
      const next = raw.charCodeAt(i + 1);
      // '/.' followed by '/', end, or '.' then '/'|end is a dot-segment
      if (Number.isNaN(next) || next === 47) return false;
      if (next === 46) {
        const after = raw.charCodeAt(i + 2);
        if (Number.isNaN(after) || after === 47) return false;
      }
    }
    prev = c;
  }
  return true;
}

/** Encodes a canonical path for the upstream request line. Returns the input when nothing needs encoding. */
export function encodePathForWire(path: string): string {
  let needs = false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 128 || WIRE_SAFE[c] === 0) {
      needs = true;
      break;
    }
  }
  if (!needs) return path;
  let out = '';
  for (const ch of path) {
    const c = ch.charCodeAt(0);
    out += c < 128 && WIRE_SAFE[c] === 1 ? ch : encodeURIComponent(ch);
  }
  return out;
}

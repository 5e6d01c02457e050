// The one canonical form of a request path that every later stage (rate limit, JWT route modes, policy,
// routing) sees, so that `/api/ac/../gs/x`, `/api/ac//x` or `/api/%61c/x` cannot mean one thing to the
// policy and another to the router. RFC 3986 §5.2.4 (dot-segment removal) applied after one decode.

/** Characters sent on the wire as-is; everything else in a decoded path is percent-encoded again. */
const WIRE_SAFE = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/") {
  WIRE_SAFE[ch.charCodeAt(0)] = 1;
}

/** What `%2F` and `%5C` in a request path mean (server.escapedSlashes, after Envoy's action of that name). */
export type EscapedSlashAction = 'reject' | 'unescape' | 'keep';

// In `keep` mode these escapes survive decoding as data inside their segment. Private-use placeholders
// carry them through decodeURIComponent; a path that already holds one of those code points is refused.
const KEPT = [
  { escape: /%2f/gi, placeholder: '\uE000', canonical: '%2F' },
  { escape: /%5c/gi, placeholder: '\uE001', canonical: '%5C' },
  { escape: /%25/g, placeholder: '\uE002', canonical: '%25' },
] as const;
const PLACEHOLDERS = /[\uE000-\uE002]/;

/**
 * Returns the canonical path, or null when it cannot be normalised safely: not starting with '/',
 * malformed percent-encoding, control characters or NUL (raw or encoded), backslashes (some servers
 * treat them as '/'; raw or encoded, in every mode), dot-segments climbing above the root, or an encoded
 * slash when `escapedSlashes` is 'reject'. With 'keep', the canonical path holds `%2F`, `%5C` and `%25`
 * still encoded (so a `%` in it always starts one of those three) and the wire encoding keeps them.
 */
export function canonicalizePath(raw: string, escapedSlashes: EscapedSlashAction = 'reject'): string | null {
  if (raw.charCodeAt(0) !== 47 /* / */) return null;
  if (isAlreadyCanonical(raw)) return raw;

  let decoded: string;
  try {
    if (!raw.includes('%')) decoded = raw;
    else if (escapedSlashes === 'keep') {
      if (PLACEHOLDERS.test(decodeURIComponent(raw))) return null;
      let marked = raw;
      for (const k of KEPT) marked = marked.replace(k.escape, k.placeholder);
      decoded = decodeURIComponent(marked);
    } else if (escapedSlashes === 'reject' && hasEscapedSlash(raw)) return null;
    else decoded = decodeURIComponent(raw);
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
  let path = `/${out.join('/')}`;
  if (escapedSlashes === 'keep' && PLACEHOLDERS.test(path)) {
    for (const k of KEPT) path = path.replaceAll(k.placeholder, k.canonical);
  }
  return path;
}

/** `%2F` or `%5C` in any case: an escaped separator that would route one way and be served another. */
function hasEscapedSlash(raw: string): boolean {
  for (let i = raw.indexOf('%'); i !== -1 && i + 2 < raw.length; i = raw.indexOf('%', i + 1)) {
    const a = raw.charCodeAt(i + 1);
    const b = raw.charCodeAt(i + 2) | 0x20; // lower-case a letter
    if ((a === 50 /* 2 */ && b === 102) /* f */ || (a === 53 /* 5 */ && b === 99) /* c */) return true;
  }
  return false;
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

/**
 * Encodes a canonical path for the upstream request line. Returns the input when nothing needs encoding.
 * `keepEscapes` (escapedSlashes 'keep'): a '%' is already one of the kept escapes and goes out as is.
 */
export function encodePathForWire(path: string, keepEscapes = false): string {
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
    out += (c < 128 && WIRE_SAFE[c] === 1) || (keepEscapes && c === 37) ? ch : encodeURIComponent(ch);
  }
  return out;
}

// What a request offers to the screening engine, per target of the ruleset (rules-format.ts TARGETS):
// the decoded path and its segments, query names and every value, headers without credentials (every
// line of a repeated header), cookie values, and a parsed JSON or form body with its keys.
import type { RequestContext } from '../../core/types.js';
import { isBareRange, Leaves } from './leaves.js';
import type { Target } from './rules-format.js';

export type RequestLeaves = Partial<Record<Target, Leaves>>;

// Credentials are not screened (a token is random text that trips pattern rules); cookie values are
// screened through the `cookies` target, one leaf per cookie.
const SKIPPED_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const NON_ASCII = /[\u0080-\u00ff]/;

/** Leaf keys of path segments, made once: most segments are bare words and need no key at all. */
const SEGMENT_KEYS = Array.from({ length: 32 }, (_, i) => `segment ${i}`);
const segmentKey = (i: number): string => SEGMENT_KEYS[i] ?? `segment ${i}`;

export function requestLeaves(ctx: RequestContext): RequestLeaves {
  const out: RequestLeaves = {};
  out.path = pathLeaves(ctx.path);
  if (ctx.query !== '') {
    const values = new Leaves();
    const names = new Leaves();
    queryLeaves(ctx.query, values, names);
    out.query = values;
    out.query_names = names;
  }

  const lines = ctx.clientHeaders;
  if (lines.length > 0) {
    const headers = new Leaves();
    for (let i = 0; i < lines.length; i += 2) {
      const name = lines[i]!.toLowerCase();
      if (SKIPPED_HEADERS.has(name)) continue;
      const value = lines[i + 1]!;
      headers.add(name, value);
      // node reads header bytes as latin1; a client's UTF-8 (fullwidth quotes, say) is screened as UTF-8 too.
      if (NON_ASCII.test(value)) headers.add(name, Buffer.from(value, 'latin1').toString('utf8'));
    }
    out.headers = headers;
  }

  const cookie = ctx.headers.cookie;
  if (cookie !== undefined) out.cookies = cookieLeaves(Array.isArray(cookie) ? cookie.join('; ') : cookie);
  return out;
}

/** The whole path, and each non-empty segment when there is more than one ('/a/b' → 'a', 'b'). */
function pathLeaves(path: string): Leaves {
  const leaves = new Leaves();
  leaves.add('', path);
  // Segments as path.split('/') numbers them, from 1; a single-segment path is covered by the whole path.
  const first = path.indexOf('/');
  if (first === -1 || path.indexOf('/', first + 1) === -1) return leaves;
  let i = 1;
  let from = first + 1;
  for (;;) {
    const slash = path.indexOf('/', from);
    const to = slash === -1 ? path.length : slash;
    if (to > from) leaves.addRange(segmentKey(i), path, from, to);
    if (slash === -1) return leaves;
    from = slash + 1;
    i++;
  }
}

/**
 * Names and values as URLSearchParams reads them. A query with nothing to decode (no '%', no '+', ASCII
 * only, no leading '?', which URLSearchParams drops) is split in place, so its bare-word names and values
 * (most of them) are never cut out as strings; anything else goes through URLSearchParams itself.
 */
const NEEDS_DECODING = /^\?|[%+\u0080-\uffff]/;

function queryLeaves(query: string, values: Leaves, names: Leaves): void {
  if (NEEDS_DECODING.test(query)) {
    for (const [name, value] of new URLSearchParams(query)) {
      if (value !== '') values.add(name, value);
      names.add(name, name);
    }
    return;
  }
  let from = 0;
  while (from <= query.length) {
    let end = query.indexOf('&', from);
    if (end === -1) end = query.length;
    if (end > from) {
      let eq = query.indexOf('=', from);
      if (eq === -1 || eq > end) eq = end;
      const nameBare = isBareRange(query, from, eq);
      const valueBare = eq + 1 >= end || isBareRange(query, eq + 1, end);
      if (!nameBare || !valueBare) {
        const name = query.slice(from, eq);
        if (!valueBare) values.addNonBare(name, query.slice(eq + 1, end));
        if (!nameBare) names.addNonBare(name, name);
      }
    }
    from = end + 1;
  }
}

function cookieLeaves(header: string): Leaves {
  const leaves = new Leaves();
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    const value = eq === -1 ? '' : pair.slice(eq + 1).trim();
    if (value !== '') leaves.add(name, value);
  }
  return leaves;
}

/**
 * A parsed JSON document as leaves: string values under `body` (numbers and booleans cannot carry an
 * injection), object keys under `body_keys`. Iterative, so a deeply nested document cannot overflow the
 * stack; keys are dotted paths ('items.0.name').
 */
export function jsonLeaves(doc: unknown, into: RequestLeaves): void {
  const values = new Leaves();
  const keys = new Leaves();
  const stack: Array<[unknown, string]> = [[doc, '']];
  while (stack.length > 0) {
    const [node, at] = stack.pop()!;
    if (typeof node === 'string') {
      if (node !== '') values.add(at, node);
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], childKey(at, String(i))]);
    } else if (node !== null && typeof node === 'object') {
      for (const key of Object.keys(node)) {
        const child = childKey(at, key);
        keys.add(child, key);
        stack.push([(node as Record<string, unknown>)[key], child]);
      }
    }
    if (values.truncated || keys.truncated) break;
  }
  into.body = values;
  into.body_keys = keys;
}

/**
 * Dotted key paths stop growing past MAX_KEY: a document nested 30,000 levels deep (64 KiB of '[') must
 * not build 30,000 ever longer strings.
 */
const MAX_KEY = 200;
function childKey(at: string, key: string): string {
  if (at.length >= MAX_KEY) return at;
  const short = key.length > MAX_KEY ? `${key.slice(0, MAX_KEY)}…` : key;
  return at === '' ? short : `${at}.${short}`;
}

/** An application/x-www-form-urlencoded body: values under `body`, names under `body_keys`. */
export function formLeaves(text: string, into: RequestLeaves): void {
  const values = new Leaves();
  const keys = new Leaves();
  for (const [name, value] of new URLSearchParams(text)) {
    if (value !== '') values.add(name, value);
    keys.add(name, name);
  }
  into.body = values;
  into.body_keys = keys;
}

/** A body that is not valid JSON is still inspected, as one text (an upstream parser may be lenient). */
export function textLeaves(text: string, into: RequestLeaves): void {
  const values = new Leaves();
  values.add('', text);
  into.body = values;
}

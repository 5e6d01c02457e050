// What a request offers to the screening engine, per target of the ruleset (rules-format.ts TARGETS):
// the decoded path and its segments, query names and every value, headers without credentials (every
// line of a repeated header), cookie values, and a parsed JSON or form body with its keys.
import type { RequestContext } from '../../core/types.js';
import { Leaves } from './leaves.js';
import type { Target } from './rules-format.js';

export type RequestLeaves = Partial<Record<Target, Leaves>>;

// Credentials are not screened (a token is random text that trips pattern rules); cookie values are
// screened through the `cookies` target, one leaf per cookie.
const SKIPPED_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const NON_ASCII = /[\u0080-\u00ff]/;

export function requestLeaves(ctx: RequestContext): RequestLeaves {
  const out: RequestLeaves = {};
  const path = new Leaves();
  path.add('', ctx.path);
  const segments = ctx.path.split('/');
  // A single-segment path is already covered by the whole path.
  if (segments.length > 2) {
    for (let i = 1; i < segments.length; i++) if (segments[i] !== '') path.add(`segment ${i}`, segments[i]!);
  }
  out.path = path;

  if (ctx.query !== '') {
    const values = new Leaves();
    const names = new Leaves();
    for (const [name, value] of new URLSearchParams(ctx.query)) {
      if (value !== '') values.add(name, value);
      names.add(name, name);
    }
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

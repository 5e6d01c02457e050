// The decision path serialises the input itself (gateway/policy/input-text.ts) instead of building the
// object and calling JSON.stringify. Property: for any request context and any projection, the text is
// exactly JSON.stringify(buildPolicyInput(ctx, projection)): same fields, same order, same escaping. The
// decision cache keys on this text and the wasm module reads it, so a difference would be a wrong key or
// a different document.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Claims, ScreeningFindings } from '../../core/types.js';
import { buildPolicyInput } from '../../gateway/policy/input.js';
import { policyInputText } from '../../gateway/policy/input-text.js';
import { FULL_PROJECTION, INPUT_FIELDS, readProjection } from '../../gateway/policy/projection.js';
import { requestContext } from '../helpers/context.js';
import { params } from './support.js';

const text = fc.string({ unit: 'binary', maxLength: 12 });
const word = fc.constantFrom(
  'a',
  'ac',
  'x y',
  '"q"',
  '\\',
  '\u2028',
  'é',
  '😀',
  '',
  '__proto__',
  'constructor',
);
const claims: fc.Arbitrary<Claims | null> = fc.option(
  fc
    .record(
      {
        sub: fc.oneof(word, text),
        roles: fc.oneof(fc.array(word, { maxLength: 3 }), word),
        exp: fc.integer(),
        nested: fc.dictionary(word, fc.oneof(fc.integer(), fc.boolean(), text, fc.constant(null))),
      },
      { requiredKeys: [] },
    )
    // The auth stage freezes verified claims; an unfrozen object must serialise identically too.
    .chain((c) => fc.boolean().map((freeze) => (freeze ? Object.freeze(c) : c))) as fc.Arbitrary<Claims>,
  { nil: null },
);
const findings: fc.Arbitrary<ScreeningFindings | null> = fc.option(
  fc.record({
    matches: fc.array(
      fc.record({
        rule: word,
        category: fc.constantFrom('sqli', 'xss', 'protocol'),
        placement: fc.constantFrom('path', 'query', 'header'),
        key: fc.oneof(word, text),
        excerpt: text,
      }),
      { maxLength: 3 },
    ),
    bodyInspected: fc.boolean(),
    bodySkipped: fc.constantFrom(null, 'too_large', 'content_type', 'encoding', 'unknown_length'),
    timedOut: fc.boolean(),
    truncated: fc.boolean(),
  }),
  { nil: null },
);
const context = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE', 'PROPFIND'),
  path: fc.oneof(
    fc.constant('/api/ac/items'),
    text.map((t) => `/api/${t}`),
  ),
  query: fc.oneof(fc.constant(''), fc.constant('a=1&a=2&b=x+y'), text),
  headers: fc.dictionary(fc.constantFrom('x-a', 'accept', 'referer', 'cookie', 'authorization'), text),
  clientIp: fc.constantFrom('203.0.113.9', '2001:db8::1'),
  service: fc.option(word, { nil: null }),
  rest: text,
  colorOverride: fc.constantFrom(null, 'blue', 'green'),
  claims,
  screening: findings,
});
const projection = fc.oneof(
  fc.constant(FULL_PROJECTION),
  fc.subarray([...INPUT_FIELDS]).map((fields) => {
    const p = readProjection({ acgs: { input: { fields } } });
    if (typeof p === 'string') throw new Error(p);
    return p;
  }),
);

describe('policy input text', () => {
  test('equals JSON.stringify of the input object, for every projection', () => {
    fc.assert(
      fc.property(context, projection, (over, p) => {
        const ctx = requestContext({
          ...over,
          headers: over.headers,
          clientHeaders: Object.entries(over.headers).flat(),
        } as never);
        // Twice: the second run takes the claims and screening texts from their caches.
        for (let i = 0; i < 2; i++)
          assert.equal(policyInputText(ctx, p), JSON.stringify(buildPolicyInput(ctx, p)));
      }),
      params(400),
    );
  });
});

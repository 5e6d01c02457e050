// The screening stage collects a request's path segments and query pairs without URLSearchParams or
// split() when nothing needs decoding (gateway/screening/targets.ts), skipping bare words before their
// strings are made. Property: for any path and query, the leaves (values and keys, in order) are exactly
// those of the straightforward reading below: path.split('/') and URLSearchParams, every value through
// Leaves.add. A difference would screen something other than what the upstream receives, or name the
// wrong parameter in a finding.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Leaves } from '../../gateway/screening/leaves.js';
import { requestLeaves } from '../../gateway/screening/targets.js';
import { requestContext } from '../helpers/context.js';
import { params } from './support.js';

function referencePath(path: string): Leaves {
  const leaves = new Leaves();
  leaves.add('', path);
  const segments = path.split('/');
  if (segments.length > 2) {
    for (let i = 1; i < segments.length; i++)
      if (segments[i] !== '') leaves.add(`segment ${i}`, segments[i]!);
  }
  return leaves;
}

function referenceQuery(query: string): { values: Leaves; names: Leaves } {
  const values = new Leaves();
  const names = new Leaves();
  for (const [name, value] of new URLSearchParams(query)) {
    if (value !== '') values.add(name, value);
    names.add(name, name);
  }
  return { values, names };
}

const view = (l: Leaves | undefined) => (l === undefined ? undefined : { values: l.values, keys: l.keys });

// Characters that change how a query or path is read, next to plain ones and long runs.
const piece = fc.oneof(
  fc.constantFrom('a', 'id', '42', 'x_y-z', '', '=', '&', '&&', '/', '//', '%', '%27', '%zz', '+', '?', ';'),
  fc.constantFrom("' OR 1=1--", '<script>', '..', '.', ' ', 'é', '😀', '\u0000', 'A'.repeat(130)),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const text = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(''));

describe('screening leaves of path and query', () => {
  test('path segments: the same leaves as split("/")', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          text,
          text.map((t) => `/${t}`),
        ),
        (path) => {
          const got = requestLeaves(requestContext({ path, query: '', headers: {}, clientHeaders: [] }));
          assert.deepEqual(view(got.path), view(referencePath(path)));
        },
      ),
      params(600),
    );
  });

  test('query: the same names and values as URLSearchParams', () => {
    fc.assert(
      fc.property(text, (query) => {
        fc.pre(query !== '');
        const got = requestLeaves(requestContext({ query, headers: {}, clientHeaders: [] }));
        const want = referenceQuery(query);
        assert.deepEqual(view(got.query), view(want.values));
        assert.deepEqual(view(got.query_names), view(want.names));
      }),
      params(600),
    );
  });

  test('examples: bare words are left out, everything else keeps its key', () => {
    const got = requestLeaves(
      requestContext({
        path: '/api/ac/it%27s/x',
        query: "id=42&q=a'b&&=v&n%61me=1&k",
        headers: {},
        clientHeaders: [],
      }),
    );
    assert.deepEqual(view(got.path), { values: ['/api/ac/it%27s/x', 'it%27s'], keys: ['', 'segment 3'] });
    // '%' sends the whole query through URLSearchParams: n%61me is read as 'name'.
    assert.deepEqual(view(got.query), { values: ["a'b"], keys: ['q'] });
    assert.deepEqual(view(got.query_names), { values: [], keys: [] });
    const plain = requestLeaves(
      requestContext({ query: 'a.b=1&c=x y&d=e=f', headers: {}, clientHeaders: [] }),
    );
    assert.deepEqual(view(plain.query), { values: ['x y', 'e=f'], keys: ['c', 'd'] });
    assert.deepEqual(view(plain.query_names), { values: ['a.b'], keys: ['a.b'] });
  });
});

// Properties of the canonical path (gateway/identity/canonical-path.ts), the one form every stage sees.
// Paths are generated as decoded segments, then each character is sent raw or percent-encoded at random
// (either hex case), so a property compares the gateway with RFC 3986 §5.2.4 applied after ONE decode.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  canonicalizePath,
  type EscapedSlashAction,
  encodePathForWire,
} from '../../gateway/identity/canonical-path.js';
import { params } from './support.js';

const UNRESERVED_OR_SUB = "abcXYZ019-._~!$&'()*+,;=:@";
/** Characters a decoded segment may hold (no '/', '\\' or controls: those have their own properties). */
const NAME_CHARS = [...UNRESERVED_OR_SUB, '%', '?', '#', ' ', '"', '<', '[', 'é', '中', '😀', '\u00a0'];
const WIRE_SAFE = new Set([
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/",
]);

const decodedName = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...NAME_CHARS), { minLength: 1, maxLength: 6 })
      .map((a) => a.join('')),
  },
  { weight: 1, arbitrary: fc.constantFrom('%2e', '%2E%2e', '%252e', '.x', '..x', 'x..', '...') },
);
const decodedSegment = fc.oneof(
  { weight: 4, arbitrary: decodedName },
  { weight: 2, arbitrary: fc.constant('..') },
  { weight: 1, arbitrary: fc.constant('.') },
  { weight: 1, arbitrary: fc.constant('') },
);

function percentEncode(ch: string, upper: boolean): string {
  const hex = [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  return upper ? hex.toUpperCase() : hex;
}

/** One decoded segment list sent on the wire in a random but valid spelling. */
function spell(segment: fc.Arbitrary<string>) {
  return fc
    .array(fc.tuple(segment, fc.array(fc.tuple(fc.boolean(), fc.boolean()), { maxLength: 8 })), {
      minLength: 1,
      maxLength: 8,
    })
    .map((segments) => {
      const decoded = segments.map(([s]) => s);
      const raw = segments
        .map(([s, coins]) =>
          [...s]
            .map((ch, i) => {
              const [encode, upper] = coins[i % Math.max(coins.length, 1)] ?? [false, false];
              return WIRE_SAFE.has(ch) && ch !== '/' && !encode ? ch : percentEncode(ch, upper);
            })
            .join(''),
        )
        .join('/');
      return { decoded, raw: `/${raw}` };
    });
}
const spelledPath = spell(decodedSegment);
/** Segments whose decoded names may hold '/': on the wire that can only be `%2F` (or `%2f`). */
const slashName = fc
  .array(fc.constantFrom(...NAME_CHARS, '/', '/', '.', '%'), { minLength: 1, maxLength: 6 })
  .map((a) => a.join(''));
const spelledWithSlashes = spell(fc.oneof(decodedSegment, slashName));

function hasControlOrBackslash(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

/** RFC 3986 §5.2.4 on already-decoded segments; null when it would climb above the root. */
function model(segments: readonly string[]): string | null {
  const out: string[] = [];
  const last = segments.length - 1;
  for (const [i, s] of segments.entries()) {
    if (s === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else if (s !== '.' && s !== '') {
      out.push(s);
      continue;
    }
    if (i === last) out.push('');
  }
  return `/${out.join('/')}`;
}

/** Strings as node's HTTP parser hands over a request target: one char per byte (latin1). */
const parserString = fc
  .array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
  .map((bytes) => `/${String.fromCharCode(...bytes)}`);
const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), parserString);

/** A path built from pieces that stress the decoder and the dot-segment logic. */
const hostilePath = fc
  .array(
    fc.constantFrom(
      '/',
      '.',
      '..',
      '%',
      '%2',
      '%2e',
      '%2E',
      '%252e',
      '%2f',
      '%2F',
      '%5c',
      '%5C',
      '%00',
      '%0a',
      '\\',
      '%c3',
      '%C3%A9',
      '%ff',
      'a',
      '~',
      '?',
      '#',
      '//',
      '/./',
      '/../',
    ),
    { maxLength: 12 },
  )
  .map((parts) => `/${parts.join('')}`);

describe('canonical path properties', () => {
  test('rejection is total: any string gives a string or null, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, hostilePath), (raw) => {
        const out = canonicalizePath(raw);
        assert.ok(out === null || typeof out === 'string');
      }),
      params(3000),
    );
  });

  test('decodes once, then removes dot-segments exactly as RFC 3986 §5.2.4 (whatever the spelling)', () => {
    fc.assert(
      fc.property(spelledPath, ({ decoded, raw }) => {
        assert.equal(canonicalizePath(raw), model(decoded), `raw ${raw}`);
      }),
      params(3000),
    );
  });

  test('output has no dot-segment, no empty segment but a trailing one, no control char or backslash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          spelledPath.map((p) => p.raw),
          hostilePath,
          parserString,
        ),
        (raw) => {
          const out = canonicalizePath(raw);
          if (out === null) return;
          assert.equal(out[0], '/');
          assert.ok(!out.includes('//'), `'//' in ${out}`);
          const segments = out.slice(1).split('/');
          for (const s of segments) assert.ok(s !== '.' && s !== '..', `dot-segment in ${out}`);
          assert.ok(!hasControlOrBackslash(out), `control character or backslash in ${JSON.stringify(out)}`);
        },
      ),
      params(3000),
    );
  });

  test('never escapes the root: more ".." than directories is refused, encoded or not', () => {
    const dotdot = fc.constantFrom('..', '%2e%2e', '%2E.', '.%2e');
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'bb', '.', ''), { maxLength: 4 }),
        fc.array(dotdot, { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom('etc', 'passwd', ''), { maxLength: 3 }),
        (dirs, ups, rest) => {
          const depth = dirs.filter((d) => d !== '.' && d !== '').length;
          const raw = `/${[...dirs, ...ups, ...rest].join('/')}`;
          const out = canonicalizePath(raw);
          if (ups.length > depth) assert.equal(out, null, `${raw} → ${out}`);
          else assert.notEqual(out, null, raw);
        },
      ),
      params(2000),
    );
  });

  test('decodes once: %25 stays a literal %, so %252e is never a dot', () => {
    fc.assert(
      fc.property(spelledPath, fc.constantFrom('%252e', '%252E%252e', '%252f', '%255c'), ({ raw }, twice) => {
        const out = canonicalizePath(`${raw}/${twice}`);
        if (out === null) return;
        const once = decodeURIComponent(twice);
        assert.ok(out.endsWith(`/${once}`), `${raw}/${twice} → ${out}`);
      }),
      params(1000),
    );
  });

  test('the wire encoding round-trips: the upstream decodes exactly the path the policy saw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          spelledPath.map((p) => p.raw),
          hostilePath,
        ),
        (raw) => {
          const canonical = canonicalizePath(raw);
          if (canonical === null) return;
          const wire = encodePathForWire(canonical);
          assert.match(wire, /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*$/, `wire form ${wire}`);
          assert.equal(decodeURIComponent(wire), canonical);
          // Idempotence where it matters: the wire form canonicalises to the same path again.
          assert.equal(canonicalizePath(wire), canonical);
        },
      ),
      params(3000),
    );
  });

  test('idempotent on canonical output that holds no %', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          spelledPath.map((p) => p.raw),
          hostilePath,
        ),
        (raw) => {
          const canonical = canonicalizePath(raw);
          if (canonical === null || canonical.includes('%')) return;
          assert.equal(canonicalizePath(canonical), canonical);
        },
      ),
      params(2000),
    );
  });

  // server.escapedSlashes, after Envoy's path_with_escaped_slashes_action: what `%2F`/`%5C` mean.
  describe('escaped slashes', () => {
    const hasEscapedSlash = (raw: string) => /%(2f|5c)/i.test(raw.replace(/%25/g, ''));
    const modes: EscapedSlashAction[] = ['reject', 'unescape', 'keep'];

    test('in every mode: total, no dot-segment or empty segment, never above the root, no backslash', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...modes),
          fc.oneof(
            spelledWithSlashes.map((p) => p.raw),
            hostilePath,
            anyString,
          ),
          (mode, raw) => {
            const out = canonicalizePath(raw, mode);
            if (out === null) return;
            assert.equal(out[0], '/');
            assert.ok(!out.includes('//'), `${mode}: '//' in ${out}`);
            for (const seg of out.slice(1).split('/'))
              assert.ok(seg !== '.' && seg !== '..', `${mode}: ${out}`);
            assert.ok(
              !hasControlOrBackslash(out),
              `control character or backslash in ${JSON.stringify(out)}`,
            );
          },
        ),
        params(3000),
      );
    });

    test('reject (the default): any %2F or %5C is refused; without one, nothing changes', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            spelledWithSlashes.map((p) => p.raw),
            hostilePath,
          ),
          (raw) => {
            const out = canonicalizePath(raw, 'reject');
            assert.equal(canonicalizePath(raw), out, 'reject is the default');
            if (hasEscapedSlash(raw)) assert.equal(out, null, raw);
            else assert.equal(out, canonicalizePath(raw, 'unescape'), raw);
          },
        ),
        params(2000),
      );
    });

    test('unescape: %2F is a separator for everyone, exactly like a raw /', () => {
      fc.assert(
        fc.property(spelledWithSlashes, ({ decoded, raw }) => {
          const expected = model(decoded.join('/').split('/'));
          assert.equal(canonicalizePath(raw, 'unescape'), expected, raw);
        }),
        params(2000),
      );
    });

    test('keep: %2F stays data inside its segment (no dot-segment or route change through it), %25 stays %25', () => {
      const keptForm = (name: string) => name.replace(/%/g, '%25').replace(/\//g, '%2F');
      fc.assert(
        fc.property(spelledWithSlashes, ({ decoded, raw }) => {
          const expected = model(decoded.map((s) => (s === '.' || s === '..' || s === '' ? s : keptForm(s))));
          assert.equal(canonicalizePath(raw, 'keep'), expected, raw);
        }),
        params(2000),
      );
    });

    test('keep: the wire form carries the same escapes, so upstream and policy read the same path', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            spelledWithSlashes.map((p) => p.raw),
            hostilePath,
          ),
          (raw) => {
            const canonical = canonicalizePath(raw, 'keep');
            if (canonical === null) return;
            assert.match(canonical.replace(/%(2F|5C|25)/g, ''), /^[^%]*$/, `stray % in ${canonical}`);
            const wire = encodePathForWire(canonical, true);
            assert.match(wire, /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*$/, `wire form ${wire}`);
            assert.equal(decodeURIComponent(wire), decodeURIComponent(canonical));
            assert.equal(canonicalizePath(wire, 'keep'), canonical, `idempotent on the wire form ${wire}`);
          },
        ),
        params(2000),
      );
    });
  });
});

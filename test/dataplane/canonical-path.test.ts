import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { describe, test } from 'node:test';
import { canonicalizePath, encodePathForWire } from '../../gateway/identity/canonical-path.js';
import { resolveClientAddress } from '../../gateway/identity/client-address.js';
import { requestIdFor } from '../../gateway/identity/request-id.js';

describe('canonical path', () => {
  const cases: [string, string | null][] = [
    ['/api/ac/x', '/api/ac/x'],
    ['/api/ac//x', '/api/ac/x'],
    ['/api/ac/./x', '/api/ac/x'],
    ['/api/ac/y/../x', '/api/ac/x'],
    ['/api/ac/../gs/x', '/api/gs/x'],
    ['/api/%61c/x', '/api/ac/x'],
    ['/api/ac/a%2Fb', null], // escapedSlashes defaults to reject
    ['/api/ac/%2e%2e/gs', '/api/gs'],
    ['/api/ac/x/', '/api/ac/x/'],
    ['/api/ac/x/.', '/api/ac/x/'],
    ['/api/ac/x/..', '/api/ac/'],
    ['/api/ac/.hidden', '/api/ac/.hidden'],
    ['/api/ac/..x', '/api/ac/..x'],
    ['/api/ac/caf%C3%A9', '/api/ac/café'],
    ['/../etc/passwd', null],
    ['/api/../../etc', null],
    ['/api/ac/%zz', null],
    ['/api/ac/%00', null],
    ['/api/ac/a\\b', null],
    ['/api/ac/%5c..%5c', null],
    ['api/ac', null],
    ['http://evil/api/ac', null],
  ];
  for (const [raw, expected] of cases) {
    test(`${raw} → ${expected}`, () => assert.equal(canonicalizePath(raw), expected));
  }

  test('decodes exactly once: %252e stays %2e, so a later decode cannot smuggle dot-segments past us', () => {
    assert.equal(canonicalizePath('/api/ac/%252e%252e/x'), '/api/ac/%2e%2e/x');
    assert.equal(encodePathForWire('/api/ac/%2e%2e/x'), '/api/ac/%252e%252e/x');
  });

  test('escaped slashes: reject (default), unescape, keep', () => {
    for (const raw of ['/api/ac/a%2Fb', '/api/ac/a%2fb', '/api/%2F..%2Fgs/x'])
      assert.equal(canonicalizePath(raw, 'reject'), null, raw);
    assert.equal(canonicalizePath('/api/ac/a%2Fb', 'unescape'), '/api/ac/a/b');
    assert.equal(canonicalizePath('/api/ac/%2F..%2F..%2Fx', 'unescape'), '/x'); // decoded, then normalised
    assert.equal(canonicalizePath('/api/%2F..%2F..%2Fx', 'unescape'), null); // climbs above the root
    assert.equal(canonicalizePath('/api/ac/a%2fb', 'keep'), '/api/ac/a%2Fb');
    // kept inside its segment: `..%2F` is not a dot-segment, so nothing climbs
    assert.equal(canonicalizePath('/api/ac/..%2Fgs', 'keep'), '/api/ac/..%2Fgs');
    // a literal percent stays encoded in keep mode, so the wire cannot decode it a second time
    assert.equal(canonicalizePath('/api/ac/%2541%2F', 'keep'), '/api/ac/%2541%2F');
    assert.equal(encodePathForWire('/api/ac/%2541%2F', true), '/api/ac/%2541%2F');
    assert.equal(canonicalizePath('/api/ac/%EE%80%80', 'keep'), null); // our placeholder, refused
    assert.equal(canonicalizePath('/api/ac/%5C', 'keep'), '/api/ac/%5C');
    assert.equal(canonicalizePath('/api/ac/%5C', 'unescape'), null); // a backslash is never a path character
  });

  test('re-encodes for the wire only what needs it', () => {
    assert.equal(encodePathForWire('/a/b-c_d.e~f'), '/a/b-c_d.e~f');
    assert.equal(encodePathForWire('/a b/café?#'), '/a%20b/caf%C3%A9%3F%23');
  });
});

describe('client address', () => {
  const trusted = new BlockList();
  trusted.addSubnet('10.0.0.0', 8, 'ipv4');

  test('X-Forwarded-For is ignored when the peer is not a trusted proxy', () => {
    assert.equal(resolveClientAddress('203.0.113.9', '1.2.3.4', trusted, false), '203.0.113.9');
  });
  test('the first untrusted hop from the right is the client', () => {
    assert.equal(
      resolveClientAddress('10.0.0.2', '6.6.6.6, 198.51.100.7, 10.0.0.3', trusted, true),
      '198.51.100.7',
    );
  });
  test('a malformed hop stops the walk at the last verified address', () => {
    assert.equal(resolveClientAddress('10.0.0.2', 'garbage, 10.0.0.9', trusted, true), '10.0.0.9');
  });
});

describe('request id', () => {
  test('keeps a well-formed id and replaces anything else', () => {
    assert.equal(requestIdFor('abc-123.def:9'), 'abc-123.def:9');
    assert.notEqual(requestIdFor('bad id with spaces'), 'bad id with spaces');
    assert.notEqual(requestIdFor('x'.repeat(200)), 'x'.repeat(200));
    assert.match(requestIdFor(undefined), /^[0-9a-f]{32}$/);
  });
});

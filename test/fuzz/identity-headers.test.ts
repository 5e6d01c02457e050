// Properties of the identity parsers that read client-controlled headers: X-Forwarded-For
// (gateway/identity/client-address.ts), x-request-id (request-id.ts), the client header lines forwarded
// upstream (request-headers.ts) and the sticky cookie (gateway/pipeline/sticky-cookie.ts). All of them must be total on any input and must never let a
// client choose what it should not.
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isTrusted, normalizeAddress, resolveClientAddress } from '../../gateway/identity/client-address.js';
import { forwardableClientHeaders, reservedHeaderNames } from '../../gateway/identity/request-headers.js';
import { requestIdFor } from '../../gateway/identity/request-id.js';
import { readCookie } from '../../gateway/routing/sticky-cookie.js';
import { params } from './support.js';

const trusted = new BlockList();
trusted.addSubnet('10.0.0.0', 8, 'ipv4');
trusted.addSubnet('fd00::', 8, 'ipv6');

const trustedV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`);
const untrustedV4 = fc.ipV4().filter((ip) => !ip.startsWith('10.'));
const trustedV6 = fc
  .tuple(fc.nat(0xff), fc.nat(0xffff))
  .map(([a, b]) => `fd${a.toString(16).padStart(2, '0')}::${b.toString(16)}`);
const untrustedV6 = fc.ipV6().filter((ip) => !isTrusted(trusted, ip));
const trustedIp = fc.oneof(
  trustedV4,
  trustedV6,
  trustedV4.map((ip) => `::ffff:${ip}`),
);
const untrustedIp = fc.oneof(
  untrustedV4,
  untrustedV6,
  untrustedV4.map((ip) => `::ffff:${ip}`),
);
const garbageHop = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    'unknown',
    '',
    ' ',
    '1.2.3.4:80',
    '[::1]',
    '999.1.1.1',
    'fe80::1%eth0',
    '_hidden',
    '::ffff:',
  ),
);
const anyHop = fc.oneof(trustedIp, untrustedIp, garbageHop);
const padded = (hop: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.constantFrom('', ' ', '  ', '\t'), hop, fc.constantFrom('', ' '))
    .map(([a, h, b]) => `${a}${h}${b}`);
const forwardedFor = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.array(padded(anyHop), { maxLength: 6 }).map((hops) => hops.join(',')),
  fc.array(
    fc.array(padded(anyHop), { maxLength: 3 }).map((h) => h.join(',')),
    { maxLength: 3 },
  ),
);

describe('client address (X-Forwarded-For) properties', () => {
  test('never throws, and the answer is the peer or a valid address taken from the chain', () => {
    fc.assert(
      fc.property(
        fc.oneof(trustedIp, untrustedIp, garbageHop),
        forwardedFor,
        fc.boolean(),
        (peer, xff, peerTrusted) => {
          const out = resolveClientAddress(peer, xff, trusted, peerTrusted);
          if (out === peer) return;
          assert.notEqual(isIP(out), 0, `not an IP: ${out}`);
          const hops = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
            .split(',')
            .map((h) => normalizeAddress(h.trim()));
          assert.ok(hops.includes(out), `${out} is not in the chain ${JSON.stringify(xff)}`);
        },
      ),
      params(3000),
    );
  });

  test('an untrusted peer is always the answer, whatever it sends', () => {
    fc.assert(
      fc.property(untrustedIp, forwardedFor, (peer, xff) => {
        const peerTrusted = isTrusted(trusted, normalizeAddress(peer));
        assert.equal(peerTrusted, false);
        assert.equal(resolveClientAddress(peer, xff, trusted, peerTrusted), peer);
      }),
      params(2000),
    );
  });

  test('behind trusted proxies, the first untrusted hop from the right wins; what the client wrote left of it is ignored', () => {
    fc.assert(
      fc.property(
        trustedIp,
        fc.array(padded(anyHop), { maxLength: 4 }),
        untrustedIp,
        fc.array(padded(trustedIp), { maxLength: 3 }),
        (peer, clientWritten, client, proxies) => {
          const xff = [...clientWritten, client, ...proxies].join(',');
          assert.equal(resolveClientAddress(peer, xff, trusted, true), normalizeAddress(client));
        },
      ),
      params(2000),
    );
  });
});

describe('request id properties', () => {
  const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;
  test('keeps exactly the well-formed ids, and always answers a well-formed one', () => {
    const incoming = fc.oneof(
      fc.constant(undefined),
      fc.string({ unit: 'binary', maxLength: 140 }),
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,140}$/),
      fc.array(fc.stringMatching(/^[A-Za-z0-9]{1,10}$/), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(incoming, (value) => {
        const id = requestIdFor(value);
        assert.match(id, WELL_FORMED);
        const keep = typeof value === 'string' && WELL_FORMED.test(value);
        assert.equal(id === value, keep, `${JSON.stringify(value)} → ${id}`);
      }),
      params(3000),
    );
  });
});

describe('sticky cookie properties', () => {
  const NAME = 'acgs_uid';
  // RFC 6265 §4.1.1 cookie-name (a token) and cookie-octet.
  const cookieName = fc.oneof(
    fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/),
    fc.constantFrom(`x${NAME}`, `${NAME}x`, `_${NAME}`, `${NAME}_`, NAME.toUpperCase()),
  );
  const cookieValue = fc.stringMatching(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,70}$/);
  const sticky = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), cookieValue);

  test('never throws and only ever returns a well-formed sticky id', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ unit: 'binary', maxLength: 80 }), { nil: undefined }),
        cookieName,
        (header, name) => {
          const out = readCookie(header, name);
          if (out !== null) assert.match(out, /^[A-Za-z0-9_-]{8,64}$/);
        },
      ),
      params(3000),
    );
  });

  test('finds its cookie among others, and is not fooled by names that contain it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 5 }),
        fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 5 }),
        fc.option(sticky, { nil: null }),
        fc.constantFrom('; ', ';'),
        (before, after, value, sep) => {
          const others = [...before, ...after].filter(([n]) => n !== NAME);
          const pairs = [
            ...others.slice(0, before.length),
            ...(value === null ? [] : [[NAME, value] as const]),
            ...others.slice(before.length),
          ];
          const header = pairs.map(([n, v]) => `${n}=${v}`).join(sep);
          const expected = value !== null && /^[A-Za-z0-9_-]{8,64}$/.test(value) ? value : null;
          assert.equal(readCookie(header, NAME), expected, header);
        },
      ),
      params(3000),
    );
  });
});

describe('forwardable client headers properties', () => {
  const RESERVED = reservedHeaderNames(['x-acgs-sub', 'x-acgs-roles', 'X-Tenant_Id']);
  const IDENTITYISH = ['x-acgs-sub', 'x-acgs-roles', 'x-tenant-id', 'x-acgs-anything'];
  const GATEWAY_OWNED = [
    'host',
    'x-request-id',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'x-real-ip',
    'forwarded',
  ];
  const HOP = [
    'connection',
    'keep-alive',
    'proxy-connection',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'expect',
    'proxy-authorization',
  ];
  const ORDINARY = [
    'accept',
    'referer',
    'user-agent',
    'content-type',
    'x-custom',
    'cookie',
    'x-forwarded-port',
    'x-forwarded-prefix',
  ];
  /** A spelling of a name as a client may send it: any case, '-' possibly written '_'. */
  const spelling = (names: readonly string[]) =>
    fc
      .tuple(
        fc.constantFrom(...names),
        fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
        fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      )
      .map(([name, upper, underscore]) =>
        [...name]
          .map((ch, i) => (ch === '-' && underscore[i] ? '_' : upper[i] ? ch.toUpperCase() : ch))
          .join(''),
      );
  const headerName = fc.oneof(
    spelling(IDENTITYISH),
    spelling(GATEWAY_OWNED),
    spelling(HOP),
    spelling(ORDINARY),
    fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION'),
    fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/),
  );
  const raw = fc
    .array(fc.tuple(headerName, fc.string({ maxLength: 12 })), { maxLength: 12 })
    .map((pairs) => pairs.flat());
  const connection = fc.option(
    fc.oneof(
      fc.constantFrom('close', 'keep-alive', 'x-custom', 'Upgrade, x-custom', 'te'),
      fc.string({ maxLength: 20 }),
    ),
    { nil: undefined },
  );
  const normal = (name: string) => name.toLowerCase().replaceAll('_', '-');

  test('total, and what it forwards is a subsequence of the client lines, names and values untouched', () => {
    fc.assert(
      fc.property(
        raw,
        connection,
        fc.boolean(),
        fc.constantFrom(...(['drop', 'reject', 'allow'] as const)),
        (lines, conn, trusted, underscores) => {
          const out = forwardableClientHeaders(lines, conn, trusted, { underscores, reserved: RESERVED });
          if (typeof out === 'string') return;
          assert.equal(out.length % 2, 0);
          let j = 0;
          for (let i = 0; i < out.length; i += 2) {
            while (j < lines.length && !(lines[j] === out[i] && lines[j + 1] === out[i + 1])) j += 2;
            assert.ok(
              j < lines.length,
              `${out[i]}: ${out[i + 1]} is not one of the client's lines, in order`,
            );
            j += 2;
          }
        },
      ),
      params(3000),
    );
  });

  test('no identity, gateway-owned or hop-by-hop header reaches the upstream, in any case or with _ for -', () => {
    fc.assert(
      fc.property(
        raw,
        connection,
        fc.boolean(),
        fc.constantFrom(...(['drop', 'reject', 'allow'] as const)),
        (lines, conn, trusted, underscores) => {
          const out = forwardableClientHeaders(lines, conn, trusted, { underscores, reserved: RESERVED });
          if (typeof out === 'string') return;
          for (let i = 0; i < out.length; i += 2) {
            const name = normal(out[i]!);
            assert.ok(
              !name.startsWith('x-acgs-') && !RESERVED.has(name),
              `identity header ${out[i]} forwarded`,
            );
            assert.ok(!GATEWAY_OWNED.includes(name) && !HOP.includes(name), `${out[i]} forwarded`);
            if (!trusted) assert.ok(!name.startsWith('x-forwarded-'), `${out[i]} from an untrusted peer`);
            if (underscores !== 'allow')
              assert.ok(!out[i]!.includes('_'), `${out[i]} kept with '${underscores}'`);
          }
        },
      ),
      params(3000),
    );
  });

  test('two Authorization or two Host lines are refused; with reject, so is any name with _', () => {
    fc.assert(
      fc.property(raw, fc.constantFrom(...(['drop', 'reject', 'allow'] as const)), (lines, underscores) => {
        const out = forwardableClientHeaders(lines, undefined, false, { underscores, reserved: RESERVED });
        const names = lines.filter((_, i) => i % 2 === 0);
        const firstUnderscore = names.findIndex((n) => n.includes('_'));
        const second = (name: string) =>
          names.flatMap((n, k) => (n.toLowerCase() === name ? [k] : []))[1] ?? Number.POSITIVE_INFINITY;
        // The first refusal met while reading the lines in order wins.
        const refusals: [number, string][] = [
          [
            underscores === 'reject' && firstUnderscore !== -1 ? firstUnderscore : Number.POSITIVE_INFINITY,
            'underscore_in_header_name',
          ],
          [second('authorization'), 'duplicate_authorization'],
          [second('host'), 'duplicate_host'],
        ];
        refusals.sort((a, b) => a[0] - b[0]);
        const expected = Number.isFinite(refusals[0]![0]) ? refusals[0]![1] : null;
        if (expected === null) assert.ok(Array.isArray(out), `refused: ${String(out)}`);
        else assert.equal(out, expected);
      }),
      params(3000),
    );
  });

  test('every line of an ordinary header is forwarded, repeated ones included (the policy sees what the upstream gets)', () => {
    const ordinary = fc.array(
      fc.tuple(
        fc.constantFrom('Referer', 'referer', 'Accept', 'X-Custom', 'Cookie'),
        fc.string({ maxLength: 10 }),
      ),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(ordinary, (pairs) => {
        const lines = pairs.flat();
        assert.deepEqual(
          forwardableClientHeaders(lines, undefined, false, { underscores: 'drop', reserved: RESERVED }),
          lines,
        );
      }),
      params(1000),
    );
  });
});

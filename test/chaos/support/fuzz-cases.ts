// Seeded HTTP/1.1 request mutations for the raw-socket fuzzer: well-formed requests, smuggling-shaped ones
// (CL+TE, two Content-Length, obfuscated Transfer-Encoding, bare LF, invalid chunk sizes), oversized and
// odd headers, odd request lines, and random byte damage. Every case carries a unique marker in its path;
// a request smuggled inside a body carries the marker followed by `S`.
import type { Rng } from './seed.js';

export interface FuzzCase {
  readonly kind: string;
  readonly marker: string;
  readonly bytes: Buffer;
}

const CRLF = '\r\n';

/** Where the cases point; the chaos suite aims them at another service. */
let base = '/api/fz/m/';

function smuggled(marker: string): string {
  return `GET ${base}${marker}S HTTP/1.1${CRLF}Host: gw${CRLF}X-Marker: ${marker}S${CRLF}${CRLF}`;
}

type Builder = (m: string, rng: Rng) => string | Buffer;

const path = (m: string) => `${base}${m}`;
const start = (m: string, method = 'GET') =>
  `${method} ${path(m)} HTTP/1.1${CRLF}Host: gw${CRLF}X-Marker: ${m}${CRLF}`;

const BUILDERS: Record<string, Builder> = {
  get: (m) => `${start(m)}${CRLF}`,
  'get-keepalive-pipelined-garbage': (m) => `${start(m)}${CRLF}GARBAGE / HTTP/9.9${CRLF}${CRLF}`,
  head: (m) => `${start(m, 'HEAD')}${CRLF}`,
  'post-cl': (m, rng) => {
    const body = 'x'.repeat(rng.int(0, 2000));
    return `${start(m, 'POST')}Content-Length: ${body.length}${CRLF}${CRLF}${body}`;
  },
  'post-chunked': (m, rng) => {
    const n = rng.int(1, 5);
    let body = '';
    for (let i = 0; i < n; i++) {
      const part = 'y'.repeat(rng.int(1, 300));
      body += `${part.length.toString(16)}${CRLF}${part}${CRLF}`;
    }
    return `${start(m, 'POST')}Transfer-Encoding: chunked${CRLF}${CRLF}${body}0${CRLF}${CRLF}`;
  },
  'cl-te': (m) => {
    const body = `0${CRLF}${CRLF}${smuggled(m)}`;
    return `${start(m, 'POST')}Content-Length: ${body.length}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}${body}`;
  },
  'te-cl': (m) => {
    const body = `0${CRLF}${CRLF}${smuggled(m)}`;
    return `${start(m, 'POST')}Transfer-Encoding: chunked${CRLF}Content-Length: 4${CRLF}${CRLF}${body}`;
  },
  'two-cl': (m) => {
    const inner = smuggled(m);
    return `${start(m, 'POST')}Content-Length: 0${CRLF}Content-Length: ${inner.length}${CRLF}${CRLF}${inner}`;
  },
  'cl-list': (m) => {
    const inner = smuggled(m);
    return `${start(m, 'POST')}Content-Length: ${inner.length}, 0${CRLF}${CRLF}${inner}`;
  },
  'te-obfuscated': (m, rng) => {
    const te = rng.pick([
      'Transfer-Encoding: xchunked',
      'Transfer-Encoding : chunked',
      'Transfer-Encoding:\tchunked',
      'Transfer-Encoding: chunked, identity',
      'Transfer-Encoding: identity, chunked',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: x',
      'Transfer-Encoding:\x0bchunked',
      'Transfer-Encoding: CHUNKED',
      'Transfer-encoding: chunked ',
      'X: y\r\n Transfer-Encoding: chunked',
      'Transfer_Encoding: chunked',
    ]);
    const body = `0${CRLF}${CRLF}${smuggled(m)}`;
    return `${start(m, 'POST')}${te}${CRLF}Content-Length: ${body.length}${CRLF}${CRLF}${body}`;
  },
  'te-only-obfuscated': (m, rng) => {
    const te = rng.pick([
      'Transfer-Encoding: xchunked',
      'Transfer-Encoding: chunked, gzip',
      'Transfer-Encoding: gzip',
    ]);
    return `${start(m, 'POST')}${te}${CRLF}${CRLF}5${CRLF}hello${CRLF}0${CRLF}${CRLF}${smuggled(m)}`;
  },
  'bare-lf': (m) => `GET ${path(m)} HTTP/1.1\nHost: gw\nX-Marker: ${m}\n\n`,
  'bare-lf-body': (m) => {
    const inner = smuggled(m);
    return `POST ${path(m)} HTTP/1.1\nHost: gw\nContent-Length: 0\n\n${inner}`;
  },
  'bare-cr': (m) => `GET ${path(m)} HTTP/1.1\rHost: gw\rX-Marker: ${m}\r\r`,
  'invalid-chunk-size': (m, rng) => {
    const size = rng.pick(['0x10', '-1', 'fffffffffffffffffff', 'zz', '1 ; a=b', '5\x00', ' 5', '5 ', '+5']);
    return `${start(m, 'POST')}Transfer-Encoding: chunked${CRLF}${CRLF}${size}${CRLF}hello${CRLF}0${CRLF}${CRLF}${smuggled(m)}`;
  },
  'chunk-overflow': (m) =>
    `${start(m, 'POST')}Transfer-Encoding: chunked${CRLF}${CRLF}3${CRLF}hello world${CRLF}0${CRLF}${CRLF}${smuggled(m)}`,
  'huge-header': (m, rng) => `${start(m)}X-Big: ${'b'.repeat(rng.int(8_000, 70_000))}${CRLF}${CRLF}`,
  'many-headers': (m, rng) => {
    let h = '';
    for (let i = rng.int(50, 3000); i > 0; i--) h += `X-H${i}: v${CRLF}`;
    return `${start(m)}${h}${CRLF}`;
  },
  'header-nul': (m) => `${start(m)}X-Bad: a\x00b${CRLF}${CRLF}`,
  'header-space-name': (m) => `${start(m)}X Bad: v${CRLF}${CRLF}`,
  'no-host': (m) => `GET ${path(m)} HTTP/1.1${CRLF}X-Marker: ${m}${CRLF}${CRLF}`,
  'two-hosts': (m) => `${start(m)}Host: other${CRLF}${CRLF}`,
  http10: (m) => `GET ${path(m)} HTTP/1.0${CRLF}X-Marker: ${m}${CRLF}${CRLF}`,
  'http-bad-version': (m, rng) =>
    `GET ${path(m)} ${rng.pick(['HTTP/1.2', 'HTTP/2.0', 'HTTP/1', 'HTTX/1.1', 'http/1.1'])}${CRLF}Host: gw${CRLF}${CRLF}`,
  'absolute-form': (m) =>
    `GET http://evil.invalid${path(m)} HTTP/1.1${CRLF}Host: gw${CRLF}X-Marker: ${m}${CRLF}${CRLF}`,
  'odd-method': (m, rng) =>
    `${start(m, rng.pick(['get', 'G ET', 'PRI', 'CONNECT', 'FOO', 'DELETE', 'PATCH', 'TRACE']))}${CRLF}`,
  'odd-path': (m, rng) => {
    const odd = rng.pick(['../', '%2F', '%2e%2e/', '/', '%00', '\\', '%zz', '%252F', './', '%2e/']);
    return `GET ${base}${odd}${m} HTTP/1.1${CRLF}Host: gw${CRLF}X-Marker: ${m}${CRLF}${CRLF}`;
  },
  'expect-unknown': (m) => `${start(m, 'POST')}Expect: 200-ok${CRLF}Content-Length: 2${CRLF}${CRLF}hi`,
  upgrade: (m) => `${start(m)}Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}${CRLF}`,
  'cl-short-body': (m) => `${start(m, 'POST')}Content-Length: 10${CRLF}${CRLF}abc`,
  'cl-negative': (m) => `${start(m, 'POST')}Content-Length: -1${CRLF}${CRLF}${smuggled(m)}`,
  'cl-huge': (m) => `${start(m, 'POST')}Content-Length: 99999999999999999999${CRLF}${CRLF}abc`,
};

/** Random damage to a well-formed request: flipped, inserted, deleted or duplicated bytes. */
function damage(bytes: Buffer, rng: Rng): Buffer {
  const out = [...bytes];
  const edits = rng.int(1, 4);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = rng.int(0, out.length - 1);
    switch (rng.int(0, 3)) {
      case 0:
        out[at] = rng.pick([0, 9, 10, 13, 32, 58, 127, 255, rng.int(0, 255)]);
        break;
      case 1:
        out.splice(at, 0, rng.pick([0, 10, 13, 32, 44, 58, rng.int(0, 255)]));
        break;
      case 2:
        out.splice(at, 1);
        break;
      default:
        out.splice(at, 0, ...out.slice(at, at + rng.int(1, 40)));
    }
  }
  return Buffer.from(out);
}

export const FUZZ_KINDS = Object.keys(BUILDERS);

/** The next case of a seeded stream: a template, sometimes damaged at random. */
export function nextCase(rng: Rng, marker: string, pathBase = '/api/fz/m/'): FuzzCase {
  base = pathBase;
  const kind = rng.pick(FUZZ_KINDS);
  const built = BUILDERS[kind]!(marker, rng);
  let bytes = Buffer.isBuffer(built) ? built : Buffer.from(built, 'latin1');
  let label = kind;
  if (rng.chance(0.25)) {
    bytes = damage(bytes, rng);
    label = `${kind}+damage`;
  }
  return { kind: label, marker, bytes };
}

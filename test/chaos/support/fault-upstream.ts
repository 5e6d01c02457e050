// An upstream on raw sockets that misbehaves on purpose, chosen by the request path: `/<mode>/...`.
// node's http server cannot send invalid HTTP, stray 1xx responses or a reset mid-body, so this one
// writes the bytes itself.
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const FAULT_MODES = [
  'ok', // 200, a body derived from the path (checked byte for byte by the clients)
  'slow-body', // 200, the same body in small chunks with pauses (under the gateway's body timeout)
  'early-hints', // 103 Early Hints, then 200
  'continue', // an unsolicited 100 Continue, then 200
  'reset-before-headers', // RST as soon as the request is read
  'reset-mid-body', // headers and part of the body, then RST
  'invalid-http', // a status line that is not HTTP
  'oversized-headers', // a 64 KiB response header
  'hang-before-headers', // reads the request and never answers
  'hang-after-headers', // headers with a Content-Length, then silence
  'keepalive-race', // answers the first request of a connection; closes the connection on the next one
] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

/** The body `ok` and the other successful modes send for a path: deterministic, so clients can check it. */
export function expectedBody(path: string, size = bodySizeOf(path)): Buffer {
  const seed = `${path}|`;
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = seed.charCodeAt(i % seed.length);
  return out;
}

/** `?size=N` in the path, default 64 bytes (bounded at 4 MiB). */
export function bodySizeOf(path: string): number {
  const m = /[?&]size=(\d+)/.exec(path);
  return m ? Math.min(Number(m[1]), 4 * 1024 * 1024) : 64;
}

export interface FaultUpstream {
  readonly url: string;
  readonly port: number;
  /** Requests fully read, by mode. */
  readonly seen: Map<string, number>;
  /** Request paths in arrival order. */
  readonly paths: string[];
  /** Connections accepted. */
  connections: number;
  close(): Promise<void>;
}

interface Parsed {
  readonly path: string;
  readonly consumed: number;
}

/** One request from the front of `buf` (Content-Length or chunked body), or null while incomplete. */
function parseRequest(buf: Buffer): Parsed | null | 'bad' {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return buf.length > 256 * 1024 ? 'bad' : null;
  const head = buf.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const path = lines[0]!.split(' ')[1] ?? '/';
  let length = 0;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') length = Number(value);
    if (name === 'transfer-encoding' && /chunked/i.test(value)) chunked = true;
  }
  let at = end + 4;
  if (!chunked) return buf.length >= at + length ? { path, consumed: at + length } : null;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd === -1) return null;
    const size = Number.parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return 'bad';
    if (size === 0) {
      const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd);
      if (trailerEnd === -1) return null;
      return { path, consumed: trailerEnd + 4 };
    }
    at = lineEnd + 2 + size + 2;
    if (buf.length < at) return null;
  }
}

function modeOf(path: string): FaultMode {
  const first = path.split('?')[0]!.split('/')[1] ?? 'ok';
  return (FAULT_MODES as readonly string[]).includes(first) ? (first as FaultMode) : 'ok';
}

function head(status: number, reason: string, headers: Record<string, string | number>): string {
  let out = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [k, v] of Object.entries(headers)) out += `${k}: ${v}\r\n`;
  return `${out}\r\n`;
}

async function answer(socket: Socket, mode: FaultMode, path: string, nth: number): Promise<void> {
  const body = expectedBody(path);
  const okHead = head(200, 'OK', {
    'content-type': 'application/octet-stream',
    'content-length': body.length,
    'x-fault-mode': mode,
    connection: 'keep-alive',
    'keep-alive': 'timeout=30',
  });
  switch (mode) {
    case 'ok':
      socket.write(okHead);
      socket.write(body);
      return;
    case 'keepalive-race':
      // The server's idle timer fired as the client reused the connection: the request is lost.
      if (nth > 1) socket.destroy();
      else socket.write(Buffer.concat([Buffer.from(okHead), body]));
      return;
    case 'slow-body': {
      socket.write(okHead);
      const step = Math.max(1, Math.ceil(body.length / 5));
      for (let i = 0; i < body.length && !socket.destroyed; i += step) {
        socket.write(body.subarray(i, i + step));
        await sleep(60);
      }
      return;
    }
    case 'early-hints':
      socket.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n');
      await sleep(20);
      socket.write(okHead);
      socket.write(body);
      return;
    case 'continue':
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      await sleep(20);
      socket.write(okHead);
      socket.write(body);
      return;
    case 'reset-before-headers':
      socket.resetAndDestroy();
      return;
    case 'reset-mid-body': {
      const big = expectedBody(path, 256 * 1024);
      socket.write(
        head(200, 'OK', { 'content-type': 'application/octet-stream', 'content-length': big.length }),
      );
      socket.write(big.subarray(0, 32 * 1024));
      await sleep(30);
      socket.resetAndDestroy();
      return;
    }
    case 'invalid-http':
      socket.end('HTTP/1.1 2OO Fine\r\nthis is: not\r\nhttp at all\r\n\r\n');
      return;
    case 'oversized-headers':
      socket.write(head(200, 'OK', { 'content-length': body.length, 'x-huge': 'h'.repeat(64 * 1024) }));
      socket.write(body);
      return;
    case 'hang-before-headers':
      return;
    case 'hang-after-headers':
      socket.write(head(200, 'OK', { 'content-type': 'text/plain', 'content-length': 1000 }));
      socket.write('only the first bytes');
      return;
  }
}

/** Starts the upstream on a kernel-picked loopback port. */
export async function startFaultUpstream(): Promise<FaultUpstream> {
  const sockets = new Set<Socket>();
  const seen = new Map<string, number>();
  const paths: string[] = [];
  const state = { connections: 0 };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the gateway may reset too; that is its right
    let buf = Buffer.alloc(0);
    let nth = 0;
    let busy = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseRequest(buf);
        if (parsed === null) return;
        if (parsed === 'bad') {
          socket.destroy();
          return;
        }
        buf = buf.subarray(parsed.consumed);
        nth++;
        const mode = modeOf(parsed.path);
        seen.set(mode, (seen.get(mode) ?? 0) + 1);
        paths.push(parsed.path);
        const n = nth;
        busy = busy.then(() => (socket.destroyed ? undefined : answer(socket, mode, parsed.path, n)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    paths,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// A client on a raw socket: sends exactly the bytes given (malformed ones included), reads what comes
// back, and parses the HTTP/1.1 responses in it, so a test sees every answer on the connection.
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string[]>;
  readonly body: Buffer;
  /** True when the body was read to its declared end (Content-Length, last chunk, or close for neither). */
  readonly complete: boolean;
}

export interface RawExchange {
  readonly responses: RawResponse[];
  readonly raw: Buffer;
  /** How the exchange ended: the gateway closed, the socket errored, or our timeout fired. */
  readonly ended: 'closed' | 'error' | 'timeout';
}

export interface RawOptions {
  readonly timeoutMs?: number;
  /** Written in pieces with this pause between them (bytes sent as one write when absent). */
  readonly pieces?: readonly (string | Buffer)[];
  readonly pauseMs?: number;
  /** Stop once this many complete responses were read (default: wait for the close or the timeout). */
  readonly responses?: number;
  /** Stop this long after the first complete final response (a keep-alive connection stays open). */
  readonly settleMs?: number;
  /** Loopback source address (127.x.y.z), to appear as another client. */
  readonly localAddress?: string;
}

/** Sends `data` to host:port and collects the answer. */
export function rawExchange(
  port: number,
  data: string | Buffer,
  options: RawOptions = {},
): Promise<RawExchange> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const socket = connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    const finish = (ended: RawExchange['ended']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (settling !== null) clearTimeout(settling);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ raw, responses: parseResponses(raw), ended });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    let settling: NodeJS.Timeout | null = null;
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (options.responses === undefined && options.settleMs === undefined) return;
      const finals = parseResponses(Buffer.concat(chunks)).filter((r) => r.complete && r.status >= 200);
      if (options.responses !== undefined && finals.length >= options.responses) finish('closed');
      if (options.settleMs !== undefined && finals.length > 0 && settling === null)
        settling = setTimeout(() => finish('closed'), options.settleMs);
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish('error'));
    socket.on('connect', async () => {
      if (options.pieces === undefined) {
        socket.write(data);
        return;
      }
      for (const piece of options.pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        await new Promise((r) => setTimeout(r, options.pauseMs ?? 50));
      }
    });
  });
}

/** Every response in `raw`, the last one possibly incomplete. */
export function parseResponses(raw: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const lines = raw.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? Number.NaN);
    if (Number.isNaN(status)) break;
    const headers: Record<string, string[]> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const values = headers[name] ?? [];
      values.push(line.slice(colon + 1).trim());
      headers[name] = values;
    }
    at = end + 4;
    if (status < 200) {
      out.push({ status, headers, body: Buffer.alloc(0), complete: true });
      continue;
    }
    const length = headers['content-length']?.[0];
    if (headers['transfer-encoding']?.some((v) => /chunked/i.test(v))) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', at);
        if (lineEnd === -1) break;
        const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const trailerEnd = raw.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd !== -1) {
            complete = true;
            at = trailerEnd + 4;
          }
          break;
        }
        if (raw.length < lineEnd + 2 + size) break;
        parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      out.push({ status, headers, body: Buffer.concat(parts), complete });
      if (!complete) break;
    } else if (length !== undefined) {
      const n = Number(length);
      const body = raw.subarray(at, at + n);
      out.push({ status, headers, body, complete: body.length === n });
      at += n;
      if (body.length < n) break;
    } else {
      out.push({ status, headers, body: raw.subarray(at), complete: true });
      break;
    }
  }
  return out;
}

/** The gateway's JSON error shape ({error: {code, message, requestId}}), or null when `body` is not one. */
export function errorShape(
  body: Buffer | string,
): { code: string; message: string; requestId: string } | null {
  try {
    const parsed = JSON.parse(body.toString()) as { error?: Record<string, unknown> };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string' && typeof e.requestId === 'string')
      return e as { code: string; message: string; requestId: string };
  } catch {}
  return null;
}

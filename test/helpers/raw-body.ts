import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';

/** What a raw socket has received of one HTTP/1.1 answer: its head, and its body counted and hashed. */
export interface RawBodyReader {
  /** The head (status line and header lines), once it is complete; null before. */
  readonly head: string | null;
  /** Body bytes received so far. */
  readonly bytes: number;
  /** The connection closed (by either side). */
  readonly closed: boolean;
  /** sha256 of the body received so far, hex (call once, at the end). */
  digest(): string;
}

/**
 * Reads the answer arriving on `socket` (a big body, read as it comes, for tests that pause and resume the
 * socket to play a slow client): no buffering of the body, only its length and hash.
 */
export function readRawBody(socket: Socket): RawBodyReader {
  const hash = createHash('sha256');
  let pending: Buffer | null = Buffer.alloc(0);
  const state = {
    head: null as string | null,
    bytes: 0,
    closed: false,
    digest: () => hash.digest('hex'),
  };
  socket.on('close', () => {
    state.closed = true;
  });
  socket.on('data', (data: Buffer) => {
    let chunk = data;
    if (pending !== null) {
      pending = Buffer.concat([pending, chunk]);
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      state.head = pending.subarray(0, end).toString('latin1');
      chunk = pending.subarray(end + 4);
      pending = null;
    }
    hash.update(chunk);
    state.bytes += chunk.length;
  });
  return state;
}

import { randomFillSync } from 'node:crypto';

// Random ids come from a pool of CSPRNG bytes filled 4 KiB at a time, as node's randomUUID does: a
// randomBytes(16) per id cost about 10 µs (a syscall each), and randomUUID builds its string from 20
// pieces. Every byte is handed out once; the pool is refilled when spent.
const ID_BYTES = 16;
const POOL = Buffer.alloc(ID_BYTES * 256);
let offset = POOL.length;

function take(): number {
  if (offset === POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const at = offset;
  offset += ID_BYTES;
  return at;
}

/** 16 random bytes as 32 lowercase hex digits: the shape of nginx's $request_id. */
export function randomHexId(): string {
  const at = take();
  return POOL.toString('hex', at, at + ID_BYTES);
}

/** 16 random bytes, URL-safe base64 (22 characters). */
export function randomBase64UrlId(): string {
  const at = take();
  return POOL.toString('base64url', at, at + ID_BYTES);
}

import { randomFillSync } from 'node:crypto';

/** Finds one cookie's value in a Cookie header without parsing the rest. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at === -1) return null;
    const before = at === 0 ? ' ' : header[at - 1];
    if ((before === ' ' || before === ';') && header[at + name.length] === '=') {
      const start = at + name.length + 1;
      const end = header.indexOf(';', start);
      const value = (end === -1 ? header.slice(start) : header.slice(start, end)).trim();
      return /^[A-Za-z0-9_-]{8,64}$/.test(value) ? value : null;
    }
    from = at + name.length;
  }
  return null;
}

// Ids come from a pool of CSPRNG bytes filled 4 KiB at a time (as node's randomUUID does): a
// randomBytes(16) per id cost about 10 µs, a syscall each, on every request of a new anonymous user.
// Every byte is handed out once.
const ID_BYTES = 16;
const POOL = Buffer.alloc(ID_BYTES * 256);
let offset = POOL.length;

/** A new random sticky id: 16 bytes, URL-safe. */
export function newStickyId(): string {
  if (offset === POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const id = POOL.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}

export function stickySetCookie(name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Lax`;
}

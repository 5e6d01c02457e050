import { randomBase64UrlId } from '../util/random-pool.js';

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

/** A new random sticky id: 16 bytes, URL-safe (from the shared CSPRNG pool: no syscall per id). */
export function newStickyId(): string {
  return randomBase64UrlId();
}

export function stickySetCookie(name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Lax`;
}

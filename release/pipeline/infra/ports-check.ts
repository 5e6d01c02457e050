import { readFile } from 'node:fs/promises';
import { HOST_SCRIPTS, type InfraCheck } from './types.js';

const LISTEN = '0A';

/** Whether a /proc/net/tcp{,6} hex address is loopback (127.0.0.0/8, ::1, ::ffff:127.x). */
function isLoopback(hex: string, v6: boolean): boolean {
  if (!v6) return hex.slice(6, 8) === '7F'; // little-endian: the first octet is the last byte
  if (hex === '00000000000000000000000001000000') return true;
  // IPv4-mapped ::ffff:a.b.c.d: third word 0xFFFF0000 (little-endian), last word holds the address.
  return (
    hex.slice(0, 16) === '0000000000000000' && hex.slice(16, 24) === 'FFFF0000' && hex.slice(30, 32) === '7F'
  );
}

/** TCP ports listening on a non-loopback address, from the text of /proc/net/tcp and /proc/net/tcp6. */
export function publishedFromProc(tcp: string, tcp6: string): number[] {
  const ports = new Set<number>();
  for (const [text, v6] of [
    [tcp, false],
    [tcp6, true],
  ] as const) {
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== LISTEN) continue;
      const [addr, port] = cols[1]!.split(':');
      if (!addr || !port || isLoopback(addr, v6)) continue;
      ports.add(Number.parseInt(port, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

export async function listeningPublished(procRoot = '/proc'): Promise<number[]> {
  const read = (f: string) => readFile(`${procRoot}/net/${f}`, 'utf8').catch(() => '');
  return publishedFromProc(await read('tcp'), await read('tcp6'));
}

/** The ports open beyond loopback must be exactly the intended ones (null: not checked here). */
export function portsCheck(published: readonly number[], intended: readonly number[] | null): InfraCheck {
  if (intended === null)
    return {
      name: 'ports.published',
      ok: true,
      skipped: true,
      measured: published.join(',') || 'none',
      wanted: 'not checked (publishedPorts: null)',
    };
  const extra = published.filter((p) => !intended.includes(p));
  const missing = intended.filter((p) => !published.includes(p));
  const ok = extra.length === 0 && missing.length === 0;
  const fixes: string[] = [];
  if (extra.length > 0)
    fixes.push(
      `close ${extra.join(', ')} (bind them to 127.0.0.1 or stop the service) and apply the firewall: sudo bash ${HOST_SCRIPTS}/firewall.sh`,
    );
  if (missing.length > 0) fixes.push(`nothing listens on ${missing.join(', ')}: start nginx (the stack)`);
  return {
    name: 'ports.published',
    ok,
    measured: published.join(',') || 'none',
    wanted: intended.join(','),
    ...(ok ? {} : { fix: fixes.join('; ') }),
  };
}

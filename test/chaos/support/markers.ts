// Unique, self-checking markers: a damaged copy of one never reads as another case's marker.

/** `MK` + 8 hex of the sequence number + 8 hex of a keyed hash of it. */
export function marker(seq: number, key: number): string {
  return `MK${hex(seq)}${hex(check(seq, key))}`;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function check(seq: number, key: number): number {
  let h = Math.imul(seq ^ key, 2654435761) >>> 0;
  h ^= h >>> 15;
  return Math.imul(h, 2246822519) >>> 0;
}

const TOKEN = /MK([0-9a-f]{8})([0-9a-f]{8})(S?)/g;

/** The valid markers in `text` (a smuggled one keeps its `S`), each once. */
export function markersIn(text: string, key: number): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(TOKEN)) {
    const seq = Number.parseInt(m[1]!, 16);
    if (Number.parseInt(m[2]!, 16) === check(seq, key)) out.add(`MK${m[1]}${m[2]}${m[3]}`);
  }
  return [...out];
}

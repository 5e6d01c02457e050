// What of a matched value may leave the process (decision log, admin output): its first few characters
// and its length, never the value itself, which may be an attacker's payload or a user's data.
const SHOWN = 4;

export function maskExcerpt(value: string | undefined): string {
  if (value === undefined || value === '') return '';
  let head = '';
  for (const ch of Array.from(value).slice(0, SHOWN)) {
    const code = ch.codePointAt(0)!;
    // Control characters would let a payload forge log lines.
    head += code < 0x20 || code === 0x7f ? '?' : ch;
  }
  return `${head}…(${value.length})`;
}

// Values handed to libddwaf as flat lists of string "leaves", each with the key it came from.
//
// Why flat: libddwaf truncates what it is given (containers past 256 items and 20 levels deep, strings past
// 4096 bytes) and silently skips the rest, so a 1,000th query parameter, a value nested 30 levels down or
// the tail of a long string would never be inspected. Flattening keeps every container at depth 2 and
// under the limit (chunks of CHUNK leaves), and long strings are cut into overlapping windows.
export const CHUNK = 250;
/** libddwaf's string limit is 4096 bytes; windows of 1024 UTF-16 units stay below it for any text. */
const WINDOW = 1024;
const OVERLAP = 128;
/** More leaves than this per target are not inspected (reported as truncated). 250 chunks of 250. */
export const MAX_LEAVES = CHUNK * CHUNK;

/**
 * Values made only of ASCII letters, digits, '_' and '-' ('42', 'created', a UUID, a header token) are
 * not handed to the engine: no injection fits in one (every rule needs a quote, a separator, a space, a
 * dot, a slash, a bracket or an escape), and such values are most of a typical request, so leaving them
 * out halves the engine's work. A rule that must see bare words cannot be written; by design.
 */
const BARE_MAX = 128;

/** Whether text[from, to) is a bare word (above), judged without cutting the slice out first. */
export function isBareRange(text: string, from: number, to: number): boolean {
  if (to - from > BARE_MAX) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    // 0-9, A-Z, a-z, '_', '-'
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45)) {
      return false;
    }
  }
  return true;
}

export class Leaves {
  readonly values: string[] = [];
  readonly keys: string[] = [];
  truncated = false;

  add(key: string, value: string): void {
    if (!isBareRange(value, 0, value.length)) this.addNonBare(key, value);
  }

  /** add() of text[from, to): a bare word is skipped before its slice is made. */
  addRange(key: string, text: string, from: number, to: number): void {
    if (isBareRange(text, from, to)) return;
    this.addNonBare(key, from === 0 && to === text.length ? text : text.slice(from, to));
  }

  /** add() of a value the caller already found not to be a bare word (isBareRange): no second look. */
  addNonBare(key: string, value: string): void {
    if (value.length <= WINDOW) {
      this.#push(key, value);
      return;
    }
    for (let start = 0; start < value.length; start += WINDOW - OVERLAP) {
      this.#push(key, value.slice(start, start + WINDOW));
      if (start + WINDOW >= value.length) break;
    }
  }

  /** Adds a leaf that already went through add() (a subset of another Leaves): no filtering, no windows. */
  keep(key: string, value: string): void {
    this.#push(key, value);
  }

  #push(key: string, value: string): void {
    if (this.values.length >= MAX_LEAVES) {
      this.truncated = true;
      return;
    }
    this.values.push(value);
    this.keys.push(key);
  }

  get size(): number {
    return this.values.length;
  }

  /** The engine's view: an array of chunks of at most CHUNK strings (key_path [chunk, index]). */
  chunks(): string[][] {
    const out: string[][] = [];
    for (let i = 0; i < this.values.length; i += CHUNK) out.push(this.values.slice(i, i + CHUNK));
    return out;
  }

  /** The key of the leaf libddwaf reported at key_path [chunk, index], or '' when out of range. */
  keyAt(keyPath: readonly (string | number)[]): string {
    return this.keys[indexOf(keyPath)] ?? '';
  }

  /** The value (as sent to the engine) at key_path [chunk, index]. */
  valueAt(keyPath: readonly (string | number)[]): string | undefined {
    return this.values[indexOf(keyPath)];
  }
}

function indexOf(keyPath: readonly (string | number)[]): number {
  const index = Number(keyPath[0]) * CHUNK + Number(keyPath[1]);
  return Number.isInteger(index) ? index : -1;
}

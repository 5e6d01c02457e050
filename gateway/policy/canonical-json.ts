// OPA's signature digest for structured files (.manifest, data.json, .signatures.json): the JSON is
// re-encoded with object keys sorted, no whitespace, numbers kept as written and strings encoded like
// Go's encoding/json without HTML escaping (v1/bundle/hash.go). JSON.parse would lose number text
// ("1.0" → 1), so this is a small parser that re-emits as it reads.

export function canonicalJson(text: string): string {
  const p = new Parser(text);
  p.ws();
  const out = p.value();
  p.ws();
  if (p.i !== text.length) throw new SyntaxError(`unexpected data at ${p.i}`);
  return out;
}

// Sticky (y) so each match starts exactly at the cursor without slicing the text.
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
// JSON forbids raw control characters inside strings (RFC 8259 §7), hence the range below.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }

  value(): string {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return goString(this.string());
    for (const lit of ['true', 'false', 'null']) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return lit;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) throw new SyntaxError(`unexpected character at ${this.i}`);
    this.i += m[0].length;
    return m[0];
  }

  object(): string {
    this.i++;
    const members: Array<[string, string]> = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return '{}';
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') throw new SyntaxError(`expected a key at ${this.i}`);
      const key = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') throw new SyntaxError(`expected : at ${this.i - 1}`);
      this.ws();
      members.push([key, this.value()]);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') break;
      if (c !== ',') throw new SyntaxError(`expected , or } at ${this.i - 1}`);
    }
    // Go sorts map keys by their UTF-8 bytes; for the BMP that is UTF-16 code unit order too.
    members.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return `{${members.map(([k, v]) => `${goString(k)}:${v}`).join(',')}}`;
  }

  array(): string {
    this.i++;
    const items: string[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return '[]';
    }
    for (;;) {
      this.ws();
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') break;
      if (c !== ',') throw new SyntaxError(`expected , or ] at ${this.i - 1}`);
    }
    return `[${items.join(',')}]`;
  }

  string(): string {
    STRING.lastIndex = this.i;
    const m = STRING.exec(this.s);
    if (!m) throw new SyntaxError(`bad string at ${this.i}`);
    this.i += m[0].length;
    return JSON.parse(m[0]) as string;
  }
}

/** Go's json encoding of a string with SetEscapeHTML(false): like JSON.stringify, plus U+2028/U+2029. */
function goString(s: string): string {
  return JSON.stringify(s)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

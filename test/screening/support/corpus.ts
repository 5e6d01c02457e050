// The labelled screening corpus (test/fixtures/screening/*.json) and how one case is sent through a
// real gateway in each placement. Shared by `npm run screening:eval` and the end-to-end tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dispatcher, request } from 'undici';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/screening/', import.meta.url));
export const ATTACK_CATEGORIES = ['sqli', 'xss', 'command_injection', 'path_traversal', 'protocol'] as const;
export const PLACEMENTS = ['query', 'path', 'header', 'json', 'form'] as const;
export type Placement = (typeof PLACEMENTS)[number];

export interface Corpus {
  readonly attacks: Readonly<Record<string, readonly string[]>>;
  readonly benign: readonly string[];
}

export function loadCorpus(dir = FIXTURES): Corpus {
  const read = (name: string) =>
    (JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { cases: string[] }).cases;
  return {
    attacks: Object.fromEntries(ATTACK_CATEGORIES.map((c) => [c, read(c)])),
    benign: read('benign'),
  };
}

/** What a client saw: the status, and for a gateway 403 the reason (the policy's). */
export interface Outcome {
  readonly status: number;
  readonly reason: string;
  /** The case cannot be carried in this placement (a CR/LF in a header value). */
  readonly notApplicable?: boolean;
}

/** Sends `value` in `placement` to `/api/<service>/...`; bodies go with POST and `headers` (a token). */
export async function sendCase(
  dispatcher: Dispatcher,
  dataUrl: string,
  service: string,
  placement: Placement,
  value: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  let path = `/api/${service}/items`;
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  const h: Record<string, string> = { ...headers };
  switch (placement) {
    case 'query':
      path += `?q=${encodeURIComponent(value)}`;
      break;
    case 'path':
      path += `/${encodeURIComponent(value)}`;
      break;
    case 'header':
      // A field value is visible characters, space and tab (RFC 9110 §5.5); clients refuse other controls.
      if (hasControl(value)) return { status: 0, reason: '', notApplicable: true };
      h['x-input'] = Buffer.from(value, 'utf8').toString('latin1');
      break;
    case 'json':
      method = 'POST';
      body = JSON.stringify({ id: 7, value, tags: ['a', value] });
      h['content-type'] = 'application/json';
      break;
    case 'form':
      method = 'POST';
      body = new URLSearchParams({ id: '7', value }).toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
      break;
  }
  const res = await request(`${dataUrl}${path}`, { method, headers: h, body, dispatcher });
  const text = await res.body.text();
  let reason = '';
  if (res.statusCode >= 400) {
    try {
      reason = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
    } catch {
      reason = text.slice(0, 200);
    }
  }
  return { status: res.statusCode, reason };
}

/** A request the gateway refused (403 from screening, or 400 from its own path and header rules). */
export function blocked(o: Outcome): boolean {
  return o.status === 403 || o.status === 400;
}

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

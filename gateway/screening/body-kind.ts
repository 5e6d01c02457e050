// Which request bodies the stage reads and how it parses them; the rest stream through uninspected.
import type { IncomingHttpHeaders } from 'node:http';

export type BodyKind = 'json' | 'form' | 'text';

/** Why a present body is not inspected; null when it is (then `kind` says how to parse it). */
export type BodyVerdict =
  | { readonly kind: BodyKind; readonly length: number; readonly skip: null }
  | { readonly kind: null; readonly length: number; readonly skip: string };

/** null: the request has no body. */
export function bodyVerdict(headers: IncomingHttpHeaders, maxBytes: number): BodyVerdict | null {
  const declared = headers['content-length'];
  if (headers['transfer-encoding'] === undefined && (declared === undefined || declared === '0')) return null;
  const length = declared === undefined ? -1 : Number(declared);
  const kind = kindOf(headers['content-type']);
  if (kind === null) return { kind: null, length, skip: 'content_type' };
  const coding = headers['content-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
    return { kind: null, length, skip: 'encoding' };
  // A chunked body of unknown length could only be inspected by holding back bytes we may have to
  // stream anyway; the policy sees it was not inspected and may refuse it.
  if (length < 0) return { kind: null, length, skip: 'unknown_length' };
  if (length > maxBytes) return { kind: null, length, skip: 'too_large' };
  return { kind, length, skip: null };
}

function kindOf(contentType: string | undefined): BodyKind | null {
  if (contentType === undefined) return 'text';
  const semi = contentType.indexOf(';');
  const mime = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  if (mime === 'application/x-www-form-urlencoded') return 'form';
  if (mime === '' || mime.startsWith('text/')) return 'text';
  return null;
}

// gzip + tar → files by name. Limits protect the admin plane from a decompression bomb.
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { BundleError } from './bundle-error.js';

export const MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 1000;

/**
 * Bundle file names as OPA writes them are absolute ("/policy.wasm"); signatures name them without the
 * leading slash. We key by the signature form: no leading "/" or "./".
 */
export function normaliseName(name: string): string | null {
  const trimmed = name.replace(/^(\.?\/)+/, '');
  if (trimmed === '' || trimmed.split('/').some((s) => s === '..')) return null;
  return trimmed;
}

export async function readArchive(gz: Buffer): Promise<Map<string, Buffer>> {
  let raw: Buffer;
  try {
    raw = gunzipSync(gz, { maxOutputLength: MAX_UNCOMPRESSED_BYTES });
  } catch (err) {
    throw new BundleError('malformed', `bundle is not a valid gzip stream: ${(err as Error).message}`);
  }
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  let entries = 0;
  try {
    const source = Readable.from([raw]);
    source.pipe(extract);
    for await (const entry of extract) {
      if (++entries > MAX_ENTRIES)
        throw new BundleError('malformed', `bundle has more than ${MAX_ENTRIES} entries`);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type !== 'file') continue;
      const name = normaliseName(entry.header.name);
      if (name === null)
        throw new BundleError('malformed', `bundle entry has an unsafe name: ${entry.header.name}`);
      if (files.has(name)) throw new BundleError('malformed', `bundle has ${name} twice`);
      files.set(name, Buffer.concat(chunks));
    }
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError('malformed', `bundle is not a valid tar archive: ${(err as Error).message}`);
  }
  if (entries === 0) throw new BundleError('malformed', 'bundle is not a valid tar archive: no entries');
  return files;
}

// Verification of OPA bundle signatures (.signatures.json): one compact JWS whose payload lists every
// file of the bundle with its digest. Same rules as OPA's DefaultVerifier (v1/bundle/verify.go):
// exactly one JWT, a valid signature by the configured key, a matching scope, every file listed and
// matching, and every listed file present.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify, errors as joseErrors } from 'jose';
import { BundleError } from './bundle-error.js';
import { canonicalJson } from './canonical-json.js';

export const SIGNATURES_FILE = '.signatures.json';
// Files whose digest is taken over canonical JSON rather than raw bytes (OPA's IsStructuredDoc; its
// data.yaml is refused earlier by parseBundle, wasm bundles carry data.json).
const STRUCTURED = new Set(['data.json', '.signatures.json', '.manifest']);
const HASHES: Readonly<Record<string, string>> = {
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

export interface VerificationKey {
  readonly key: KeyObject;
  /** JWS algorithms accepted for this key (an explicit allow-list, never taken from the token). */
  readonly algorithms: readonly string[];
  /** Must equal the payload's `scope` (OPA: bundle verification scope); '' by default. */
  readonly scope: string;
}

/** Parses a PEM public key (SPKI, PKCS#1 or certificate) and derives the algorithms it may sign with. */
export function parseVerificationKey(
  pem: string,
  opts: { algorithm?: string; scope?: string } = {},
): VerificationKey {
  const key = createPublicKey(pem);
  let algorithms: string[];
  if (opts.algorithm) algorithms = [opts.algorithm];
  else if (key.asymmetricKeyType === 'rsa') algorithms = ['RS256', 'RS384', 'RS512'];
  else if (key.asymmetricKeyType === 'rsa-pss') algorithms = ['PS256', 'PS384', 'PS512'];
  else if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    algorithms = curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : ['ES256'];
  } else if (key.asymmetricKeyType === 'ed25519') algorithms = ['EdDSA'];
  else throw new Error(`unsupported verification key type ${key.asymmetricKeyType}`);
  return { key, algorithms, scope: opts.scope ?? '' };
}

interface SignedFile {
  name: string;
  hash: string;
  algorithm: string;
}

/** Throws BundleError('signature') unless `files` (which include .signatures.json) are signed by `vk`. */
export async function verifyBundleSignature(
  files: ReadonlyMap<string, Buffer>,
  vk: VerificationKey,
): Promise<void> {
  const sigFile = files.get(SIGNATURES_FILE);
  if (!sigFile) throw fail('bundle is not signed but a verification key is configured');
  let tokens: unknown;
  try {
    tokens = (JSON.parse(sigFile.toString('utf8')) as { signatures?: unknown }).signatures;
  } catch {
    throw fail(`${SIGNATURES_FILE} is not valid JSON`);
  }
  if (!Array.isArray(tokens) || tokens.length !== 1 || typeof tokens[0] !== 'string') {
    throw fail(`${SIGNATURES_FILE} must hold exactly one JWT`);
  }
  let payload: { files?: unknown; scope?: unknown };
  try {
    const verified = await compactVerify(tokens[0], vk.key, { algorithms: [...vk.algorithms] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload));
  } catch (err) {
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw fail(`bundle signature algorithm is not allowed`);
    throw fail(`bundle signature is invalid: ${(err as Error).message}`);
  }
  if ((payload.scope ?? '') !== vk.scope) throw fail('bundle signature scope mismatch');
  if (!Array.isArray(payload.files)) throw fail('bundle signature lists no files');
  const listed = new Map<string, SignedFile>();
  for (const f of payload.files as SignedFile[]) {
    if (typeof f?.name !== 'string' || typeof f.hash !== 'string')
      throw fail('bundle signature has a bad file entry');
    listed.set(f.name.replace(/^\/+/, ''), f);
  }
  for (const [name, content] of files) {
    if (name === SIGNATURES_FILE) continue;
    const signed = listed.get(name);
    if (!signed) throw fail(`${name} is not included in the bundle signature`);
    const alg = HASHES[signed.algorithm];
    if (!alg) throw fail(`${name}: unsupported digest algorithm ${signed.algorithm}`);
    if (digest(name, content, alg) !== signed.hash.toLowerCase()) throw fail(`${name}: digest mismatch`);
    listed.delete(name);
  }
  if (listed.size > 0)
    throw fail(`signed files missing from the bundle: ${[...listed.keys()].sort().join(', ')}`);
}

/** OPA's file digest: raw bytes, or canonical JSON for the structured files. */
export function digest(name: string, content: Buffer, alg = 'sha256'): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const h = createHash(alg);
  if (STRUCTURED.has(base)) {
    try {
      h.update(canonicalJson(content.toString('utf8')), 'utf8');
    } catch {
      throw fail(`${name} is not valid JSON`);
    }
  } else h.update(content);
  return h.digest('hex');
}

function fail(message: string): BundleError {
  return new BundleError('signature', message);
}

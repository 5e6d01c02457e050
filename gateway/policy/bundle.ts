// A bundle Buffer → a verified bundle, or a BundleError saying precisely why not. Nothing here touches
// the active policy: the manager swaps only what this (and the engine build) accepted.
import { readArchive } from './archive.js';
import { BundleError } from './bundle-error.js';
import { DECISION_ENTRYPOINT } from './engine.js';
import { SIGNATURES_FILE, type VerificationKey, verifyBundleSignature } from './signature.js';

export { BundleError } from './bundle-error.js';

export interface BundleManifest {
  readonly revision?: string;
  readonly roots?: readonly string[];
  readonly wasm?: ReadonlyArray<{ readonly entrypoint: string; readonly module: string }>;
  readonly [key: string]: unknown;
}

export interface ParsedBundle {
  readonly revision: string;
  readonly manifest: BundleManifest;
  readonly wasm: Buffer;
  /** The data document; {} when the bundle has no data.json. */
  readonly data: unknown;
  readonly signed: boolean;
  readonly files: readonly string[];
}

export interface ParseBundleOptions {
  /** When set, only bundles signed by this key are accepted. */
  readonly verificationKey?: VerificationKey | undefined;
  /** Entrypoints the manifest must declare (default: the data-plane decision). */
  readonly requiredEntrypoints?: readonly string[];
}

export async function parseBundle(buffer: Buffer, opts: ParseBundleOptions = {}): Promise<ParsedBundle> {
  const files = await readArchive(buffer);
  const manifestFile = files.get('.manifest');
  if (!manifestFile) throw new BundleError('missing_file', 'bundle has no /.manifest');
  const wasm = files.get('policy.wasm');
  if (!wasm)
    throw new BundleError('missing_file', 'bundle has no /policy.wasm (build it with opa build -t wasm)');
  if (files.has('data.yaml'))
    throw new BundleError('invalid_file', 'data.yaml is not supported; use data.json');
  // Signature first: nothing from an untrusted bundle is interpreted before it is known to be ours.
  if (opts.verificationKey) await verifyBundleSignature(files, opts.verificationKey);
  const manifest = parseJsonObject(manifestFile, '.manifest') as BundleManifest;
  const data = assembleData(files);
  checkManifest(manifest, opts.requiredEntrypoints ?? [DECISION_ENTRYPOINT]);
  return {
    revision: typeof manifest.revision === 'string' ? manifest.revision : '',
    manifest,
    wasm,
    data,
    signed: files.has(SIGNATURES_FILE),
    files: [...files.keys()].sort(),
  };
}

function checkManifest(manifest: BundleManifest, required: readonly string[]): void {
  if (manifest.revision !== undefined && typeof manifest.revision !== 'string') {
    throw new BundleError('invalid_file', '.manifest revision must be a string');
  }
  const wasm = manifest.wasm;
  if (!Array.isArray(wasm) || wasm.length === 0) {
    throw new BundleError(
      'entrypoint',
      '.manifest has no wasm section (build with opa build -t wasm -e ...)',
    );
  }
  for (const entry of wasm as readonly unknown[]) {
    // The manifest is untrusted JSON: check the types before touching the values (String() of
    // {"toString": 1} throws a TypeError, which would surface as a 500 instead of a 422).
    const { module, entrypoint } = (entry ?? {}) as { module?: unknown; entrypoint?: unknown };
    if (typeof module !== 'string' || typeof entrypoint !== 'string') {
      throw new BundleError('invalid_file', '.manifest wasm entries need a string module and entrypoint');
    }
    if (module.replace(/^\/+/, '') !== 'policy.wasm')
      throw new BundleError('invalid_file', `unsupported wasm module ${JSON.stringify(module)}`);
  }
  const declared = new Set(wasm.map((w) => w.entrypoint));
  for (const e of required) {
    if (!declared.has(e)) {
      throw new BundleError(
        'entrypoint',
        `bundle lacks entrypoint ${e} (has: ${[...declared].join(', ') || 'none'})`,
      );
    }
  }
}

/** Every data.json at its directory's path: /data.json is the root, /a/b/data.json is data.a.b. */
function assembleData(files: ReadonlyMap<string, Buffer>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const names = [...files.keys()].filter((n) => n === 'data.json' || n.endsWith('/data.json')).sort();
  for (const name of names) {
    const doc = parseJsonObject(files.get(name)!, name);
    let node = root;
    for (const key of name.split('/').slice(0, -1)) {
      const next = node[key];
      if (next !== undefined && (next === null || typeof next !== 'object' || Array.isArray(next))) {
        throw new BundleError('invalid_file', `${name} overlaps a non-object value`);
      }
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    for (const [k, v] of Object.entries(doc)) {
      if (k in node) throw new BundleError('invalid_file', `${name}: ${k} is defined twice`);
      node[k] = v;
    }
  }
  return root;
}

function parseJsonObject(content: Buffer, name: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new BundleError('invalid_file', `${name} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BundleError('invalid_file', `${name} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

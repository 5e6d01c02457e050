// Properties of bundle and signature parsing (gateway/policy/bundle.ts, signature.ts, archive.ts): a
// bundle arrives over the admin plane or a URL, so random and mutated tar.gz and JWS inputs must end in
// a BundleError (the uploader's 400/422) within a bounded time, never in another exception or a hang.
// The seeds are real bundles built by `scripts/policy-cli.mjs build` (the real opa), one of them signed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import tar from 'tar-stream';
import { BundleError, parseBundle } from '../../gateway/policy/bundle.js';
import { parseVerificationKey, type VerificationKey } from '../../gateway/policy/signature.js';
import { params } from './support.js';

const exec = promisify(execFile);
const REPO = new URL('../..', import.meta.url).pathname;
const HANG_MS = 5000;

/** parseBundle, bounded in time; returns the outcome or fails the property on anything but a BundleError. */
async function outcome(
  buffer: Buffer,
  opts: Parameters<typeof parseBundle>[1] = {},
): Promise<'ok' | BundleError> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`parseBundle did not settle within ${HANG_MS} ms`)), HANG_MS);
  });
  try {
    await Promise.race([parseBundle(buffer, opts), hang]);
    return 'ok';
  } catch (err) {
    if (err instanceof BundleError) {
      assert.ok([400, 422].includes(err.status), `status ${err.status} for ${err.kind}`);
      return err;
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function tarOf(
  entries: ReadonlyArray<{ name: string; content: Buffer; type?: 'file' | 'directory' | 'symlink' }>,
): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory' || e.type === 'symlink')
      pack.entry({ name: e.name, type: e.type, linkname: e.type === 'symlink' ? '/etc/passwd' : undefined });
    else pack.entry({ name: e.name }, e.content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function untar(gz: Buffer): Promise<Array<{ name: string; content: Buffer }>> {
  const extract = tar.extract();
  const out: Array<{ name: string; content: Buffer }> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ name: entry.header.name, content: Buffer.concat(chunks) });
    }
  })();
  extract.end(gunzipSync(gz));
  await done;
  return out;
}

/** Byte-level edits: flip, overwrite, insert, delete, truncate. */
const byteEdit = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 600 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type ByteEdit = typeof byteEdit extends fc.Arbitrary<infer T> ? T : never;

function applyEdits(input: Buffer, edits: readonly ByteEdit[]): Buffer {
  let b = Buffer.from(input);
  for (const e of edits) {
    if (b.length === 0) break;
    const at = e.at % b.length;
    if (e.kind === 'flip') b[at]! ^= 1 << e.bit;
    else if (e.kind === 'set') b[at] = e.byte;
    else if (e.kind === 'insert')
      b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.length)]);
    else b = b.subarray(0, at);
  }
  return b;
}

describe('policy bundle parsing properties', () => {
  let dir = '';
  let plain: Buffer;
  let signed: Buffer;
  let key: VerificationKey;
  let signedFiles: Array<{ name: string; content: Buffer }>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acgs-fuzz-bundle-'));
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const privatePath = join(dir, 'signing.pem');
    await writeFile(privatePath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    key = parseVerificationKey(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const cli = (args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'policy-cli.mjs'), 'build', ...args], {
        cwd: REPO,
      });
    await Promise.all([
      cli(['--output', join(dir, 'plain.tar.gz'), '--revision', 'fuzz-plain']),
      cli([
        '--output',
        join(dir, 'signed.tar.gz'),
        '--revision',
        'fuzz-signed',
        '--signing-key',
        privatePath,
        '--signing-alg',
        'ES256',
      ]),
    ]);
    plain = await readFile(join(dir, 'plain.tar.gz'));
    signed = await readFile(join(dir, 'signed.tar.gz'));
    signedFiles = await untar(signed);
    // The seeds themselves are good: a property below that refuses everything would prove nothing.
    assert.equal(await outcome(plain), 'ok');
    assert.equal(await outcome(signed, { verificationKey: key }), 'ok');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('random bytes and random gzip streams are refused as malformed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (bytes, zip) => {
        const input = zip ? gzipSync(bytes) : Buffer.from(bytes);
        const result = await outcome(input);
        assert.ok(result instanceof BundleError && result.kind === 'malformed', `got ${result}`);
      }),
      params(500),
    );
  });

  test('a real bundle with its gzip bytes mutated is refused or still whole, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(byteEdit, { minLength: 1, maxLength: 4 }), async (edits) => {
        await outcome(applyEdits(plain, edits));
      }),
      params(300),
    );
  });

  test('a real bundle with its tar bytes mutated (headers, sizes, padding) and gzipped again', async () => {
    const rawTar = gunzipSync(plain);
    // Bias edits towards the 512-byte headers, where the parser reads names, sizes and checksums.
    const headerEdit = fc.record({
      kind: fc.constant('set' as const),
      at: fc.integer({ min: 0, max: 511 }),
      byte: fc.nat(255),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(byteEdit, headerEdit), { minLength: 1, maxLength: 5 }),
        async (edits) => {
          await outcome(gzipSync(applyEdits(rawTar, edits), { level: 1 }));
        },
      ),
      params(150),
    );
  });

  test('archives with hostile entry names, types and duplicates are refused or parsed consistently', async () => {
    const name = fc.oneof(
      fc.constantFrom(
        '/policy.wasm',
        'policy.wasm',
        './policy.wasm',
        '/.manifest',
        '/data.json',
        '/a/data.json',
        '/a/b/data.json',
      ),
      fc.constantFrom(
        '../policy.wasm',
        '/../../etc/passwd',
        'a/../../x',
        '',
        '/',
        '.',
        './',
        '//x',
        'data.yaml',
        '/.signatures.json',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
    );
    const content = fc
      .oneof(
        fc.constantFrom(
          '{}',
          '[]',
          'null',
          '{"a":1}',
          '{"a":{"b":1}}',
          '{"wasm":[{"entrypoint":"acgs/gateway/decision","module":"/policy.wasm"}]}',
          '{"revision":5,"wasm":[]}',
          'not json',
          '{"wasm":[null]}',
          '{"wasm":[{"module":{"toString":1}}]}',
        ),
        fc.string({ maxLength: 60 }),
      )
      .map((s) => Buffer.from(s));
    const entry = fc.record({
      name,
      content,
      type: fc.constantFrom('file', 'file', 'file', 'directory', 'symlink') as fc.Arbitrary<
        'file' | 'directory' | 'symlink'
      >,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 8 }), async (entries) => {
        const result = await outcome(gzipSync(await tarOf(entries)));
        if (result === 'ok') {
          const names = entries.filter((e) => e.type === 'file').map((e) => e.name.replace(/^(\.?\/)+/, ''));
          assert.ok(names.includes('policy.wasm') && names.includes('.manifest'));
          assert.ok(!names.some((n) => n.split('/').includes('..')), 'accepted a name with ..');
        }
      }),
      {
        ...params<[Array<{ name: string; content: Buffer; type: 'file' | 'directory' | 'symlink' }>]>(400),
        // Regression: String() of a manifest module {"toString": 1} threw a TypeError (a 500 on upload).
        examples: [
          [
            [
              {
                name: '/.manifest',
                content: Buffer.from('{"wasm":[{"module":{"toString":1}}]}'),
                type: 'file',
              },
              { name: '/policy.wasm', content: Buffer.alloc(0), type: 'file' },
            ],
          ],
        ],
      },
    );
  });

  test('a signed bundle with any file changed, added or removed fails signature verification', async () => {
    const change = fc.oneof(
      fc.record({
        kind: fc.constant('edit' as const),
        file: fc.nat(),
        edits: fc.array(byteEdit, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant('drop' as const), file: fc.nat() }),
      fc.record({
        kind: fc.constant('add' as const),
        name: fc.constantFrom('/extra.rego', '/x/data.json', '/policy2.wasm'),
        content: fc.constantFrom('{}', 'package x'),
      }),
    );
    await fc.assert(
      fc.asyncProperty(change, async (c) => {
        let files = signedFiles.map((f) => ({ ...f }));
        const unsigned = files.filter((f) => !f.name.endsWith('.signatures.json'));
        const target = c.kind === 'add' ? undefined : unsigned[c.file % unsigned.length]!;
        if (c.kind === 'edit') {
          const edited = applyEdits(target!.content, c.edits);
          if (edited.equals(target!.content)) return;
          // A structured file digests as canonical JSON: whitespace-only edits are not changes.
          target!.content = edited;
        } else if (c.kind === 'drop') files = files.filter((f) => f !== target);
        else files.push({ name: c.name, content: Buffer.from(c.content) });
        const result = await outcome(gzipSync(await tarOf(files), { level: 1 }), { verificationKey: key });
        if (result === 'ok') {
          // Only an edit that leaves a JSON file's canonical form unchanged may still verify.
          assert.ok(
            c.kind === 'edit' && /\.(json|manifest)$/.test(target!.name),
            `accepted after ${c.kind} of ${target?.name ?? (c as { name: string }).name}`,
          );
          return;
        }
        assert.ok(
          ['signature', 'malformed', 'missing_file', 'invalid_file'].includes(result.kind),
          result.kind,
        );
      }),
      params(120),
    );
  });

  test('a mutated or forged .signatures.json is refused with a signature error', async () => {
    const sigFile = signedFiles.find((f) => f.name.endsWith('.signatures.json'))!;
    const token = (JSON.parse(sigFile.content.toString()) as { signatures: string[] }).signatures[0]!;
    const [h, p, s] = token.split('.') as [string, string, string];
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const forged = fc.oneof(
      fc
        .array(fc.tuple(fc.nat(token.length - 1), fc.constantFrom(...'ABCxyz019-_.=+/ ')), {
          minLength: 1,
          maxLength: 3,
        })
        .map((edits) => {
          const chars = [...token];
          for (const [at, ch] of edits) chars[at] = ch;
          return chars.join('');
        }),
      fc.constantFrom(
        `${b64({ alg: 'none' })}.${p}.`,
        `${b64({ alg: 'HS256' })}.${p}.${s}`,
        `${h}.${b64({ files: [], scope: '' })}.${s}`,
        `${h}.${p}`,
        `${h}.${p}.${s}.${s}`,
        '',
        '...',
      ),
      fc.string({ maxLength: 80 }),
    );
    const document = fc.oneof(
      forged.map((t) => JSON.stringify({ signatures: [t] })),
      forged.map((t) => JSON.stringify({ signatures: [t, token] })),
      fc.constantFrom(
        '{}',
        '[]',
        'null',
        '{"signatures":"x"}',
        '{"signatures":[1]}',
        '{"signatures":[]}',
        '{',
        '',
      ),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? ''),
    );
    await fc.assert(
      fc.asyncProperty(document, async (doc) => {
        const files = signedFiles.map((f) =>
          f === sigFile ? { name: f.name, content: Buffer.from(doc) } : f,
        );
        const result = await outcome(gzipSync(await tarOf(files), { level: 1 }), { verificationKey: key });
        if (result === 'ok') {
          // Only a document that still carries the original, untouched token may pass.
          assert.equal(doc, JSON.stringify({ signatures: [token] }));
          return;
        }
        assert.equal(result.kind, 'signature', result.message);
      }),
      params(120),
    );
  });
});

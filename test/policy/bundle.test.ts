// Every bad bundle is refused with a precise reason and the right status, and the active one stays.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { signBundleDir } from '../../cli/policy.js';
import { readArchive } from '../../gateway/policy/archive.js';
import { BundleError } from '../../gateway/policy/bundle.js';
import { canonicalJson } from '../../gateway/policy/canonical-json.js';
import { buildPolicyInput } from '../../gateway/policy/input.js';
import { PolicyManager } from '../../gateway/policy/manager.js';
import { parseVerificationKey } from '../../gateway/policy/signature.js';
import {
  buildBundle,
  type KeyFiles,
  makeCtx,
  OPA,
  type TempDir,
  tarGz,
  tempDir,
  writeKeyPair,
} from './helpers.js';

describe('bundle verification', () => {
  let dir: TempDir;
  let good: Buffer;
  let signedRsa: Buffer;
  let signedEc: Buffer;
  let rsa: KeyFiles;
  let ec: KeyFiles;
  let files: Map<string, Buffer>;

  before(async () => {
    dir = await tempDir();
    rsa = await writeKeyPair(dir.path, 'RS256');
    ec = await writeKeyPair(dir.path, 'ES256');
    [good, signedRsa, signedEc] = await Promise.all([
      buildBundle(dir.path, 'good'),
      buildBundle(dir.path, 'signed-rsa', { signingKey: rsa.privatePath, signingAlg: 'RS256' }),
      buildBundle(dir.path, 'signed-ec', { signingKey: ec.privatePath, signingAlg: 'ES256' }),
    ]);
    files = await readArchive(good);
  });
  after(() => dir.remove());

  /** A manager with `good` active; `load` must fail and leave it active. */
  async function expectRefused(
    bundle: Buffer,
    status: number,
    reason: RegExp,
    opts: ConstructorParameters<typeof PolicyManager>[0] = {},
  ): Promise<void> {
    const manager = new PolicyManager(opts);
    const start = opts.verificationKey ? signedRsa : good;
    const { revision } = await manager.load(start, 'start');
    await assert.rejects(manager.load(bundle, 'bad'), (err: unknown) => {
      assert.ok(err instanceof BundleError, String(err));
      assert.equal(err.status, status);
      assert.match(err.message, reason);
      return true;
    });
    assert.equal(manager.engine?.revision, revision, 'old bundle still active');
    assert.equal(manager.decide(buildPolicyInput(makeCtx())).allow, true, 'and still deciding');
    const state = manager.state();
    assert.match(state.lastError?.message ?? '', reason);
    assert.equal(state.lastError?.source, 'bad');
  }

  const withFiles = (over: Record<string, Buffer | string | null>) => {
    const out: Record<string, Buffer | string> = {};
    for (const [name, content] of files) out[`/${name}`] = content;
    for (const [name, content] of Object.entries(over)) {
      if (content === null) delete out[name];
      else out[name] = content;
    }
    return tarGz(out);
  };

  test('corrupt gzip is 400', async () => {
    await expectRefused(Buffer.from('definitely not gzip'), 400, /not a valid gzip stream/);
    await expectRefused(good.subarray(0, good.length / 2), 400, /gzip/);
  });

  test('gzip of something that is not tar is 400', async () => {
    await expectRefused(gzipSync(Buffer.from('x'.repeat(2000))), 400, /not a valid tar archive/);
  });

  test('tar without policy.wasm is 422', async () => {
    await expectRefused(await withFiles({ '/policy.wasm': null }), 422, /no \/policy\.wasm/);
  });

  test('missing .manifest is 422', async () => {
    await expectRefused(await withFiles({ '/.manifest': null }), 422, /no \/\.manifest/);
  });

  test('wrong entrypoint in the manifest is 422', async () => {
    const manifest = JSON.stringify({
      revision: 'x',
      wasm: [{ entrypoint: 'other/decision', module: '/policy.wasm' }],
    });
    await expectRefused(
      await withFiles({ '/.manifest': manifest }),
      422,
      /lacks entrypoint acgs\/gateway\/decision/,
    );
  });

  test('a manifest that lies about the module is caught by the module itself', async () => {
    const other = await buildOtherPolicy(dir.path);
    await expectRefused(await withFiles({ '/policy.wasm': other }), 422, /policy\.wasm lacks entrypoint/);
  });

  test('garbage policy.wasm is 422', async () => {
    await expectRefused(await withFiles({ '/policy.wasm': 'nope' }), 422, /not a valid WebAssembly module/);
  });

  test('invalid data.json is 422', async () => {
    await expectRefused(await withFiles({ '/data.json': '{' }), 422, /data\.json is not valid JSON/);
  });

  test('unsafe entry names are 400', async () => {
    await expectRefused(await withFiles({ '../evil': 'x' }), 400, /unsafe name/);
  });

  test('unsigned bundle is 422 when a verification key is set', async () => {
    await expectRefused(good, 422, /not signed but a verification key is configured/, {
      verificationKey: parseVerificationKey(rsa.publicPem),
    });
  });

  test('bundle signed by another key is 422', async () => {
    await expectRefused(signedEc, 422, /signature/, { verificationKey: parseVerificationKey(rsa.publicPem) });
  });

  test('tampered after signing is 422: changed data, added file, removed file', async () => {
    const vk = parseVerificationKey(rsa.publicPem);
    const signedFiles = await readArchive(signedRsa);
    const tamper = async (over: Record<string, string | null>) => {
      const out: Record<string, Buffer | string> = {};
      for (const [name, content] of signedFiles) out[`/${name}`] = content;
      for (const [name, content] of Object.entries(over)) {
        if (content === null) delete out[name];
        else out[name] = content;
      }
      return tarGz(out);
    };
    const data = JSON.parse(signedFiles.get('data.json')!.toString());
    data.acgs.config.services.ac.public_methods.push('POST');
    await expectRefused(
      await tamper({ '/data.json': JSON.stringify(data) }),
      422,
      /data\.json: digest mismatch/,
      {
        verificationKey: vk,
      },
    );
    await expectRefused(await tamper({ '/extra.rego': 'package x' }), 422, /extra\.rego is not included/, {
      verificationKey: vk,
    });
    await expectRefused(
      await tamper({ '/access.rego': null }),
      422,
      /signed files missing from the bundle: access\.rego/,
      {
        verificationKey: vk,
      },
    );
  });

  test('signed bundles are accepted (RS256 and ES256), whitespace changes in JSON do not matter', async () => {
    const m = new PolicyManager({ verificationKey: parseVerificationKey(rsa.publicPem) });
    assert.equal((await m.load(signedRsa, 'rsa')).revision, 'signed-rsa');
    assert.equal(m.state().signed, true);
    const e = new PolicyManager({ verificationKey: parseVerificationKey(ec.publicPem) });
    assert.equal((await e.load(signedEc, 'ec')).revision, 'signed-ec');
    // OPA hashes structured files canonically, so a re-indented manifest still verifies.
    const signedFiles = await readArchive(signedRsa);
    const out: Record<string, Buffer | string> = {};
    for (const [name, content] of signedFiles) out[`/${name}`] = content;
    out['/.manifest'] = JSON.stringify(JSON.parse(signedFiles.get('.manifest')!.toString()), null, 2);
    assert.equal((await m.load(await tarGz(out), 'reindented')).revision, 'signed-rsa');
  });

  test('policy sign signs an unpacked bundle dir that then verifies', async () => {
    const unpacked = join(dir.path, 'unpacked');
    await mkdir(unpacked);
    for (const [name, content] of files) {
      await mkdir(join(unpacked, name, '..'), { recursive: true });
      await writeFile(join(unpacked, name), content);
    }
    const output = join(dir.path, 'resigned.tar.gz');
    await signBundleDir({ opa: OPA, dir: unpacked, signingKey: ec.privatePath, signingAlg: 'ES256', output });
    const { readFile } = await import('node:fs/promises');
    const m = new PolicyManager({ verificationKey: parseVerificationKey(ec.publicPem) });
    assert.equal((await m.load(await readFile(output), 'resigned')).revision, 'good');
  });

  test('canonical JSON keeps number text, sorts keys, escapes like Go', () => {
    assert.equal(
      canonicalJson('{ "b": 1.0, "a": [true, null, "x\\u2028"] }'),
      '{"a":[true,null,"x\\u2028"],"b":1.0}',
    );
    assert.throws(() => canonicalJson('{"a":1,}'));
  });
});

/** A policy with a different entrypoint, compiled by the real opa. */
async function buildOtherPolicy(dir: string): Promise<Buffer> {
  const src = join(dir, 'other');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'other.rego'), 'package other\n\ndecision := {"allow": true}\n');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  await promisify(execFile)(OPA, [
    'build',
    '-t',
    'wasm',
    '-e',
    'other/decision',
    '-o',
    join(dir, 'other.tar.gz'),
    src,
  ]);
  const { readFile } = await import('node:fs/promises');
  return (await readArchive(await readFile(join(dir, 'other.tar.gz')))).get('policy.wasm')!;
}

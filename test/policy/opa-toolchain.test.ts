import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultRevision, runPolicyCommand } from '../../cli/policy.js';
import { readArchive } from '../../gateway/policy/archive.js';
import { OPA, type TempDir, tempDir } from './helpers.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { env: { OPA_BIN: OPA }, stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) },
  };
}

describe('policy command line', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(() => dir.remove());

  test('policy test runs opa test on policies/ and passes the coverage threshold', async () => {
    const c = io();
    assert.equal(await runPolicyCommand(['test'], c.io), 0, c.err.join(''));
    const out = c.out.join('');
    assert.match(out, /PASS: \d+\/\d+/);
    assert.match(out, /coverage: \d+\.\d+% \(threshold 95%\)/);
  });

  test('policy test fails when the threshold is not met', async () => {
    const c = io();
    assert.equal(await runPolicyCommand(['test', '--threshold', '100'], c.io), 1);
    assert.match(c.err.join(''), /below 100%/);
  });

  test('policy build writes a wasm bundle with both entrypoints, no Rego tests, a revision', async () => {
    const c = io();
    const output = join(dir.path, 'b.tar.gz');
    assert.equal(await runPolicyCommand(['build', '-o', output], c.io), 0, c.err.join(''));
    const files = await readArchive(await readFile(output));
    assert.ok(files.has('policy.wasm'));
    assert.ok(files.has('data.json'));
    assert.ok(![...files.keys()].some((f) => f.endsWith('_test.rego')), 'tests excluded');
    const manifest = JSON.parse(files.get('.manifest')!.toString());
    assert.deepEqual(manifest.wasm.map((w: { entrypoint: string }) => w.entrypoint).sort(), [
      'acgs/gateway/admin_decision',
      'acgs/gateway/decision',
    ]);
    assert.match(manifest.revision, /^([0-9a-f]{7,}(-dirty)?-)?\d{8}T\d{6}Z$/);
  });

  test('revision falls back to the time outside a git checkout', async () => {
    const rev = await defaultRevision(dir.path, new Date('2026-01-02T03:04:05.678Z'));
    assert.equal(rev, '20260102T030405Z');
  });

  test('every command answers --help', async () => {
    for (const cmd of [['--help'], ['build', '--help'], ['test', '--help'], ['sign', '--help']]) {
      const c = io();
      assert.equal(await runPolicyCommand(cmd, c.io), 0);
      assert.match(c.out.join(''), /Usage: acgs-gateway policy/);
    }
  });

  test('bad usage exits 2 with the help text', async () => {
    const c = io();
    assert.equal(await runPolicyCommand(['frobnicate'], c.io), 2);
    assert.equal(await runPolicyCommand(['build', '--signing-alg', 'HS256'], c.io), 2);
    assert.equal(await runPolicyCommand(['sign'], c.io), 2);
  });

  test('a missing opa binary is reported, not thrown', async () => {
    const c = io();
    const code = await runPolicyCommand(
      ['build', '-o', join(dir.path, 'x.tar.gz'), '--opa', '/nonexistent/opa'],
      c.io,
    );
    assert.equal(code, 1);
    assert.match(c.err.join(''), /cannot run \/nonexistent\/opa/);
  });
});

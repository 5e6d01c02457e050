// Hot swap while evaluations run, and bundles fetched from a URL with ETag polling.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { buildPolicyInput } from '../../gateway/policy/input.js';
import { PolicyManager } from '../../gateway/policy/manager.js';
import { createBundleSource } from '../../gateway/policy/source.js';
import { buildBundle, makeCtx, type TempDir, tempDir } from './helpers.js';

describe('hot swap and bundle sources', () => {
  let dir: TempDir;
  let bundleA: Buffer;
  let bundleB: Buffer;
  before(async () => {
    dir = await tempDir();
    [bundleA, bundleB] = await Promise.all([buildBundle(dir.path, 'rev-a'), buildBundle(dir.path, 'rev-b')]);
  });
  after(() => dir.remove());

  test('swapping bundles while evaluations run fails no evaluation', async () => {
    const manager = new PolicyManager();
    await manager.load(bundleA, 'a');
    const allowInput = buildPolicyInput(makeCtx());
    const denyInput = buildPolicyInput(makeCtx({ method: 'POST' }));
    let stop = false;
    let evaluations = 0;
    let failures = 0;
    const seen = new Set<string>();
    // Evaluators interleave with the loads' async steps (gunzip, tar, wasm compile).
    const evaluators = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const a = manager.decide(allowInput);
        const d = manager.decide(denyInput);
        if (a.error !== undefined || d.error !== undefined || !a.allow || d.allow) failures++;
        seen.add(manager.engine!.revision);
        evaluations += 2;
        await tick();
      }
    });
    // At least 6 swaps, and keep swapping (bounded) until the evaluators have really run alongside.
    let swaps = 0;
    while (swaps < 200 && (swaps < 6 || evaluations < 200 || swaps % 2 === 1)) {
      const loading = manager.load(swaps % 2 === 0 ? bundleB : bundleA, `swap ${swaps}`);
      // A load's own steps resolve as microtasks; yield to the event loop as live traffic would.
      await tick();
      await loading;
      swaps++;
    }
    stop = true;
    await Promise.all(evaluators);
    assert.equal(failures, 0);
    assert.ok(evaluations >= 200, `evaluated ${evaluations} during ${swaps} swaps`);
    assert.deepEqual([...seen].sort(), ['rev-a', 'rev-b']);
    assert.equal(manager.engine?.revision, 'rev-a');
  });

  test('concurrent loads apply in call order, the last one wins', async () => {
    const manager = new PolicyManager();
    await Promise.all([manager.load(bundleA, '1'), manager.load(bundleB, '2'), manager.load(bundleA, '3')]);
    assert.equal(manager.state().source, '3');
  });

  test('URL source: 304 while unchanged, new ETag loads the new revision, failures keep it', async () => {
    let body = bundleA;
    let etag = '"a"';
    let failNext = false;
    const counts = { ok: 0, notModified: 0, failed: 0 };
    const server: Server = createServer((req, res) => {
      if (failNext) {
        counts.failed++;
        res.writeHead(500).end();
        return;
      }
      if (req.headers['if-none-match'] === etag) {
        counts.notModified++;
        res.writeHead(304, { etag }).end();
        return;
      }
      counts.ok++;
      res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
    const manager = new PolicyManager();
    const source = createBundleSource({ location: url, manager, pollIntervalMs: 60_000, pollJitter: 0.1 });
    try {
      assert.equal(await source.start(), true);
      assert.equal(manager.engine?.revision, 'rev-a');
      assert.equal(await source.poll(), 'unchanged');
      assert.equal(await source.poll(), 'unchanged');
      assert.deepEqual(counts, { ok: 1, notModified: 2, failed: 0 });

      body = bundleB;
      etag = '"b"';
      assert.equal(await source.poll(), 'loaded');
      assert.equal(manager.engine?.revision, 'rev-b');

      failNext = true;
      assert.equal(await source.poll(), 'failed');
      assert.equal(manager.engine?.revision, 'rev-b', 'kept on fetch failure');
      assert.match(manager.state().lastError?.message ?? '', /HTTP 500/);
      failNext = false;

      body = Buffer.from('broken');
      etag = '"c"';
      assert.equal(await source.poll(), 'failed');
      assert.equal(manager.engine?.revision, 'rev-b', 'kept on a refused bundle');
      assert.equal(await source.poll(), 'unchanged', 'the refused bytes are not fetched again');
      assert.deepEqual(counts, { ok: 3, notModified: 3, failed: 1 });
    } finally {
      await source.close();
      await new Promise((r) => server.close(r));
    }
  });

  test('URL source polls by itself on its (jittered) interval', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (req.headers['if-none-match'] === '"a"') res.writeHead(304, { etag: '"a"' }).end();
      else res.writeHead(200, { etag: '"a"' }).end(bundleA);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const source = createBundleSource({
      location: url,
      manager: new PolicyManager(),
      pollIntervalMs: 20,
      pollJitter: 0.5,
    });
    try {
      await source.start();
      for (let i = 0; i < 200 && requests < 4; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(requests >= 4, `polled ${requests} times`);
    } finally {
      await source.close();
      await new Promise((r) => server.close(r));
    }
    const after = requests;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(requests, after, 'no polls after close()');
  });

  test('file source loads once; a missing file is a recorded failure', async () => {
    const path = join(dir.path, 'on-disk.tar.gz');
    await writeFile(path, bundleA);
    const manager = new PolicyManager();
    assert.equal(
      await createBundleSource({ location: path, manager, pollIntervalMs: 1000, pollJitter: 0 }).start(),
      true,
    );
    const empty = new PolicyManager();
    const missing = createBundleSource({
      location: join(dir.path, 'nope'),
      manager: empty,
      pollIntervalMs: 1000,
      pollJitter: 0,
    });
    assert.equal(await missing.start(), false);
    assert.equal(empty.state().lastError?.reason, 'fetch');
    assert.equal(empty.decide(buildPolicyInput(makeCtx())).error, 'no policy bundle is loaded');
  });
});

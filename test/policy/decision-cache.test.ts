// The decision cache and the input projection: bounded, emptied by every bundle swap, used only for a
// module that is a pure function of its input, and a projection declaration that is wrong refuses the
// bundle. (That the projection and the cache decide exactly as `opa eval` on the whole input is
// differential.test.ts.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_POLICY_DIR } from '../../cli/policy.js';
import { parseBundle } from '../../gateway/policy/bundle.js';
import { BundleError } from '../../gateway/policy/bundle-error.js';
import type { PolicyDecision } from '../../gateway/policy/decision.js';
import { DecisionCache, MAX_KEY_LENGTH } from '../../gateway/policy/decision-cache.js';
import { createWasmEngine, DECISION_ENTRYPOINT } from '../../gateway/policy/engine.js';
import { buildPolicyInput } from '../../gateway/policy/input.js';
import { PolicyManager } from '../../gateway/policy/manager.js';
import { FULL_PROJECTION, readProjection } from '../../gateway/policy/projection.js';
import { buildBundle, makeCtx, OPA, type TempDir, tempDir } from './helpers.js';

const exec = promisify(execFile);
const allow = (reason: string): PolicyDecision => ({ allow: true, status: 200, reason });

describe('DecisionCache', () => {
  test('remembers, counts hits and misses, and holds at most two generations', () => {
    const cache = new DecisionCache(2);
    assert.equal(cache.get('a'), undefined);
    cache.set('a', allow('a'));
    cache.set('b', allow('b'));
    assert.equal(cache.get('a')?.reason, 'a');
    cache.set('c', allow('c')); // young {a, b} is full: it becomes old, c starts a new young
    cache.set('d', allow('d'));
    assert.equal(cache.size, 4);
    cache.set('e', allow('e')); // old {a, b} is dropped
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('c')?.reason, 'c'); // found in old: moved back into young
    assert.ok(cache.size <= 4, `size ${cache.size}`);
    assert.equal(cache.hits, 2);
    assert.equal(cache.misses, 2);
  });

  test('a key longer than the limit is never stored', () => {
    const cache = new DecisionCache(10);
    const long = 'x'.repeat(MAX_KEY_LENGTH + 1);
    cache.set(long, allow('long'));
    assert.equal(cache.get(long), undefined);
    assert.equal(cache.size, 0);
  });
});

describe('input projection', () => {
  test('no declaration means the whole document; a declaration lists known fields only', () => {
    assert.equal(readProjection({}), FULL_PROJECTION);
    assert.equal(readProjection({ acgs: { config: {} } }), FULL_PROJECTION);
    const p = readProjection({ acgs: { input: { fields: ['path', 'method'] } } });
    assert.ok(typeof p !== 'string');
    assert.deepEqual(p.fields, ['method', 'path'], 'serialised in the document order');
    assert.match(
      String(readProjection({ acgs: { input: { fields: ['method', 'bogus'] } } })),
      /"bogus" is not/,
    );
    assert.match(String(readProjection({ acgs: { input: { fields: 'method' } } })), /must be an array/);
  });

  test('builds only the declared fields, in a fixed order', () => {
    const p = readProjection({ acgs: { input: { fields: ['screening', 'claims', 'method'] } } });
    assert.ok(typeof p !== 'string');
    const input = buildPolicyInput(makeCtx({ query: 'a=1', claims: { sub: 'u' } }), p);
    assert.deepEqual(Object.keys(input), ['method', 'claims', 'screening']);
  });
});

describe('decision cache on the engine', () => {
  let dir: TempDir;
  let shipped: Buffer;
  let closedAc: Buffer;
  let badProjection: Buffer;
  before(async () => {
    dir = await tempDir();
    // Bundle B: the shipped policy with data that takes GET off ac's public methods.
    const dataB = join(dir.path, 'policies-b');
    const dataBad = join(dir.path, 'policies-bad');
    await cp(DEFAULT_POLICY_DIR, dataB, { recursive: true, filter: (src) => !src.includes('/build') });
    await cp(DEFAULT_POLICY_DIR, dataBad, { recursive: true, filter: (src) => !src.includes('/build') });
    const data = JSON.parse(await readFile(join(DEFAULT_POLICY_DIR, 'data.json'), 'utf8'));
    data.acgs.config.services.ac.public_methods = ['HEAD'];
    await writeFile(join(dataB, 'data.json'), JSON.stringify(data));
    data.acgs.input.fields = ['method', 'path', 'claimz'];
    await writeFile(join(dataBad, 'data.json'), JSON.stringify(data));
    [shipped, closedAc, badProjection] = await Promise.all([
      buildBundle(dir.path, 'shipped'),
      buildBundle(dir.path, 'closed-ac', { policyDir: dataB }),
      buildBundle(dir.path, 'bad-projection', { policyDir: dataBad }),
    ]);
  });
  after(() => dir.remove());

  test('a bundle swap empties the cache: the new bundle decides at once', async () => {
    const manager = new PolicyManager({ decisionCacheEntries: 100 });
    await manager.load(shipped, 'shipped');
    const input = () =>
      buildPolicyInput(makeCtx({ method: 'GET', service: 'ac' }), manager.engine!.projection);
    assert.equal(manager.decide(input()).allow, true);
    assert.equal(manager.decide(input()).allow, true);
    const first = manager.engine as unknown as { decisionCache: DecisionCache };
    assert.equal(first.decisionCache.hits, 1, 'the second decision came from the cache');

    await manager.load(closedAc, 'closed-ac');
    const second = manager.engine as unknown as { decisionCache: DecisionCache };
    assert.equal(second.decisionCache.size, 0, 'the new engine starts empty');
    const decision = manager.decide(input());
    assert.equal(decision.allow, false, 'no stale allow from the previous bundle');
    assert.equal(decision.status, 401);
    assert.equal(manager.decide(input()).status, 401);
    assert.equal(second.decisionCache.hits, 1);

    await manager.load(shipped, 'shipped again');
    assert.equal(manager.decide(input()).allow, true);
  });

  test('a cached decision is frozen: one request cannot change what the next is told', async () => {
    const manager = new PolicyManager({ decisionCacheEntries: 100 });
    await manager.load(shipped, 'shipped');
    const ctx = makeCtx({ method: 'GET', service: 'ac', colorOverride: 'green' });
    const d = manager.decide(buildPolicyInput(ctx, manager.engine!.projection));
    assert.equal(d.headers?.['x-acgs-color-override'], 'refused');
    assert.throws(() => {
      (d.headers as Record<string, string>)['x-acgs-color-override'] = 'granted';
    }, TypeError);
    assert.equal(
      manager.decide(buildPolicyInput(ctx, manager.engine!.projection)).headers?.['x-acgs-color-override'],
      'refused',
    );
  });

  test('off when asked, and a wrong projection declaration refuses the bundle (422)', async () => {
    const off = new PolicyManager({ decisionCacheEntries: 0 });
    await off.load(shipped, 'shipped');
    assert.equal((off.engine as unknown as { decisionCache: unknown }).decisionCache, null);

    const manager = new PolicyManager({ decisionCacheEntries: 100 });
    await manager.load(shipped, 'shipped');
    await assert.rejects(manager.load(badProjection, 'bad'), (err: unknown) => {
      assert.ok(err instanceof BundleError);
      assert.equal(err.status, 422);
      assert.match(err.message, /"claimz" is not an input field/);
      return true;
    });
    assert.equal(manager.engine?.revision, 'shipped', 'the active bundle stays');
  });

  test('no cache for a module that imports a builtin whose answer is not a function of its input', async () => {
    const src = join(dir.path, 'clock');
    await writeFile(
      join(dir.path, 'clock.rego'),
      'package acgs.gateway\n\ndecision := {"allow": true, "status": 200, "reason": sprintf("at %d", [time.now_ns()])}\n',
    );
    await exec(OPA, [
      'build',
      '-t',
      'wasm',
      '-e',
      DECISION_ENTRYPOINT,
      '-o',
      `${src}.tar.gz`,
      join(dir.path, 'clock.rego'),
    ]);
    const bundle = await parseBundle(await readFile(`${src}.tar.gz`));
    let now = 1;
    const engine = await createWasmEngine(bundle.wasm, {
      revision: 'clock',
      data: {},
      maxMemoryPages: 64,
      decisionCacheEntries: 100,
      builtins: { 'time.now_ns': () => now++ },
    });
    assert.equal(engine.decisionCache, null);
    const input = buildPolicyInput(makeCtx(), engine.projection);
    assert.notEqual(engine.evaluate(input).reason, engine.evaluate(input).reason, 'evaluated every time');

    // The same cache setting on a pure module does cache.
    const pure = await parseBundle(shipped);
    const cached = await createWasmEngine(pure.wasm, {
      revision: 'pure',
      data: pure.data,
      maxMemoryPages: 64,
      decisionCacheEntries: 100,
    });
    assert.ok(cached.decisionCache !== null);
  });
});

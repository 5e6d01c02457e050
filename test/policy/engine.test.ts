// The real bundle from the repo's Rego, evaluated by the wasm engine with inputs built from request
// contexts the way the gateway builds them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { missingBuiltins } from '../../gateway/policy/builtins.js';
import { parseBundle } from '../../gateway/policy/bundle.js';
import { createWasmEngine, PolicyModuleError, type WasmPolicyEngine } from '../../gateway/policy/engine.js';
import { buildPolicyInput } from '../../gateway/policy/input.js';
import { screen } from '../screening/support/screen.js';
import { buildBundle, makeCtx, type TempDir, tempDir } from './helpers.js';

describe('wasm policy engine on the default policy', () => {
  let dir: TempDir;
  let engine: WasmPolicyEngine;
  let bundle: Awaited<ReturnType<typeof parseBundle>>;
  // Screened first, as in the pipeline: the policy decides on the screening stage's findings.
  const decide = (over: Parameters<typeof makeCtx>[0]) =>
    engine.evaluate(buildPolicyInput(screen(makeCtx(over))));

  before(async () => {
    dir = await tempDir();
    bundle = await parseBundle(await buildBundle(dir.path, 'engine'));
    engine = await createWasmEngine(bundle.wasm, {
      revision: bundle.revision,
      data: bundle.data,
      maxMemoryPages: 64,
    });
  });
  after(() => dir.remove());

  test('exposes revision and both entrypoints', () => {
    assert.equal(engine.revision, 'engine');
    assert.deepEqual(engine.entrypoints, ['acgs/gateway/admin_decision', 'acgs/gateway/decision']);
  });

  test('anonymous GET is public on every demo service', () => {
    for (const service of ['ac', 'integrity', 'fv', 'gs', 'pgc']) {
      const d = decide({ service, path: `/api/${service}/x` });
      assert.equal(d.allow, true, service);
      assert.equal(d.reason, 'public method on service');
    }
  });

  test('public health path needs no service', () => {
    assert.equal(decide({ path: '/healthz', service: null }).allow, true);
  });

  test('writes need a role of that service', () => {
    const anon = decide({ method: 'POST' });
    assert.deepEqual(
      [anon.allow, anon.status, anon.reason],
      [false, 401, 'a token is required for POST on service ac'],
    );
    const writer = decide({ method: 'POST', claims: { sub: 'u', roles: ['ac.writer'] } });
    assert.equal(writer.allow, true);
    const wrong = decide({ method: 'POST', claims: { sub: 'u', roles: ['fv.writer'] } });
    assert.deepEqual([wrong.allow, wrong.status], [false, 403]);
    assert.equal(decide({ method: 'DELETE', service: 'gs', claims: { roles: 'admin' } }).allow, true);
  });

  test('colour override: allowed for testers, refused (and said so) for others', () => {
    const tester = decide({ colorOverride: 'green', claims: { sub: 't', roles: ['tester'] } });
    assert.equal(tester.allow_color_override, true);
    assert.equal(tester.headers, undefined);
    const anon = decide({ colorOverride: 'green' });
    assert.equal(anon.allow, true);
    assert.equal(anon.allow_color_override, false);
    assert.deepEqual(anon.headers, { 'x-acgs-color-override': 'refused' });
  });

  const attacks: Array<[string, Parameters<typeof makeCtx>[0], RegExp]> = [
    ['sql tautology in query', { query: 'name=%27%20OR%201%3D1%20--' }, /^sqli in query name \(rule /],
    ['union select in query', { query: 'id=1+UNION+SELECT+password+FROM+users' }, /^sqli in query id /],
    ['script tag in path', { path: '/api/ac/<script>alert(1)</script>' }, /^xss in path /],
    ['javascript: url in query', { query: 'next=javascript:alert(1)' }, /^xss in query next /],
    ['onerror attribute', { query: 'q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E' }, /^xss in query q /],
    ['shell command after ;', { query: 'host=x;%20cat%20/etc/passwd' }, /command_injection in query host /],
    ['command substitution', { query: 'q=%24(id)' }, /^command_injection in query q /],
    ['backquotes', { query: 'q=%60id%60' }, /^command_injection in query q /],
    ['traversal in query', { query: 'file=../../etc/passwd' }, /path_traversal in query file /],
    ['double-encoded traversal in path', { path: '/api/ac/%2e%2e%2fadmin' }, /^path_traversal in path /],
    ['attack in referer', { headers: { referer: 'http://x/<script>' } }, /^xss in header referer /],
  ];
  for (const [name, over, reason] of attacks) {
    test(`refuses ${name}`, () => {
      const d = decide(over);
      assert.equal(d.allow, false);
      assert.equal(d.status, 403);
      assert.match(d.reason, reason);
    });
  }

  test('lets look-alike ordinary text through', () => {
    for (const text of [
      "O'Brien",
      'select a plan',
      'rock & roll',
      '1 + 1 = 2',
      'C:/ is not a path',
      'Eat; sleep; repeat',
    ]) {
      const d = decide({ query: new URLSearchParams({ q: text }).toString(), path: `/api/ac/${text}` });
      assert.equal(d.allow, true, `${text}: ${d.reason}`);
    }
  });

  test('authorization and cookie never reach the policy', () => {
    const input = buildPolicyInput(
      makeCtx({ headers: { authorization: 'Bearer x', cookie: 'a=b', referer: 'r' } }),
    );
    assert.deepEqual(Object.keys(input.headers), ['referer']);
  });

  test('admin decisions come from the same engine', () => {
    assert.equal(engine.evaluateAdmin({ action: 'weights.set', principal: { name: 'admin' } }).allow, true);
    const d = engine.evaluateAdmin({ action: 'policy.put', principal: { name: 'op', roles: ['operator'] } });
    assert.deepEqual([d.allow, d.status, d.reason], [false, 403, 'principal op may not policy.put']);
    assert.equal(engine.evaluateAdmin({ action: 'read', principal: { name: 'anyone' } }).allow, true);
  });

  test('an instance whose memory grew past the limit is replaced, decisions unchanged', async () => {
    const small = await createWasmEngine(bundle.wasm, {
      revision: 'r',
      data: bundle.data,
      maxMemoryPages: 8,
    });
    const big = buildPolicyInput(makeCtx({ query: `q=${'a'.repeat(1024 * 1024)}` }));
    assert.equal(small.evaluate(big).allow, true);
    assert.ok(small.replacements >= 1, 'replaced after growing');
    assert.ok(small.memoryBytes <= 8 * 65536, `fresh instance is small (${small.memoryBytes})`);
    assert.equal(small.evaluate(buildPolicyInput(makeCtx({ method: 'POST' }))).allow, false);
    // Multi-byte text larger than the instance's memory: grown, encoded whole, echoed back intact.
    const service = 'é'.repeat(300_000);
    const d = small.evaluate(buildPolicyInput(makeCtx({ service, path: '/api/x' })));
    assert.equal(d.reason, `unknown service ${service}`);
    assert.equal(small.evaluate(buildPolicyInput(makeCtx({ path: '/api/ac/x' }))).allow, true);
  });

  test('input of 2-, 3- and 4-byte UTF-8 characters reaches the policy intact', () => {
    // The text is encoded straight into linear memory: a byte count taken from the string's length
    // instead of the encoder's would cut these short or read stale bytes after them.
    for (const service of ['über', 'dienst-✓', 'svc-😀-😀']) {
      const d = decide({ service, path: '/api/x' });
      assert.deepEqual([d.allow, d.status, d.reason], [false, 403, `unknown service ${service}`], service);
    }
    // A long multi-byte input first, then a short one: no bytes of the first may leak into the second.
    const long = decide({ service: `${'é'.repeat(5000)}`, path: '/api/x' });
    assert.equal(long.reason, `unknown service ${'é'.repeat(5000)}`);
    assert.equal(decide({ service: 'ac', path: '/api/ac/x' }).reason, 'public method on service');
  });

  test('a lone surrogate (JSON-escaped, refused by the module) is an evaluation error; the next one is fine', () => {
    const replacements = engine.replacements;
    assert.throws(() => decide({ service: 'bad-\ud800-half', path: '/api/x' }), {
      name: 'PolicyEvaluationError',
      message: /illegal string escape/,
    });
    // The module aborted mid-evaluation: its instance is not trusted again.
    assert.equal(engine.replacements, replacements + 1);
    assert.equal(decide({ service: 'ac', path: '/api/ac/x' }).reason, 'public method on service');
  });

  test('an engine is refused when the module is not wasm or lacks the entrypoint', async () => {
    await assert.rejects(
      createWasmEngine(Buffer.from('not wasm'), { revision: 'r', data: {}, maxMemoryPages: 64 }),
      PolicyModuleError,
    );
    await assert.rejects(
      createWasmEngine(bundle.wasm, {
        revision: 'r',
        data: {},
        maxMemoryPages: 64,
        requiredEntrypoints: ['acgs/gateway/other'],
      }),
      /lacks entrypoint acgs\/gateway\/other/,
    );
  });

  test('the default policy needs no host builtins; unknown ones are reported', () => {
    assert.deepEqual(missingBuiltins(['sprintf', 'yaml.marshal']), []);
    assert.deepEqual(missingBuiltins(['time.now_ns', 'sprintf']), ['time.now_ns']);
    assert.deepEqual(missingBuiltins(['custom.fn'], { 'custom.fn': () => 1 }), []);
  });
});

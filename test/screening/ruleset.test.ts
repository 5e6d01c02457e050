// The ruleset loader: the shipped ruleset loads; every kind of mistake is refused with a diagnostic that
// names the rule and the field, whether our validator or libddwaf finds it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildRuleset, RulesetError } from '../../gateway/screening/ruleset-loader.js';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';
import { removeBundle, startHashingUpstream, startScreeningGateway } from './support/setup.js';

const SHIPPED = readFileSync(join(PACKAGE_ROOT, 'policies/screening-rules.json'), 'utf8');

const rule = (over: Record<string, unknown> = {}) => ({
  id: 'canary',
  category: 'sqli',
  description: 'a test rule',
  operator: 'match_regex',
  targets: ['query'],
  pattern: 'canary/attack',
  ...over,
});
const doc = (rules: unknown[]) => JSON.stringify({ version: 't1', rules });

function refused(text: string, format: 'json' | 'yaml' = 'json'): RulesetError {
  try {
    buildRuleset(text, format).waf.dispose();
  } catch (err) {
    assert.ok(err instanceof RulesetError, String(err));
    return err;
  }
  assert.fail('the ruleset was accepted');
}

describe('screening ruleset', () => {
  it('loads the shipped ruleset with every category the issue asks for', () => {
    const loaded = buildRuleset(SHIPPED);
    try {
      for (const c of ['sqli', 'xss', 'command_injection', 'path_traversal', 'protocol'])
        assert.ok(loaded.categories.includes(c), c);
      assert.match(loaded.revision, /^[\w.-]+\+[0-9a-f]{12}$/);
      assert.ok(loaded.ruleset.rules.length >= 20);
    } finally {
      loaded.waf.dispose();
    }
  });

  it('loads YAML too', () => {
    const loaded = buildRuleset(
      'version: y1\nrules:\n  - { id: y, category: xss, description: d, operator: is_xss, targets: [body] }\n',
      'yaml',
    );
    assert.equal(loaded.ruleset.rules[0]!.id, 'y');
    loaded.waf.dispose();
  });

  it('names the rule and the field of each schema problem', () => {
    const err = refused(
      doc([
        rule(),
        rule({ id: 'no-pattern', pattern: undefined }),
        rule({ id: 'bad-target', targets: ['everywhere'] }),
        rule({ id: 'bad-transformer', transformers: [['rot13']] }),
        rule({ id: 'bad-operator', operator: 'is_evil', pattern: undefined }),
      ]),
    );
    const by = (id: string) => err.diagnostics.filter((d) => d.rule === id);
    assert.equal(by('no-pattern')[0]?.field, 'pattern');
    assert.equal(by('bad-target')[0]?.field, 'targets.0');
    assert.equal(by('bad-transformer')[0]?.field, 'transformers.0.0');
    assert.equal(by('bad-operator')[0]?.field, 'operator');
    assert.equal(by('canary').length, 0);
  });

  it('refuses duplicate ids', () => {
    const err = refused(doc([rule(), rule()]));
    assert.deepEqual(err.diagnostics, [{ rule: 'canary', field: 'id', message: 'duplicate rule id' }]);
  });

  it("passes libddwaf's own diagnostics on (an invalid regular expression)", () => {
    const err = refused(doc([rule(), rule({ id: 'broken-regex', pattern: '(unclosed' })]));
    assert.equal(err.diagnostics.length, 1);
    assert.equal(err.diagnostics[0]!.rule, 'broken-regex');
    assert.match(err.diagnostics[0]!.message, /regular expression/);
  });

  it('refuses a document that is not JSON, or has no rules', () => {
    assert.equal(refused('{"version": ').diagnostics[0]!.field, '(document)');
    assert.equal(refused(doc([])).diagnostics[0]!.field, 'rules');
    assert.equal(refused('{"rules": []}').diagnostics[0]!.field, 'version');
  });

  it('allows fingerprints to be ignored only on is_sqli', () => {
    const err = refused(doc([rule({ ignoreFingerprints: ['1&1'] })]));
    assert.equal(err.diagnostics[0]!.field, 'ignoreFingerprints');
  });
});

describe('a gateway whose ruleset does not load', () => {
  it('does not start, and says which rule is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acgs-rules-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      'version: v\nrules:\n  - { id: bad-one, category: sqli, description: d, operator: match_regex, targets: [query], pattern: "(" }\n',
    );
    const upstream = await startHashingUpstream();
    try {
      await assert.rejects(startScreeningGateway(upstream.url, { rules: file }), (err: Error) =>
        /screening ruleset .*rules\.yaml: rule bad-one: libddwaf: invalid regular expression/.test(
          err.message,
        ),
      );
    } finally {
      await upstream.close();
      await removeBundle();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The engine wrapper: merged rules still name the rules that matched, ignored fingerprints cannot hide a
// later attack, a swapped-out handle is freed, and bare words never reach the engine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ScreeningEngine } from '../../gateway/screening/engine.js';
import { Leaves } from '../../gateway/screening/leaves.js';
import { buildRuleset } from '../../gateway/screening/ruleset-loader.js';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';

const SHIPPED = readFileSync(join(PACKAGE_ROOT, 'policies/screening-rules.json'), 'utf8');

function query(...values: string[]) {
  const leaves = new Leaves();
  values.forEach((v, i) => {
    leaves.add(`q${i}`, v);
  });
  return { query: leaves };
}

describe('screening engine', () => {
  it('names each rule of a merged group that matched, with its category and key', () => {
    const engine = new ScreeningEngine(buildRuleset(SHIPPED));
    try {
      const { matches } = engine.inspect(query('fine words', "1' AND SLEEP(5) UNION SELECT 1--"), 1_000_000);
      const rules = matches.map((m) => m.rule).sort();
      // sqli-union-select and sqli-time-blind share a merged libddwaf rule; both are named.
      assert.ok(rules.includes('sqli-union-select'), rules.join());
      assert.ok(rules.includes('sqli-time-blind'), rules.join());
      assert.ok(matches.every((m) => m.category === 'sqli' && m.placement === 'query' && m.key === 'q1'));
      // A masked excerpt of the (normalised) value, never the value.
      assert.ok(matches.every((m) => m.excerpt?.startsWith("1' A…(")));
    } finally {
      engine.close();
    }
  });

  it('drops an ignored libinjection fingerprint without hiding an attack in a later value', () => {
    const engine = new ScreeningEngine(buildRuleset(SHIPPED));
    try {
      const prose = engine.inspect(query('done; update status set to shipped'), 1_000_000);
      assert.deepEqual(prose.matches, []);
      // The decoy comes first; libinjection reports one match per run, so the decoy's is dropped and the
      // request run again without it.
      const { matches } = engine.inspect(
        query('done; update status set to shipped', '1 AND 1=1 /*'),
        1_000_000,
      );
      assert.ok(
        matches.some((m) => m.rule === 'sqli-libinjection' && m.key === 'q1'),
        JSON.stringify(matches),
      );
    } finally {
      engine.close();
    }
  });

  it('frees the old handle on swap and screens with the new one', () => {
    const first = buildRuleset(SHIPPED);
    const engine = new ScreeningEngine(first);
    const canary = buildRuleset(
      JSON.stringify({
        version: 'c',
        rules: [
          {
            id: 'c',
            category: 'xss',
            description: 'd',
            operator: 'phrase_match',
            targets: ['query'],
            phrases: ['canary!'],
          },
        ],
      }),
    );
    engine.swap(canary);
    assert.equal((first.waf as unknown as { disposed: boolean }).disposed, true);
    assert.equal((first.detail as unknown as { disposed: boolean }).disposed, true);
    assert.equal(engine.inspect(query('<script>alert(1)</script>'), 1_000_000).matches.length, 0);
    assert.equal(engine.inspect(query('a canary!'), 1_000_000).matches[0]?.rule, 'c');
    engine.close();
    assert.equal((canary.waf as unknown as { disposed: boolean }).disposed, true);
  });

  it('leaves bare words out, and cuts long values into overlapping windows', () => {
    const leaves = new Leaves();
    leaves.add('a', '42');
    leaves.add('b', 'd9cb-469f_a165');
    leaves.add('c', 'two words');
    assert.deepEqual(leaves.values, ['two words']);
    const long = new Leaves();
    long.add('k', `${'a '.repeat(3000)}' OR 1=1 --`);
    assert.ok(long.size > 1);
    assert.ok(long.values.every((v) => v.length <= 1024));
    assert.ok(long.keys.every((k) => k === 'k'));
    const engine = new ScreeningEngine(buildRuleset(SHIPPED));
    try {
      const { matches } = engine.inspect({ query: long }, 1_000_000);
      assert.ok(matches.some((m) => m.category === 'sqli' && m.key === 'k'));
    } finally {
      engine.close();
    }
  });
});

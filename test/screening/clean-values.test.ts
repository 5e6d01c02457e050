// The clean-value cache: values an inspection found clean skip the engine next time, and nothing about
// it changes what is found. Proven by comparing an engine with the cache against one without over a
// corpus full of repeats, attacks and benign look-alikes, and by the cases that must not be remembered
// (a value seen with an attack, a timed-out run, a run cut short by decoys, a swapped ruleset).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ScreeningEngine } from '../../gateway/screening/engine.js';
import { Leaves } from '../../gateway/screening/leaves.js';
import { buildRuleset } from '../../gateway/screening/ruleset-loader.js';
import type { RequestLeaves } from '../../gateway/screening/targets.js';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';

const SHIPPED = readFileSync(join(PACKAGE_ROOT, 'policies/screening-rules.json'), 'utf8');
const BUDGET = 1_000_000;

function corpus(name: string): string[] {
  const file = join(PACKAGE_ROOT, 'test/fixtures/screening', `${name}.json`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { cases: string[] }).cases;
}

function leaves(values: Record<string, string>, headers: Record<string, string> = {}): RequestLeaves {
  const query = new Leaves();
  for (const [k, v] of Object.entries(values)) query.add(k, v);
  const h = new Leaves();
  for (const [k, v] of Object.entries(headers)) h.add(k, v);
  return { query, headers: h };
}

/** mulberry32: seeded, so a failure replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Place and key of each match: which rules of a merged group get named comes from a second, time-bounded
// run (engine.ts, DETAIL_BUDGET_US) that names the whole group when it runs out of time.
const summary = (r: ReturnType<ScreeningEngine['inspect']>) =>
  JSON.stringify({ m: [...new Set(r.matches.map((m) => `${m.placement}:${m.key}`))].sort(), t: r.timedOut });

describe('screening clean-value cache', () => {
  it('finds exactly what an engine without it finds, over 3,000 requests with many repeats', () => {
    const benign = corpus('benign');
    const attacks = [
      ...corpus('sqli'),
      ...corpus('xss'),
      ...corpus('command_injection'),
      ...corpus('path_traversal'),
    ];
    const cached = new ScreeningEngine(buildRuleset(SHIPPED));
    const plain = new ScreeningEngine(buildRuleset(SHIPPED), { cleanValues: 0 });
    const rand = prng(0x5eed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
    // A small pool of everyday values, so most requests repeat values the cache has seen.
    const everyday = [
      '/api/ac/items',
      'curl/8.5.0',
      'text/html, */*;q=0.8',
      'gateway.example:8080',
      ...benign.slice(0, 20),
    ];
    try {
      let found = 0;
      for (let i = 0; i < 3000; i++) {
        const q: Record<string, string> = {};
        const n = 1 + Math.floor(rand() * 4);
        for (let j = 0; j < n; j++) {
          const r = rand();
          q[`p${j}`] = r < 0.7 ? pick(everyday) : r < 0.85 ? pick(benign) : pick(attacks);
        }
        const headers = {
          'user-agent': pick(everyday),
          referer: rand() < 0.1 ? pick(attacks) : pick(everyday),
        };
        const a = cached.inspect(leaves(q, headers), BUDGET);
        const b = plain.inspect(leaves(q, headers), BUDGET);
        assert.equal(summary(a), summary(b), `request ${i}: ${JSON.stringify({ q, headers })}`);
        if (a.matches.length > 0) found++;
      }
      assert.ok(found > 300, `the corpus must hold attacks: ${found} requests matched`);
      const { hits, misses } = cached.cleanValues;
      assert.ok(hits > misses * 2, `most values came from the cache: ${hits} hits, ${misses} misses`);
      assert.equal(plain.cleanValues.hits, 0);
    } finally {
      cached.close();
      plain.close();
    }
  });

  it('an attack among known values is still found, under its own key', () => {
    const engine = new ScreeningEngine(buildRuleset(SHIPPED));
    try {
      assert.deepEqual(engine.inspect(leaves({ a: "O'Brien", b: 'rock & roll' }), BUDGET).matches, []);
      const r = engine.inspect(leaves({ a: "O'Brien", b: 'rock & roll', c: "' OR 1=1 --" }), BUDGET);
      assert.ok(r.matches.length > 0 && r.matches.every((m) => m.key === 'c'), JSON.stringify(r.matches));
      // The values known clean were not inspected again; the attack was.
      assert.equal(engine.cleanValues.hits, 2);
    } finally {
      engine.close();
    }
  });

  it('remembers nothing from a request with a match, a run out of time, or a run cut short by decoys', () => {
    const engine = new ScreeningEngine(buildRuleset(SHIPPED));
    try {
      engine.inspect(leaves({ a: 'fine, thanks.', b: '<script>alert(1)</script>' }), BUDGET);
      assert.equal(engine.cleanValues.size, 0, 'a request with a match marks none of its values');
      const before = engine.cleanValues.misses;
      engine.inspect(leaves({ a: 'fine, thanks.' }), BUDGET);
      assert.equal(engine.cleanValues.misses, before + 1, 'so the benign value is inspected next time');
      assert.equal(engine.cleanValues.size, 1);

      const timedOut = engine.inspect(leaves({ x: 'never seen before: (a, b)' }), 0);
      assert.equal(timedOut.timedOut, true);
      assert.equal(engine.cleanValues.size, 1, 'a run out of time marks nothing');

      // Prose whose libinjection fingerprint is ignored: each costs a re-run, and after the last allowed
      // re-run the rest of the request is unseen, so nothing is marked clean.
      const decoys = {
        d0: 'done; update status set to shipped',
        d1: 'done; update order set to paid',
        d2: 'done; update ticket set to closed',
        d3: 'done; update plan set to gold',
        d4: 'done; update user set to active',
        d5: 'done; update page set to draft',
      };
      const r = engine.inspect(leaves(decoys), BUDGET);
      assert.equal(r.matches.length, 0);
      assert.equal(engine.cleanValues.size, 1, 'a run cut short marks nothing');
    } finally {
      engine.close();
    }
  });

  it('a rules swap forgets every clean value: the new rules see them', () => {
    const rules = JSON.parse(SHIPPED) as { version: string; rules: object[] };
    const canary = {
      id: 'test-canary',
      category: 'protocol',
      description: 'matches the word canary-value',
      operator: 'match_regex',
      pattern: 'canary-value\\.',
      targets: ['query'],
      transformers: [[]],
    };
    const engine = new ScreeningEngine(buildRuleset(SHIPPED));
    try {
      const request = () => leaves({ a: 'a canary-value.' });
      assert.deepEqual(engine.inspect(request(), BUDGET).matches, []);
      assert.deepEqual(engine.inspect(request(), BUDGET).matches, []);
      assert.equal(engine.cleanValues.hits, 1);
      engine.swap(
        buildRuleset(JSON.stringify({ ...rules, version: 'canary', rules: [...rules.rules, canary] })),
      );
      assert.equal(engine.cleanValues.size, 0);
      const r = engine.inspect(request(), BUDGET);
      assert.deepEqual(
        r.matches.map((m) => m.rule),
        ['test-canary'],
      );
    } finally {
      engine.close();
    }
  });
});

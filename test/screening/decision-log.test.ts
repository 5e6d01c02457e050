// What the decision log keeps of a screening match: rule, category, where and key, a masked excerpt; the
// matched query value and header are masked in the logged input, like secrets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDecisionLogger, MASK } from '../../gateway/policy/decision-log.js';
import { buildPolicyInput } from '../../gateway/policy/input.js';
import { makeCtx } from '../policy/helpers.js';
import { screen } from './support/screen.js';

describe('decision log of screening matches', () => {
  it('records rule and place with a masked excerpt, never the raw value', () => {
    const payload = "1' UNION SELECT password FROM users--";
    const header = '<script>document.location="//127.0.0.1/"</script>';
    const ctx = screen(
      makeCtx({
        query: `q=${encodeURIComponent(payload)}&page=2`,
        headers: { 'x-note': header, accept: '*/*' },
      }),
    );
    const lines: string[] = [];
    const log = createDecisionLogger({
      enabled: true,
      sampleRate: 1,
      sink: { write: (l: string) => lines.push(l) },
    });
    const input = buildPolicyInput(ctx);
    log.log({
      requestId: ctx.id,
      path: 'acgs/gateway/decision',
      input,
      clientIp: ctx.clientIp,
      result: { allow: false, status: 403, reason: 'sqli in query q', allow_color_override: false },
      revision: 'r',
      evalNs: 1,
      screening: ctx.screening,
    });
    const text = lines.join('');
    assert.ok(!text.includes('UNION SELECT password'), text);
    assert.ok(!text.includes('document.location'), text);
    const line = JSON.parse(text) as {
      input: { query: Record<string, string[]>; headers: Record<string, string> };
      masked: string[];
      screening: Array<{ rule: string; category: string; where: string; key: string; excerpt: string }>;
    };
    assert.deepEqual(line.input.query.q, [MASK]);
    assert.deepEqual(line.input.query.page, ['2']);
    assert.equal(line.input.headers['x-note'], MASK);
    assert.equal(line.input.headers.accept, '*/*');
    assert.ok(line.masked.includes('/input/query/q') && line.masked.includes('/input/headers/x-note'));
    const sqli = line.screening.find((m) => m.category === 'sqli');
    assert.equal(sqli?.where, 'query');
    assert.equal(sqli?.key, 'q');
    assert.match(sqli!.excerpt, /^1' U…\(\d+\)$/);
    assert.ok(line.screening.some((m) => m.category === 'xss' && m.where === 'header' && m.key === 'x-note'));
  });
});

// Swapping the ruleset on a running gateway (PUT /admin/screening/rules): validated, swapped atomically,
// audited; a bad ruleset is refused with its diagnostics and the old one keeps screening; requests in
// flight across a swap finish normally.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { ADMIN_AUTH } from '../helpers/gateway.js';
import {
  bearer,
  type HashingUpstream,
  removeBundle,
  startHashingUpstream,
  startScreeningGateway,
} from './support/setup.js';

const CANARY_RULESET = JSON.stringify({
  version: 'canary-1',
  rules: [
    {
      id: 'canary',
      category: 'sqli',
      description: 'a marker only this ruleset knows',
      operator: 'match_regex',
      targets: ['query', 'body'],
      pattern: 'canary/attack',
    },
  ],
});

interface ScreeningState {
  revision: string;
  version: string;
  rules: number;
  categories: string[];
  lastError: {
    message: string;
    diagnostics: Array<{ rule: string | null; field: string; message: string }>;
  } | null;
}

describe('screening hot swap', () => {
  let upstream: HashingUpstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startHashingUpstream();
    gw = await startScreeningGateway(upstream.url);
  });
  after(async () => {
    await gw?.shutdown();
    await upstream?.close();
    await removeBundle();
  });

  const state = async () => {
    const res = await request(`${gw.adminUrl}/admin/screening`, { headers: ADMIN_AUTH });
    assert.equal(res.statusCode, 200);
    return (await res.body.json()) as ScreeningState;
  };
  const put = (body: string, type = 'application/json', auth: Record<string, string> = ADMIN_AUTH) =>
    request(`${gw.adminUrl}/admin/screening/rules`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': type },
      body,
    });
  const status = async (query: string) => {
    const res = await request(`${gw.dataUrl}/api/ac/items?q=${encodeURIComponent(query)}`);
    await res.body.dump();
    return res.statusCode;
  };

  it('shows the active ruleset', async () => {
    const s = await state();
    assert.match(s.revision, /^2026-12-01\.\d+\+[0-9a-f]{12}$/);
    assert.ok(s.rules >= 20);
    assert.deepEqual(s.categories, ['command_injection', 'path_traversal', 'protocol', 'sqli', 'xss']);
    assert.equal(s.lastError, null);
  });

  it('refuses a bad ruleset with 422 and its diagnostics; the old one keeps screening', async () => {
    const before = await state();
    const bad = JSON.stringify({
      version: 'bad',
      rules: [
        {
          id: 'broken',
          category: 'sqli',
          description: 'd',
          operator: 'match_regex',
          targets: ['query'],
          pattern: '(',
        },
      ],
    });
    const res = await put(bad);
    const body = (await res.body.json()) as { error: { code: string; diagnostics: Array<{ rule: string }> } };
    assert.equal(res.statusCode, 422);
    assert.equal(body.error.code, 'unprocessable');
    assert.equal(body.error.diagnostics[0]!.rule, 'broken');
    const after = await state();
    assert.equal(after.revision, before.revision);
    assert.equal(after.lastError?.diagnostics[0]?.rule, 'broken');
    assert.equal(await status('<script>alert(1)</script>'), 403);
    const syntax = await put('{ not json');
    assert.equal(syntax.statusCode, 422);
    await syntax.body.dump();
  });

  it('is refused to a principal the admin policy does not allow, and to no token at all', async () => {
    // An admin JWT with role operator: weights and rollouts, not rulesets (policies/data.json).
    const ops = await put(CANARY_RULESET, 'application/json', await bearer(['operator'], 'ops'));
    const refusal = (await ops.body.json()) as { error: { message: string } };
    assert.equal(ops.statusCode, 403);
    assert.match(refusal.error.message, /may not screening\.put/);
    const anonymous = await put(CANARY_RULESET, 'application/json', {});
    await anonymous.body.dump();
    assert.equal(anonymous.statusCode, 401);
  });

  it('swaps a good ruleset in atomically, audited; requests in flight finish', async () => {
    const writer = await bearer(['ac.writer']);
    // A request whose body is still arriving when the swap happens.
    const { port } = new URL(gw.dataUrl);
    const socket = connect(Number(port), '127.0.0.1');
    const body = '{"note": "plain words"}';
    socket.write(
      `POST /api/ac/items HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\nauthorization: ${writer.authorization}\r\n\r\n${body.slice(0, 5)}`,
    );
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
      });
      socket.on('close', () => resolve(text));
    });
    // Traffic during the swap.
    const traffic = Promise.all(
      Array.from({ length: 50 }, (_, i) => status(i % 2 ? 'hello' : 'canary/attack')),
    );

    const res = await put(CANARY_RULESET);
    const swapped = (await res.body.json()) as ScreeningState;
    assert.equal(res.statusCode, 200);
    assert.equal(swapped.version, 'canary-1');
    assert.equal(swapped.rules, 1);

    socket.write(body.slice(5));
    assert.match(await answer, /^HTTP\/1\.1 200 /);
    for (const s of await traffic) assert.ok(s === 200 || s === 403, String(s));

    // The new rules decide now: the canary is refused, what only the old rules knew passes.
    assert.equal(await status('canary/attack'), 403);
    assert.equal(await status('<script>alert(1)</script>'), 200);

    const audit = await request(`${gw.adminUrl}/admin/audit?action=screening.put`, { headers: ADMIN_AUTH });
    const { entries } = (await audit.body.json()) as {
      entries: Array<{ actor: string; after: { revision?: string; refused?: boolean } }>;
    };
    assert.ok(entries.some((e) => e.actor === 'admin' && e.after.revision === swapped.revision));
    assert.ok(entries.some((e) => e.after.refused === true));
  });

  it('takes YAML too', async () => {
    const yaml = [
      'version: yaml-1',
      'rules:',
      '  - id: yaml-canary',
      '    category: xss',
      '    description: a marker',
      '    operator: phrase_match',
      '    targets: [query]',
      '    phrases: [yaml-attack]',
    ].join('\n');
    const res = await put(yaml, 'application/yaml');
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal((await state()).version, 'yaml-1');
    assert.equal(await status('a yaml-attack here'), 403);
  });
});

// End to end through a real gateway with the real policy bundle and ruleset: the issue's attacks in every
// placement get 403 with their category in the reason, its prose passes, and an exemption in
// policies/data.json lets a specific route through for a specific role.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool, request } from 'undici';
import type { Gateway } from '../../gateway/gateway.js';
import { metricValue } from '../helpers/metrics.js';
import { PLACEMENTS, sendCase } from './support/corpus.js';
import {
  bearer,
  type HashingUpstream,
  removeBundle,
  startHashingUpstream,
  startScreeningGateway,
} from './support/setup.js';

// The issue's list of what the regex screening let through, with the category each must be refused as.
const ISSUE_ATTACKS: Array<[string, string]> = [
  ["1'OR'1'='1", 'sqli'],
  ["x' OR 1-- -", 'sqli'],
  ["admin'#", 'sqli'],
  ["x' OR true#", 'sqli'],
  ['1 UNION\u000bSELECT password FROM users', 'sqli'],
  ['1 UNION%0BSELECT password FROM users', 'sqli'],
  ['%2527%20OR%20%25271%2527%3D%25271', 'sqli'],
  ['%u0027 OR 1=1--', 'sqli'],
  ['＇ OR ＇1＇=＇1', 'sqli'],
  ['<x onpointerup=alert(1)>', 'xss'],
  ['java&#9;script:', 'xss'],
  [";w'g'et", 'command_injection'],
  ['....//', 'path_traversal'],
];

// The issue's list of prose the regex screening blocked, and more of the same kind.
const ISSUE_PROSE = [
  'JavaScript: The Good Parts',
  'done; update status set to shipped',
  '"Yes" and he is right',
  'sleep(8 hours)',
  'Meeting; create table for 4',
  '"Hello" -- a greeting',
  "O'Brien",
  'Tom & Jerry | cat lovers',
  'Привет, как дела?',
];

describe('screening end to end', () => {
  let upstream: HashingUpstream;
  let gw: Gateway;
  let pool: Pool;
  let writer: Record<string, string>;

  before(async () => {
    upstream = await startHashingUpstream();
    gw = await startScreeningGateway(upstream.url, {}, { server: { escapedSlashes: 'keep' } });
    pool = new Pool(gw.dataUrl, { connections: 4 });
    writer = await bearer(['ac.writer']);
  });
  after(async () => {
    await pool?.close();
    await gw?.shutdown();
    await upstream?.close();
    await removeBundle();
  });

  it("refuses the issue's attacks in every placement with 403 and the category in the reason", async () => {
    const wrong: string[] = [];
    for (const [value, category] of ISSUE_ATTACKS) {
      for (const placement of PLACEMENTS) {
        const o = await sendCase(pool, gw.dataUrl, 'ac', placement, value, writer);
        if (o.notApplicable) continue;
        // A control character never reaches screening in a path: the path rules refuse it first.
        if (placement === 'path' && o.status === 400 && hasControl(value)) continue;
        if (
          o.status !== 403 ||
          (!o.reason.startsWith(`${category} in `) && !o.reason.includes(`; ${category} in `))
        )
          wrong.push(`${placement} ${JSON.stringify(value)}: ${o.status} ${o.reason}`);
      }
    }
    assert.deepEqual(wrong, []);
    // What operators see: matches by category and rule, and the time screening took.
    assert.ok(
      (await metricValue(gw.metrics.registry, 'acgs_screening_matches_total', {
        category: 'sqli',
        rule: 'sqli-libinjection',
      })) > 0,
    );
    assert.ok(
      (await metricValue(gw.metrics.registry, 'acgs_screening_matches_total', {
        category: 'xss',
        rule: 'xss-split-scheme',
      })) > 0,
    );
    const histogram = await gw.metrics.registry.getSingleMetric('acgs_screening_seconds')!.get();
    const count = histogram.values.find(
      (v) => (v as { metricName?: string }).metricName === 'acgs_screening_seconds_count',
    );
    assert.ok((count?.value ?? 0) >= ISSUE_ATTACKS.length * 4);
  });

  it("lets the issue's prose through in every placement", async () => {
    const wrong: string[] = [];
    for (const value of ISSUE_PROSE) {
      for (const placement of PLACEMENTS) {
        const o = await sendCase(pool, gw.dataUrl, 'ac', placement, value, writer);
        if (o.status !== 200) wrong.push(`${placement} ${JSON.stringify(value)}: ${o.status} ${o.reason}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('screens any header, a second copy of a header, and cookies', async () => {
    const custom = await request(`${gw.dataUrl}/api/ac/items`, {
      headers: { 'x-whatever': '$(cat /etc/passwd)' },
    });
    assert.equal(custom.statusCode, 403);
    assert.match(
      ((await custom.body.json()) as { error: { message: string } }).error.message,
      /command_injection in header x-whatever/,
    );
    const ua = await request(`${gw.dataUrl}/api/ac/items`, {
      headers: { 'user-agent': "Mozilla/5.0' OR 1=1--" },
    });
    await ua.body.dump();
    assert.equal(ua.statusCode, 403);
    const cookie = await request(`${gw.dataUrl}/api/ac/items`, {
      headers: { cookie: 'theme=dark; q=<script>alert(1)</script>' },
    });
    assert.match(
      ((await cookie.body.json()) as { error: { message: string } }).error.message,
      /^xss in cookie q /,
    );
    // What a browser sends passes.
    const browser = await request(`${gw.dataUrl}/api/ac/items?page=2`, {
      headers: {
        'user-agent':
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
        'accept-language': 'en-GB,en;q=0.9',
        'sec-ch-ua': '"Chromium";v="120", "Google Chrome";v="120", "Not?A_Brand";v="8"',
        'sec-ch-ua-platform': '"Linux"',
        referer: 'https://example.com/search?q=rock+and+roll',
        cookie: 'acgs_uid=abc123; theme=dark; consent={"ads":false}',
      },
    });
    await browser.body.dump();
    assert.equal(browser.statusCode, 200);
  });

  it('lets a gs.writer send SQL to the exempted route of policies/data.json, and nobody else', async () => {
    const sql = JSON.stringify({
      sql: "SELECT name FROM users WHERE id = 1 UNION SELECT secret FROM keys --'",
    });
    const send = async (path: string, headers: Record<string, string>) => {
      const res = await request(`${gw.dataUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: sql,
      });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    };
    const gsWriter = await bearer(['gs.writer'], 'dba');
    const exempt = await send('/api/gs/admin/queries/run', gsWriter);
    assert.equal(exempt.status, 200);
    assert.equal(upstream.seen.at(-1)?.url, '/admin/queries/run');
    const elsewhere = await send('/api/gs/reports', gsWriter);
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.text, /sqli in body sql/);
    const otherRole = await send('/api/gs/admin/queries/run', await bearer(['ac.writer', 'gs.reader'], 'u'));
    assert.equal(otherRole.status, 403);
    // The exemption is for sqli only: an XSS payload on the same route is still refused.
    const xss = await request(`${gw.dataUrl}/api/gs/admin/queries/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...gsWriter },
      body: JSON.stringify({ sql: '<script>alert(1)</script>' }),
    });
    await xss.body.dump();
    assert.equal(xss.statusCode, 403);
  });
});

function hasControl(value: string): boolean {
  return [...value].some((ch) => ch.charCodeAt(0) < 0x20);
}

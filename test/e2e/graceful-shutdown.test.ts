import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('graceful shutdown', () => {
  let upstream: TestUpstream;
  before(async () => {
    upstream = await startUpstream('slow', (req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url }));
      }, 150);
    });
  });
  after(() => upstream.close());

  test('SIGTERM under steady load: every accepted request is answered, then exit 0', async () => {
    const gw = await spawnGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
    const pool = new Pool(gw.dataUrl, { connections: 20, pipelining: 1 });
    let ok = 0;
    let refused = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async (n: number) => {
      for (let i = 0; !stop && i < 1000; i++) {
        try {
          const res = await pool.request({ path: `/api/ac/w${n}/${i}`, method: 'GET' });
          await res.body.text();
          if (res.statusCode === 200) ok++;
          else failures.push(`status ${res.statusCode}`);
        } catch (err) {
          const code = (err as { code?: string }).code;
          // A connection the gateway never accepted (listener already closed) is not a lost request.
          if (code === 'ECONNREFUSED') {
            refused++;
            await sleep(10);
          } else failures.push(`${code}: ${(err as Error).message}`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 20 }, (_, n) => worker(n)));
    // Count-based, not time-based: a busy CI machine must not turn this into a test of its speed.
    for (let waited = 0; ok < 60 && waited < 30_000; waited += 20) await sleep(20);
    const okBefore = ok;
    const code = await gw.stop('SIGTERM');
    stop = true;
    await load;
    await pool.close();
    assert.equal(code, 0, gw.output());
    assert.ok(okBefore > 20, `load was running (${okBefore} answered before SIGTERM)`);
    assert.deepEqual(
      failures,
      [],
      `lost requests: ${failures.length} (ok ${ok}, refused after close ${refused})`,
    );
  });

  test('the drain timeout bounds the wait for a request that never finishes', async () => {
    const stuck = await startUpstream('stuck', () => {});
    const gw = await spawnGateway(
      { ac: { blue: [stuck.url], green: [stuck.url], timeouts: { headers: '30s' } } },
      { server: { drainTimeout: '500ms' } },
    );
    try {
      const pending = fetch(`${gw.dataUrl}/api/ac/forever`).catch((err: Error) => err);
      await sleep(300);
      const started = Date.now();
      const code = await gw.stop('SIGTERM');
      assert.equal(code, 0);
      assert.ok(Date.now() - started < 5000, 'exited soon after the drain timeout');
      assert.ok((await pending) instanceof Error, 'the stuck request got a closed connection');
    } finally {
      await stuck.close();
    }
  });
});

// `acgs-gateway start` turns off V8's allocation-site pretenuring before the gateway loads (cli/v8-flags.ts):
// with it on, a burst of concurrent requests can make V8 allocate a per-request literal in the old
// generation for the rest of the process's life, and everything that object references is promoted with
// it. Observed through V8's own trace: with the flag off, V8 takes no pretenuring decision under load;
// `node --allocation-site-pretenuring` (the operator's way back to V8's default) takes them again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;

before(async () => {
  upstream = await startUpstream('ok', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});

after(() => upstream.close());

/** Decisions V8 printed after the gateway was up, while it served `requests` requests 64 at a time. */
async function decisionsUnderLoad(nodeArgs: string[], requests: number): Promise<number> {
  const gw: GatewayProcess = await spawnGateway(
    { ac: { blue: [upstream.url], green: [upstream.url] } },
    {},
    {},
    ['--trace-pretenuring-statistics', ...nodeArgs],
  );
  try {
    const before = gw.output().length;
    const pool = new Pool(gw.dataUrl, { connections: 64 });
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < requests) {
          const res = await pool.request({ path: `/api/ac/item/${next++}?q=${next}`, method: 'GET' });
          await res.body.dump();
          if (res.statusCode !== 200) failed++;
        }
      }),
    );
    await pool.close();
    assert.equal(failed, 0, 'every request answered 200');
    return (
      gw
        .output()
        .slice(before)
        .match(/pretenuring: AllocationSite/g)?.length ?? 0
    );
  } finally {
    await gw.stop();
  }
}

test('the gateway takes no pretenuring decision under load', async () => {
  assert.equal(await decisionsUnderLoad([], 6000), 0);
});

test('node --allocation-site-pretenuring keeps V8 default: decisions are taken again', async () => {
  assert.ok((await decisionsUnderLoad(['--allocation-site-pretenuring'], 6000)) > 0);
});

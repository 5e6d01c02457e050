// A start that fails half-way (here: the admin port is taken, after the data listener is already up) must
// end the process with exit 1 and leave nothing listening. It used to leave the data listener open in
// front of modules it had just closed: the process never exited, /readyz said 200 and every request got a
// 500 ("Calling createContext on a disposed DDWAF instance"), which a supervisor could not see.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/ports.js';
import { launchGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

let upstream: TestUpstream;
let taken: Server;
let takenPort: number;

before(async () => {
  upstream = await startUpstream('ok', (_req, res) => res.end('ok'));
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});

after(async () => {
  await upstream.close();
  await new Promise((resolve) => taken.close(resolve));
});

/** Starts the gateway on the given ports and watches it until it exits (or 20 s pass). */
async function startAndWatch(dataPort: number, adminPort: number) {
  const { child, output, exited } = launchGateway(
    { ac: { blue: [upstream.url], green: [upstream.url] } },
    {},
    { GATEWAY_PORT: String(dataPort), ADMIN_PORT: String(adminPort) },
  );

  // Until it exits, nothing on the data port may answer with a 500 from a closed module. (A request that
  // slips into the milliseconds between the data listener and the failure is served normally.)
  const answers: number[] = [];
  let code: number | string = 'hung';
  const deadline = Date.now() + 20_000;
  for (;;) {
    const done = await Promise.race([exited, sleep(100).then(() => 'running' as const)]);
    if (done !== 'running') {
      code = done;
      break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      break;
    }
    try {
      const res = await fetch(`http://127.0.0.1:${dataPort}/api/ac/x`, { signal: AbortSignal.timeout(1000) });
      answers.push(res.status);
      await res.arrayBuffer();
    } catch {
      // refused or reset: nothing listening, which is right
    }
  }
  return { code, output: output(), answers };
}

test('the admin port taken: exit 1 with the reason, and the data port is not left serving', async () => {
  const dataPort = await freePort();
  const { code, output, answers } = await startAndWatch(dataPort, takenPort);
  assert.equal(code, 1, `exit code (output: ${output})`);
  assert.match(output, /cannot start: .*EADDRINUSE/);
  assert.deepEqual(
    answers.filter((s) => s === 500),
    [],
    'no 500 from a gateway that failed to start',
  );
  await assert.rejects(fetch(`http://127.0.0.1:${dataPort}/healthz`), 'the data port is closed after exit');
});

test('the data port taken: exit 1 with the reason, and the admin port is not left open', async () => {
  const adminPort = await freePort();
  const { code, output } = await startAndWatch(takenPort, adminPort);
  assert.equal(code, 1, `exit code (output: ${output})`);
  assert.match(output, /cannot start: .*EADDRINUSE/);
  await assert.rejects(fetch(`http://127.0.0.1:${adminPort}/admin/services`), 'nothing on the admin port');
});

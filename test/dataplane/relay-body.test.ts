// relayBody against a real node:http server and real client sockets: every relay ends exactly once, with
// the state it was given, however it ends (delivered, the upstream body failing, the client leaving).
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { BodyRelay, type RelayFailure, relayBody } from '../../gateway/proxy/relay-body.js';

/**
 * A body like undici's: destroying it before its end emits an error (RequestAbortedError there), which the
 * relay must survive; the destroy that follows a normal end does not.
 */
function upstreamBody(): Readable {
  return new Readable({
    read() {},
    destroy(err, cb) {
      cb(err ?? (this.readableEnded ? null : new Error('aborted by the relay')));
    },
  });
}

interface Ended {
  readonly state: number;
  readonly failure: RelayFailure | null;
}

describe('relayBody', () => {
  let server: Server;
  let port: number;
  const ended: Ended[] = [];
  const waiters: Array<() => void> = [];
  /** A relay that records how it ended under its number. */
  class RecordedRelay extends BodyRelay {
    constructor(
      body: Readable,
      res: ServerResponse,
      readonly state: number,
    ) {
      super(body, res);
    }

    relayEnded(failure: RelayFailure | null): void {
      ended.push({ state: this.state, failure });
      for (const w of waiters.splice(0)) w();
    }
  }
  const relay = (body: Readable, res: ServerResponse, state: number) =>
    relayBody(new RecordedRelay(body, res, state));

  /**
   * The next request's response gets a fresh upstream body and a 200 head, is relayed as relay `base + id`,
   * and `then` drives the body; resolves the id and the body for the test's assertions.
   */
  function relayNext(
    base: number,
    then: (body: Readable) => void,
  ): { id: () => number; body: () => Readable } {
    let id = -1;
    let body: Readable | null = null;
    handle = (res, n) => {
      id = n;
      body = upstreamBody();
      res.writeHead(200, { 'content-type': 'text/plain' });
      relay(body, res, base + n);
      then(body);
    };
    return { id: () => id, body: () => body! };
  }
  /** What the next request's handler does with its response. */
  let handle: (res: ServerResponse, id: number) => void = () => {};
  let nextId = 0;

  before(async () => {
    server = createServer((_req, res) => handle(res, nextId++));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  async function endedFor(state: number): Promise<Ended[]> {
    const deadline = Date.now() + 5000;
    while (!ended.some((e) => e.state === state)) {
      if (Date.now() > deadline) throw new Error(`relay ${state} never ended`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    // Give a second, wrong report the chance to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return ended.filter((e) => e.state === state);
  }

  test('a body delivered completely ends once, with no failure and its own state', async () => {
    const bodies: Readable[] = [];
    handle = (res, id) => {
      const body = upstreamBody();
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'text/plain' });
      relay(body, res, 1000 + id);
      body.push(`hello ${id}`);
      body.push(null);
    };
    const first = nextId;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())),
    );
    assert.equal(answers.length, 20);
    for (const text of answers) assert.match(text, /^hello \d+$/);
    for (let id = first; id < first + 20; id++) {
      const mine = await endedFor(1000 + id);
      assert.deepEqual(mine, [{ state: 1000 + id, failure: null }]);
    }
  });

  test('an upstream body that fails mid-way cuts the client connection and ends once as the upstream’s', async () => {
    const next = relayNext(2000, (body) => {
      body.push('partial');
      setTimeout(() => body.destroy(new Error('upstream reset')), 30);
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    await assert.rejects(res.text()); // the client sees the answer cut, not a clean end
    const mine = await endedFor(2000 + next.id());
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.failure?.by, 'upstream');
    assert.equal((mine[0]!.failure as { error: Error }).error.message, 'upstream reset');
  });

  test('a client that hangs up mid-body ends the relay once as the client’s and frees the upstream body', async () => {
    const next = relayNext(3000, (body) => body.push('first chunk of a long answer'));
    const socket = connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.destroy();
    const mine = await endedFor(3000 + next.id());
    assert.deepEqual(mine, [{ state: 3000 + next.id(), failure: { by: 'client' } }]);
    assert.equal(next.body().destroyed, true);
  });

  test('a response already closed before the relay starts ends at once as the client’s, body destroyed', async () => {
    let body: Readable | null = null;
    let id = -1;
    handle = (res, n) => {
      id = n;
      res.destroy();
      body = upstreamBody();
      relay(body, res, 4000 + n);
    };
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
    const mine = await endedFor(4000 + id);
    assert.deepEqual(mine, [{ state: 4000 + id, failure: { by: 'client' } }]);
    assert.equal(body!.destroyed, true);
  });
});

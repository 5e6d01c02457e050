// Raw-socket fuzzer: thousands of seeded, mutated HTTP/1.1 requests, one per connection, each with a
// unique marker, at a real gateway process in front of a counting upstream. The gateway must never crash,
// never forward one client request as two (each exact request reaches the upstream at most once), never
// forward a request it rejected, and never hand one client's response to another.
// Replay a failure with CHAOS_SEED=<seed> (printed in every assertion message); FUZZ_MS bounds the run.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { type FuzzCase, nextCase } from './support/fuzz-cases.js';
import { marker, markersIn } from './support/markers.js';
import { assertCleanLog, healthy, processStats } from './support/probe.js';
import { errorShape, rawExchange } from './support/raw-http.js';
import { chaosSeed, Rng, replayHint } from './support/seed.js';

const SEED = chaosSeed();
const HINT = replayHint(SEED);
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 25_000);
const WORKERS = 48;
/** Statuses the gateway itself may answer a hostile request with. */
const GATEWAY_STATUSES = new Set([400, 404, 405, 408, 413, 417, 431, 501]);
/** Those that mean "rejected before anything was forwarded". */
const REJECTED_BEFORE_FORWARD = new Set([400, 404, 405, 417, 431, 501]);

let upstream: Server;
let upstreamUrl: string;
/** Requests the upstream saw per marker. */
const seen = new Map<string, number>();
/**
 * Times the upstream saw each exact request (marker, method, target, X-Marker). A forward repeated by the
 * gateway is the same request again; two different requests that random damage left carrying the same
 * marker (a smuggled GET whose `S` was damaged out of both path and header, pipelined after a POST that
 * damage made well-framed) are two client requests, each forwarded once.
 */
const forwards = new Map<string, number>();
let gw: GatewayProcess;

before(async () => {
  // Accepts headers as large as the gateway lets through, so the upstream's own limit is not what is tested.
  upstream = createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    // One upstream request counts once, under one marker: a smuggled one (its `S`) is itself even when
    // damage made its path read as the outer request's marker (`…eaaS` holds `…ea`).
    const tokens = markersIn(`${req.url} ${req.headers['x-marker'] ?? ''}`, SEED);
    const id = tokens.find((t) => t.endsWith('S')) ?? tokens[0];
    if (id !== undefined) {
      seen.set(id, (seen.get(id) ?? 0) + 1);
      const request = `${id} ${req.method} ${req.url} ${req.headers['x-marker'] ?? ''}`;
      forwards.set(request, (forwards.get(request) ?? 0) + 1);
    }
    req.on('data', () => {});
    req.on('error', () => {});
    req.on('end', () => {
      const body = `ok ${markersIn(req.url ?? '', SEED)[0] ?? 'none'}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  upstream.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  gw = await spawnGateway({ fz: { blue: [upstreamUrl], green: [upstreamUrl] } });
  console.log(`raw-fuzz: seed ${SEED}, ${FUZZ_MS} ms, ${WORKERS} connections at a time ${HINT}`);
});

after(async () => {
  await gw?.stop('SIGKILL');
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

interface Outcome {
  readonly c: FuzzCase;
  readonly statuses: number[];
  readonly problem: string | null;
  readonly rejected: boolean;
}

/** Sends one case and judges what came back on its connection. */
async function run(c: FuzzCase, port: number): Promise<Outcome> {
  const r = await rawExchange(port, c.bytes, { timeoutMs: 1000, settleMs: 150 });
  const finals = r.responses.filter((x) => x.status >= 200);
  const statuses = finals.map((x) => x.status);
  let problem: string | null = null;
  for (const res of finals) {
    if (!res.complete) continue; // cut short by our timeout or a close: nothing to judge
    const proxied = res.headers['x-acgs-color'] !== undefined && errorShape(res.body) === null;
    if (proxied) {
      if (res.status !== 200) problem = `proxied status ${res.status}`;
      const echoed = res.body.toString('latin1');
      // A HEAD has no body; otherwise the answer must be for this connection's request (or its own smuggled one).
      // (`ok none`: random damage broke the marker in the path; the answer is still this request's.)
      const other = markersIn(echoed, SEED).find((m) => m !== c.marker && m !== `${c.marker}S`);
      if (other !== undefined) problem = `the response of another request arrived: ${echoed.slice(0, 80)}`;
    } else if (!GATEWAY_STATUSES.has(res.status)) {
      problem = `unexpected status ${res.status}: ${res.body.toString('latin1').slice(0, 200)}`;
    } else if (errorShape(res.body) === null) {
      problem = `gateway answer ${res.status} is not the JSON error shape: ${res.body.toString('latin1').slice(0, 120)}`;
    }
  }
  const first = finals[0];
  const rejected =
    first !== undefined &&
    REJECTED_BEFORE_FORWARD.has(first.status) &&
    first.headers['x-acgs-color'] === undefined;
  return { c, statuses, problem, rejected };
}

test(`the raw-socket fuzzer: no crash, no request forwarded twice, no rejected request forwarded ${HINT}`, async () => {
  const port = Number(new URL(gw.dataUrl).port);
  const start = await processStats(gw.child.pid!);
  const rng = new Rng(SEED);
  const outcomes: Outcome[] = [];
  let seq = 0;
  const deadline = Date.now() + FUZZ_MS;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < deadline && gw.child.exitCode === null) {
        const c = nextCase(rng, marker(seq++, SEED));
        outcomes.push(await run(c, port));
      }
    }),
  );

  const byKind = new Map<string, number>();
  for (const o of outcomes) byKind.set(o.c.kind, (byKind.get(o.c.kind) ?? 0) + 1);
  console.log(
    `raw-fuzz: ${outcomes.length} cases, ${byKind.size} kinds, upstream saw ${seen.size} markers ${HINT}`,
  );

  assert.equal(
    gw.child.exitCode,
    null,
    `${HINT} the gateway exited during the fuzz:\n${gw.output().slice(-3000)}`,
  );
  assert.ok(await healthy(gw.dataUrl), `${HINT} /healthz answers after the fuzz`);
  assertCleanLog(gw.output(), HINT);
  assert.ok(outcomes.length >= 1000, `${HINT} only ${outcomes.length} cases in ${FUZZ_MS} ms`);

  const twice = [...forwards]
    .filter(([, n]) => n > 1)
    .map(([request, n]) => [request.slice(0, request.indexOf(' ')), n] as const);
  const show = (m: string) => {
    const o = outcomes.find((x) => x.c.marker === m.replace(/S$/, ''));
    return o ? `${m} (${o.c.kind}): ${JSON.stringify(o.c.bytes.toString('latin1').slice(0, 300))}` : m;
  };
  assert.deepEqual(
    twice.map(([m, n]) => `${show(m)} seen ${n}×`),
    [],
    `${HINT} a request reached the upstream twice`,
  );

  const forwardedRejected = outcomes.filter((o) => o.rejected && (seen.get(o.c.marker) ?? 0) > 0);
  assert.deepEqual(
    forwardedRejected.map((o) => `${show(o.c.marker)} answered ${o.statuses}`),
    [],
    `${HINT} the gateway rejected a request and forwarded it anyway`,
  );

  // One example per kind of wrong answer, so one noisy kind does not hide the others.
  const wrong = new Map<string, string>();
  let wrongCount = 0;
  for (const o of outcomes) {
    if (o.problem === null) continue;
    wrongCount++;
    const key = o.problem.replace(/MK\w+/g, 'MK…').slice(0, 60);
    if (!wrong.has(key))
      wrong.set(key, `${o.problem} — ${JSON.stringify(o.c.bytes.toString('latin1').slice(0, 200))}`);
  }
  assert.deepEqual([...wrong.values()], [], `${HINT} ${wrongCount} wrong answer(s)`);

  // Nothing of the fuzz lingers: a normal request works, and the descriptors come back down.
  const ok = await fetch(`${gw.dataUrl}/api/fz/m/${marker(seq++, SEED)}`);
  assert.equal(ok.status, 200, `${HINT} a normal request after the fuzz`);
  await ok.arrayBuffer();
  let end = await processStats(gw.child.pid!);
  for (let i = 0; i < 30 && end.fds > start.fds + 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    end = await processStats(gw.child.pid!);
  }
  assert.ok(end.fds <= start.fds + 10, `${HINT} open descriptors ${start.fds} → ${end.fds}`);
});

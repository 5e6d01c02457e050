// The fixed-rate (open-loop) load generator, in a process of its own: the orchestrator's event loop and
// heap (autocannon's results, the tsx loader) would add their pauses to every latency it measured.
//
// Request i is due at start + i / rate, on connection i mod c (c clients, each sending every c / rate
// seconds, as c users would), whether or not the answers to earlier ones have come back. Its latency runs
// from the moment it is handed to its connection's client to the end of the answer's body: when the answer
// to the previous request on that connection is still out, the wait for it counts (a contender that falls
// behind is charged for the requests queued behind it: no coordinated omission). It does not run from the
// due time, because the generator itself (a 1 ms timer on a core it shares) sends a few ms late now and
// then; that lateness is reported on its own (sendLagP99Ms) and is not the contender's.
//
// The first warmupSec seconds run at the same rate and are not counted: they open the c connections and
// warm the generator's own code (undici, its HTTP parser's wasm), which is cold in a new process.
//
// Usage: node paced.mjs <url> <path> <connections> <rate> <durationSec> <warmupSec> [authorization ...]
// (requests alternate between the Authorization values); prints one JSON line with the result and exits.
import { Client } from 'undici';

/** How long to wait for the last answers once every request is sent, before counting them as errors. */
const DRAIN_TIMEOUT_MS = 10_000;

const [url, path, connectionsArg, rateArg, durationArg, warmupArg, ...authorizations] = process.argv.slice(2);
const connections = Number(connectionsArg);
const rate = Number(rateArg);
const durationSec = Number(durationArg);
const warmupSec = Number(warmupArg);
if (
  url === undefined ||
  path === undefined ||
  !Number.isInteger(connections) ||
  connections < 1 ||
  !(rate > 0) ||
  !(durationSec > 0) ||
  !(warmupSec >= 0)
) {
  process.stderr.write(
    'usage: paced <url> <path> <connections> <rate> <durationSec> <warmupSec> [authorization ...]\n',
  );
  process.exit(2);
}

const headers: Record<string, string>[] =
  authorizations.length === 0 ? [{}] : authorizations.map((authorization) => ({ authorization }));

const warmup = Math.round(rate * warmupSec);
const total = warmup + Math.max(1, Math.round(rate * durationSec));
const intervalMs = 1000 / rate;
const clients = Array.from(
  { length: connections },
  () =>
    new Client(url, {
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: DRAIN_TIMEOUT_MS,
      bodyTimeout: DRAIN_TIMEOUT_MS,
    }),
);
const latencies = new Float64Array(total - warmup);
const sendLags = new Float64Array(total - warmup);
let ok = 0;
let non2xx = 0;
let errors = 0;
/** Answers (or failures) of counted requests, and of all requests (the run ends when every one is in). */
let countedDone = 0;
let done = 0;
let sent = 0;
// Set when the run ends: answers or failures arriving after that are already counted as unanswered.
let closed = false;
let allDone: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  allDone = resolve;
});

function settle(counted: boolean): void {
  if (closed) return;
  if (counted) countedDone++;
  if (++done === total) allDone();
}

function send(i: number): void {
  const client = clients[i % clients.length]!;
  const counted = i >= warmup;
  const sentAt = performance.now();
  client
    .request({ method: 'GET', path: path!, headers: headers[i % headers.length] })
    .then(async (res) => {
      // The answer counts once its body is in: a proxy that sends the head and stalls the body is slow.
      await res.body.dump();
      if (closed || !counted) return;
      if (res.statusCode >= 200 && res.statusCode < 300) latencies[ok++] = performance.now() - sentAt;
      else non2xx++;
    })
    .catch(() => {
      if (!closed && counted) errors++;
    })
    .finally(() => settle(counted));
}

const start = performance.now();
let measuredFrom = start;
function tick(): void {
  const now = performance.now();
  const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
  while (sent < due) {
    if (sent === warmup) measuredFrom = now;
    if (sent >= warmup) sendLags[sent - warmup] = now - (start + sent * intervalMs);
    send(sent);
    sent++;
  }
  if (sent === total) clearInterval(timer);
}
const timer = setInterval(tick, 1);
tick();

let drainTimer: NodeJS.Timeout | undefined;
await Promise.race([
  finished,
  new Promise<void>((resolve) => {
    drainTimer = setTimeout(resolve, (warmupSec + durationSec) * 1000 + DRAIN_TIMEOUT_MS);
  }),
]);
clearTimeout(drainTimer);
clearInterval(timer);
const elapsedSec = (performance.now() - measuredFrom) / 1000;
// Counted requests still unanswered (or never sent) when the wait ends are errors.
closed = true;
errors += total - warmup - countedDone;
await Promise.all(clients.map((c) => c.destroy().catch(() => {})));

/** Nearest-rank quantile of an ascending array; null when empty (JSON has no NaN). */
function quantile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const sorted = latencies.subarray(0, ok).sort();
const lags = sendLags.subarray(0, Math.max(0, sent - warmup)).sort();
process.stdout.write(
  `${JSON.stringify({
    connections,
    rate,
    achievedRps: ok / Math.max(elapsedSec, durationSec),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    p999Ms: quantile(sorted, 0.999),
    maxMs: quantile(sorted, 1),
    ok,
    non2xx,
    errors,
    sendLagP99Ms: quantile(lags, 0.99),
  })}\n`,
);
process.exit(0);

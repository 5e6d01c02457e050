// The chaos suite: one real gateway process, upstreams that misbehave on a seeded schedule, and many
// concurrent clients (undici and raw sockets) that abort at random phases, send malformed and smuggling-
// shaped requests and use Expect: 100-continue — while the weights change, the policy bundle is swapped
// and a private Redis is killed and restarted. Afterwards: the process is alive, its log is clean, every
// completed request got a correct answer, the counters add up, and descriptors and memory come back down.
// Replay a failing run with CHAOS_SEED=<seed> (in every assertion message); CHAOS_MS sets the load time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { ADMIN_TOKEN } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';
import { OwnRedis } from '../ratelimit/helpers.js';
import { buildBundles } from './support/bundles.js';
import { type FaultUpstream, startFaultUpstream } from './support/fault-upstream.js';
import { assertCleanLog, healthy, Metrics, processStats } from './support/probe.js';
import {
  expectContinue,
  faultGet,
  leave,
  malformed,
  type Outcome,
  post,
  type Target,
} from './support/scenarios.js';
import { chaosSeed, Rng, replayHint } from './support/seed.js';

const SEED = chaosSeed();
const HINT = replayHint(SEED);
const LOAD_MS = Number(process.env.CHAOS_MS ?? 45_000);
const CLIENTS = 32;
const SERVICE = 'gs';
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

let redis: OwnRedis;
let blue: FaultUpstream;
let green: FaultUpstream;
let gw: GatewayProcess;
let bundles: { strict: string; open: string };

before(async () => {
  bundles = buildBundles(SERVICE);
  redis = new OwnRedis(await freePort());
  await redis.start();
  blue = await startFaultUpstream();
  green = await startFaultUpstream();
  gw = await spawnGateway(
    { [SERVICE]: { blue: [blue.url], green: [green.url], weights: { green: 50 } } },
    {
      redis: { url: `redis://127.0.0.1:${redis.port}`, keyPrefix: `chaos:${SEED}:` },
      rateLimit: { limits: [{ name: 'chaos', limit: 1_000_000, window: '1m' }] },
      policy: { bundle: bundles.strict },
      // Clients that stop reading are cut within the settle time the counters are checked after.
      server: { sendTimeout: '1s' },
      // Short idle upstream connections, so the descriptor count can settle within the test.
      proxy: { timeouts: { connect: '1s', headers: '1500ms', body: '1s' }, keepAliveTimeout: '1s' },
      rollout: { tickMs: 100, flushIntervalMs: 200, weightRereadMs: 200, leaseTtlMs: 1500 },
    },
    // The policy's admin rules grant everything to the principal named `admin`.
    { ADMIN_TOKENS: `admin:${ADMIN_TOKEN}` },
  );
  console.log(`chaos: seed ${SEED}, ${LOAD_MS} ms of load, ${CLIENTS} clients ${HINT}`);
});

after(async () => {
  await gw?.stop('SIGKILL');
  await blue?.close();
  await green?.close();
  await redis?.kill();
});

async function admin(method: string, path: string, body?: Buffer | string, type = 'application/json') {
  const res = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': type }) },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** The operator's side of the chaos, on a schedule relative to the load: weights, policy, Redis. */
async function operator(
  rng: Rng,
  deadline: number,
  log: string[],
  redisDown: { down: boolean },
): Promise<void> {
  const started = Date.now();
  const at = (share: number) => started + share * (deadline - started);
  const events: Array<[number, string, () => Promise<void>]> = [
    [at(0.25), 'policy → open', () => swapPolicy(bundles.open, log)],
    [
      at(0.4),
      'redis killed',
      async () => {
        redisDown.down = true;
        await redis.kill();
      },
    ],
    [
      at(0.55),
      'redis restarted',
      async () => {
        await redis.start();
        redisDown.down = false;
      },
    ],
    [at(0.7), 'policy → strict', () => swapPolicy(bundles.strict, log)],
  ];
  while (Date.now() < deadline) {
    const next = events[0];
    if (next && Date.now() >= next[0]) {
      events.shift();
      log.push(`${Date.now() - started} ms: ${next[1]}`);
      await next[2]();
      continue;
    }
    const green = rng.int(0, 100);
    const res = await admin('PUT', `/admin/services/${SERVICE}/weights`, JSON.stringify({ green }));
    // While Redis is down a weight change may be refused; it must never be refused otherwise.
    if (res.status !== 200 && !redisDown.down)
      log.push(`PROBLEM weights ${green}: ${res.status} ${res.text.slice(0, 200)}`);
    await sleep(rng.int(300, 1500));
  }
}

async function swapPolicy(bundle: string, log: string[]): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const res = await admin('PUT', '/admin/policy', await readFile(bundle), 'application/gzip');
  if (res.status !== 200) log.push(`PROBLEM policy swap: ${res.status} ${res.text.slice(0, 200)}`);
}

test(`chaos: the gateway stays up and correct under hostile clients, faulty upstreams and a Redis restart ${HINT}`, async () => {
  const port = Number(new URL(gw.dataUrl).port);
  const pool = new Pool(gw.dataUrl, { connections: CLIENTS, pipelining: 1 });
  const target: Target = { port, pool, prefix: `/api/${SERVICE}` };
  const rng = new Rng(SEED);

  // Warm up (pools, JIT, caches), then take the baseline the end state is compared with.
  for (let i = 0; i < 200; i++)
    await (await pool.request({ path: `/api/${SERVICE}/ok/warm${i}`, method: 'GET' })).body.dump();
  await sleep(500);
  const baseline = await processStats(gw.child.pid!);

  const outcomes: Outcome[] = [];
  const opsLog: string[] = [];
  const deadline = Date.now() + LOAD_MS;
  const redisDown = { down: false };
  let n = 0;
  const scenarios = [faultGet, faultGet, faultGet, post, expectContinue, leave, leave, malformed, malformed];
  await Promise.all([
    operator(rng.fork(999), deadline, opsLog, redisDown),
    ...Array.from({ length: CLIENTS }, async (_, w) => {
      const mine = rng.fork(w);
      while (Date.now() < deadline && gw.child.exitCode === null) {
        const scenario = mine.pick(scenarios);
        outcomes.push(await scenario(target, mine, `c${w}r${n++}`));
      }
    }),
  ]);
  await pool.close();

  const byScenario = new Map<string, { ok: number; left: number; problem: number }>();
  for (const o of outcomes) {
    const s = byScenario.get(o.scenario) ?? { ok: 0, left: 0, problem: 0 };
    s[o.result]++;
    byScenario.set(o.scenario, s);
  }
  console.log(`chaos: ${outcomes.length} requests; operator: ${opsLog.join('; ')} ${HINT}`);
  for (const [name, s] of [...byScenario].sort())
    console.log(`  ${name.padEnd(40)} ok ${s.ok}  left ${s.left}  problem ${s.problem}`);

  // 1. Alive. Everything after this is collected, so one run shows every broken promise at once.
  assert.equal(gw.child.exitCode, null, `${HINT} the gateway exited:\n${gw.output().slice(-3000)}`);
  assert.ok(await healthy(gw.dataUrl), `${HINT} /healthz answers after the load`);
  const failures: string[] = [];
  const check = (cond: boolean, message: string) => {
    if (!cond) failures.push(message);
  };
  try {
    assertCleanLog(gw.output());
  } catch (err) {
    failures.push((err as Error).message);
  }

  // 2. Every completed request got a correct answer; one example per kind of problem.
  for (const scenario of new Set(outcomes.filter((o) => o.result === 'problem').map((o) => o.scenario))) {
    const all = outcomes.filter((o) => o.scenario === scenario && o.result === 'problem');
    failures.push(`${scenario}: ${all.length} wrong answer(s), e.g. ${all[0]!.detail}`);
  }
  failures.push(...opsLog.filter((l) => l.startsWith('PROBLEM')));
  check(outcomes.filter((o) => o.result === 'ok').length >= 500, 'too few completed requests to judge');

  // 3. Redis came back without a restart of the gateway: the limiter uses it again, weights are written.
  try {
    await waitFor(
      'the rate limiter to use Redis again',
      async () => (await Metrics.scrape(gw.adminUrl)).sum('acgs_ratelimit_redis_up') === 1,
      15_000,
      200,
    );
    const weights = await admin('PUT', `/admin/services/${SERVICE}/weights`, JSON.stringify({ green: 37 }));
    check(
      weights.status === 200,
      `a weight change after the Redis restart: ${weights.status} ${weights.text}`,
    );
    await waitFor(
      'green 37 to be served',
      async () => JSON.parse((await admin('GET', `/admin/services/${SERVICE}`)).text).weights.green === 37,
      5000,
      100,
    );
  } catch (err) {
    failures.push((err as Error).message);
  }

  // 4. The counters add up once nothing is in flight: every request received ended in one class.
  await sleep(2500);
  const m = await Metrics.scrape(gw.adminUrl);
  const received = m.sum('acgs_http_requests_received_total');
  const classes = ['2xx', '3xx', '4xx', '5xx', '499'].map((c) =>
    m.sum('acgs_http_responses_total', { class: c }),
  );
  check(received > 0, 'acgs_http_requests_received_total is not exported or never counted');
  check(
    received === classes.reduce((a, b) => a + b, 0),
    `received ${received} ≠ 2xx+3xx+4xx+5xx+499 ${classes.join('+')}`,
  );
  check(m.sum('acgs_http_responses_total', { class: '499' }) > 0, 'no departed client was counted as 499');

  // 5. Descriptors and memory return near the baseline once the load stops.
  let end = await processStats(gw.child.pid!);
  for (let i = 0; i < 25 && end.fds > baseline.fds + 20; i++) {
    await sleep(200);
    end = await processStats(gw.child.pid!);
  }
  console.log(`chaos: fds ${baseline.fds} → ${end.fds}, rss ${baseline.rssKiB} → ${end.rssKiB} KiB ${HINT}`);
  check(end.fds <= baseline.fds + 20, `open descriptors ${baseline.fds} → ${end.fds}`);
  const rssLimit = Math.max(baseline.rssKiB * 1.6, baseline.rssKiB + 96 * 1024);
  check(end.rssKiB <= rssLimit, `RSS ${baseline.rssKiB} → ${end.rssKiB} KiB (limit ${Math.round(rssLimit)})`);

  assert.deepEqual(failures, [], `${HINT} ${failures.length} broken promise(s)`);
});

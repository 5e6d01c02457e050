// The per-stage runs (`npm run bench -- --stages`): the full gateway, the full gateway with one stage
// switched off at a time, and the minimal gateway. A stage's CPU cost per request is the difference of the
// gateway process's CPU µs/request with and without it, taken per round (the two measured minutes apart at
// most) and then the median over rounds. Also: the check that a gateway contender really runs the stages it
// is meant to run (and not the others) before it is measured, and the budget table of bench/README.md.
import { Redis } from 'ioredis';
import type { BenchContext, GatewayStages, Running } from './contenders.js';
import type { CpuPerRequest } from './cpu.js';
import { median, PATH } from './load.js';
import { fmt, markdownTable } from './report.js';
import { REFERENCE } from './summary.js';

/** The contenders of a per-stage run, in the order they are listed. */
export const STAGE_RUN_IDS = [
  REFERENCE,
  'gateway-minimal',
  'gateway-full',
  'gateway-full-no-auth',
  'gateway-full-no-ratelimit',
  'gateway-full-no-screening',
  'gateway-full-no-policy',
] as const;

/** A query the shipped screening ruleset flags (libinjection SQLi): the policy answers it 403. */
export const INJECTION_PATH = `${PATH.split('?')[0]}?id=1%27%20OR%20%271%27%3D%271`;

async function status(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res;
}

/**
 * Checks that a gateway contender runs exactly the stages it is meant to: returns why not, or null.
 * Auth: no token → 401 (on) or 200 (off: GET on the service is public). Rate limit: the RateLimit-Limit
 * header, and a key in Redis (on). Policy: POST without a writer role refused (on) or forwarded (off).
 * Screening: a query with an SQL injection refused with 403 (on) or forwarded (off).
 */
export async function gatewayStageProblems(
  running: Running,
  ctx: BenchContext,
  stages: GatewayStages,
): Promise<string | null> {
  const url = `${running.url}${PATH}`;
  const problems: string[] = [];
  const token = ctx.tokens[0]!;
  const authorization = `Bearer ${token.token}`;

  const anonymous = await status(url);
  if (stages.auth && anonymous.status !== 401)
    problems.push(`JWT stage not active (no token → ${anonymous.status}, expected 401)`);
  if (!stages.auth && anonymous.status !== 200)
    problems.push(`JWT stage should be off (no token → ${anonymous.status}, expected 200)`);

  const authed = await status(url, { headers: { authorization } });
  if (authed.status !== 200) problems.push(`a valid token → ${authed.status}`);
  const limited = authed.headers.has('ratelimit-limit');
  if (stages.rateLimit && !limited) problems.push('rate-limit stage not active (no RateLimit-Limit header)');
  if (!stages.rateLimit && limited) problems.push('rate-limit stage should be off (RateLimit-Limit header)');
  if (stages.rateLimit) {
    // Without the JWT stage a `by: subject` limit keys on the client address.
    const pattern = stages.auth ? `*per-subject:s:${token.subject}*` : '*per-subject:a:*';
    const problem = await redisKeyProblem(ctx.redisUrl, pattern);
    if (problem !== null) problems.push(problem);
  }

  // The policy grants POST on ac only to ac.writer; the bench tokens carry the role 'reader' (and without
  // the JWT stage the caller is anonymous: 401).
  const post = await status(url, { method: 'POST', headers: { authorization } });
  if (stages.policy && post.status !== 403 && post.status !== 401)
    problems.push(`policy stage not active (POST without a writer role → ${post.status}, expected 403)`);
  if (!stages.policy && post.status !== 200)
    problems.push(`policy stage should be off (POST → ${post.status}, expected 200)`);

  const injected = await status(`${running.url}${INJECTION_PATH}`, { headers: { authorization } });
  if (stages.screening && injected.status !== 403)
    problems.push(
      `screening stage not active (an SQL injection in the query → ${injected.status}, expected 403)`,
    );
  if (!stages.screening && injected.status !== 200)
    problems.push(
      `screening stage should be off (an SQL injection in the query → ${injected.status}, expected 200)`,
    );
  return problems.length === 0 ? null : problems.join('; ');
}

async function redisKeyProblem(redisUrl: string, pattern: string): Promise<string | null> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    // The default shared counter syncs in batches (every 100 ms): give the first sync a moment.
    for (let attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
        cursor = next;
        if (keys.length > 0) return null;
      } while (cursor !== '0');
    }
    return 'no rate-limit key in Redis after 2 s (memory store in use?)';
  } catch (err) {
    return `Redis check failed: ${(err as Error).message}`;
  } finally {
    redis.disconnect();
  }
}

/** What a per-stage computation needs of a measurement: its round and its CPU per request. */
export interface CpuMeasurement {
  readonly round: number;
  readonly cpu?: { readonly usPerRequest: CpuPerRequest };
}

export type StageKey = 'base' | 'auth' | 'rateLimit' | 'screening' | 'policy' | 'rest' | 'total';

export interface StageCost {
  readonly stage: StageKey;
  readonly label: string;
  /** How the figure is computed, e.g. "gateway-full − gateway-full-no-auth". */
  readonly how: string;
  readonly connections: number;
  /** µs of the gateway process's CPU per request (median over rounds of the per-round difference). */
  readonly gatewayUs: number;
  /** The same for the gateway's main thread (its event loop). */
  readonly mainThreadUs: number;
  /** µs of Redis CPU per request, the same way (the rate limit's shared counter). */
  readonly redisUs: number;
  /** Rounds in which both sides were measured. */
  readonly rounds: number;
}

interface StageDef {
  readonly stage: StageKey;
  readonly label: string;
  /** Contender ids added and subtracted. */
  readonly plus: readonly string[];
  readonly minus: readonly string[];
}

export const STAGE_DEFS: readonly StageDef[] = [
  { stage: 'base', label: 'base path (minimal gateway)', plus: ['gateway-minimal'], minus: [] },
  { stage: 'auth', label: 'auth (JWT, cached)', plus: ['gateway-full'], minus: ['gateway-full-no-auth'] },
  {
    stage: 'rateLimit',
    label: 'rate limit (batched shared counter)',
    plus: ['gateway-full'],
    minus: ['gateway-full-no-ratelimit'],
  },
  {
    stage: 'screening',
    label: 'screening',
    plus: ['gateway-full'],
    minus: ['gateway-full-no-screening'],
  },
  // The screening runs only with a policy: the policy's cost is the step from "no screening" to "neither".
  {
    stage: 'policy',
    label: 'policy',
    plus: ['gateway-full-no-screening'],
    minus: ['gateway-full-no-policy'],
  },
  {
    // What no single stage accounts for: full − base − the four stages (the Redis client behind the
    // stages, stage interplay, noise).
    stage: 'rest',
    label: 'rest (full − base − the four stages)',
    // = full − minimal − (full − no-auth) − (full − no-ratelimit) − (full − no-screening) − (no-screening − no-policy)
    plus: ['gateway-full-no-auth', 'gateway-full-no-ratelimit', 'gateway-full-no-policy'],
    minus: ['gateway-minimal', 'gateway-full', 'gateway-full'],
  },
  { stage: 'total', label: 'total (full gateway)', plus: ['gateway-full'], minus: [] },
];

function describe(def: StageDef): string {
  if (def.stage === 'rest') return 'full − base − auth − rate limit − screening − policy';
  return [def.plus.join(' + '), ...def.minus].join(' − ');
}

type Field = 'contender' | 'mainThread' | 'redis';

/** Median over rounds of Σ plus − Σ minus of one CPU field, each round on its own; NaN when no round has all. */
export function combineRounds(
  measurements: ReadonlyMap<string, readonly CpuMeasurement[]>,
  connections: number,
  plus: readonly string[],
  minus: readonly string[],
  field: Field,
): { value: number; rounds: number } {
  const get = (id: string) => measurements.get(`${id}@${connections}`) ?? [];
  const rounds = new Set<number>();
  for (const id of [...plus, ...minus]) for (const m of get(id)) rounds.add(m.round);
  const perRound: number[] = [];
  for (const round of rounds) {
    let sum = 0;
    let complete = true;
    for (const [ids, sign] of [
      [plus, 1],
      [minus, -1],
    ] as const) {
      for (const id of ids) {
        const v = get(id).find((m) => m.round === round)?.cpu?.usPerRequest[field];
        if (v === null || v === undefined || !Number.isFinite(v)) complete = false;
        else sum += sign * v;
      }
    }
    if (complete) perRound.push(sum);
  }
  return { value: median(perRound), rounds: perRound.length };
}

export function stageCosts(
  measurements: ReadonlyMap<string, readonly CpuMeasurement[]>,
  connectionsList: readonly number[],
): StageCost[] {
  const out: StageCost[] = [];
  for (const connections of connectionsList) {
    for (const def of STAGE_DEFS) {
      const gateway = combineRounds(measurements, connections, def.plus, def.minus, 'contender');
      out.push({
        stage: def.stage,
        label: def.label,
        how: describe(def),
        connections,
        gatewayUs: gateway.value,
        mainThreadUs: combineRounds(measurements, connections, def.plus, def.minus, 'mainThread').value,
        redisUs: combineRounds(measurements, connections, def.plus, def.minus, 'redis').value,
        rounds: gateway.rounds,
      });
    }
  }
  return out;
}

export function stageTable(costs: readonly StageCost[]): string {
  return markdownTable(
    [
      'stage',
      'conns',
      'gateway CPU µs/req',
      'main thread µs/req',
      'Redis CPU µs/req',
      'rounds',
      'computed as',
    ],
    costs.map((c) => [
      c.label,
      String(c.connections),
      fmt(c.gatewayUs, 1),
      fmt(c.mainThreadUs, 1),
      fmt(c.redisUs, 1),
      String(c.rounds),
      c.how,
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** The budget: µs of gateway CPU per request each stage may cost (issue 14). `total` is set per run. */
export const BUDGET_US: Readonly<Record<Exclude<StageKey, 'rest' | 'total'>, number>> = {
  base: 80,
  auth: 3,
  rateLimit: 5,
  screening: 15,
  policy: 10,
};

export interface BudgetRow {
  readonly stage: StageKey;
  readonly label: string;
  readonly targetUs: number;
  readonly target: string;
  readonly measuredUs: number;
  /** 'noise': a difference below zero, i.e. smaller than what the machine's noise moves it by. */
  readonly status: 'within' | 'over' | 'noise' | 'not measured' | 'no target';
}

/**
 * The budget rows at one connection count. The total's target is the bare @fastify/http-proxy's CPU per
 * request in the same run: a full gateway at ≥ 1.0× its throughput cannot spend more CPU per request.
 */
export function budgetRows(
  costs: readonly StageCost[],
  connections: number,
  referenceUs: number,
): BudgetRow[] {
  const rows: BudgetRow[] = [];
  for (const c of costs.filter((x) => x.connections === connections)) {
    const isTotal = c.stage === 'total';
    const targetUs = c.stage === 'rest' ? Number.NaN : isTotal ? referenceUs : BUDGET_US[c.stage];
    const target =
      c.stage === 'rest'
        ? '–'
        : isTotal
          ? Number.isFinite(referenceUs)
            ? `≤ ${fmt(referenceUs, 1)} (@fastify/http-proxy, same run)`
            : '≤ @fastify/http-proxy (not measured)'
          : `≤ ${fmt(targetUs, 0)}`;
    const status = !Number.isFinite(c.gatewayUs)
      ? 'not measured'
      : c.gatewayUs < 0
        ? 'noise'
        : !Number.isFinite(targetUs)
          ? 'no target'
          : c.gatewayUs <= targetUs
            ? 'within'
            : 'over';
    rows.push({ stage: c.stage, label: c.label, targetUs, target, measuredUs: c.gatewayUs, status });
  }
  return rows;
}

export function budgetTable(rows: readonly BudgetRow[], connections: number, run: string): string {
  return markdownTable(
    ['stage', 'target µs', `measured µs (c=${connections})`, 'status', 'run'],
    rows.map((r) => [r.label, r.target, fmt(r.measuredUs, 1), r.status, run]),
    ['l', 'r', 'r', 'l', 'l'],
  );
}

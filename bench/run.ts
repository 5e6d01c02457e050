// `npm run bench`: every contender on loopback against the same upstream, driven by autocannon with the
// same requests and headers, alternated over rounds; one table with ratios to bare @fastify/http-proxy.
// Then the micro-benchmarks (micro.ts) unless --no-micro. Flags: --duration S, --warmup S, --rounds N,
// --connections 50,200, --only id,id, --nginx-workers N|auto, --results DIR, --no-build, --no-micro,
// --no-readme, --stages (the per-stage CPU runs: the full gateway with one stage off at a time, the
// minimal gateway and the bare @fastify/http-proxy; rewrites the budget table of bench/README.md). During
// every measurement the CPU time of the contender, the upstream, Redis and the load generator is read
// from /proc (bench/lib/cpu.ts) and reported per request. After every warm-up and measurement each
// contender is checked to be alive (its processes running, a request through it answered): a crash is
// reported as CRASHED with its exit code or signal and last output lines, never as a throughput. A
// contender whose tool is missing is skipped with how to install it. Environment: REDIS_URL, BENCH_NGINX_BIN (default /usr/sbin/nginx).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { BENCH_DIR, compileScripts, REPO_ROOT } from './lib/compile.js';
import {
  ALL_CONTENDERS,
  BASELINE,
  type BenchContext,
  CONTENDERS,
  NGINX_BIN,
  type Running,
  SERVICE,
  STAGE_VARIANTS,
  stagesOf,
} from './lib/contenders.js';
import { type CpuTargets, clockTicksPerSecond, findRedisProcess } from './lib/cpu.js';
import { checkLiveness } from './lib/liveness.js';
import { loadCommand, PATH, runLoad } from './lib/load.js';
import { runPaced } from './lib/paced.js';
import { allowedCpus, type CorePlan, corePlan, pinProcess } from './lib/pin.js';
import { prepareBundle } from './lib/policy.js';
import { type Child, firstJsonLine, sleep, spawnChild, stopChild } from './lib/proc.js';
import { fmt, fmtInt, replaceBetweenMarkers } from './lib/report.js';
import {
  budgetRows,
  budgetTable,
  gatewayStageProblems,
  STAGE_RUN_IDS,
  type StageCost,
  stageCosts,
  stageTable,
} from './lib/stages.js';
import {
  type Crash,
  cpuCell,
  cpuCompact,
  cpuMedians,
  crashOf,
  crashReport,
  lastLines,
  type Measurement,
  type PacedMeasurement,
  pacedSummaries,
  pacedTable,
  pacedTargetLines,
  REFERENCE,
  resultsTable,
  summarise,
  targetLines,
} from './lib/summary.js';
import { makeTokens } from './lib/tokens.js';
import { type MicroResult, microMarkdown, runMicro } from './micro.js';

const exec = promisify(execFile);

const HELP = `Usage: npm run bench -- [options]
  --duration S        measured seconds per contender and connection count (default 5)
  --warmup S          warm-up seconds before each measurement, same connections (default 2)
  --rounds N          rounds; the contender order rotates every round (default 3)
  --connections LIST  comma-separated connection counts (default 50,200)
  --only LIST         contender ids: ${CONTENDERS.map((c) => c.id).join(', ')}
                      (also the stage variants: ${STAGE_VARIANTS.map((c) => c.id).join(', ')},
                      and ${BASELINE.id}: gateway-full built in BENCH_BASELINE_ROOT, for an A/B)
  --stages            per-stage CPU runs: ${STAGE_RUN_IDS.join(', ')};
                      prints the per-stage cost and rewrites the budget table of bench/README.md
  --paced-rate R      after the saturated runs, each contender at a fixed R req/s (open loop) for
                      the added-latency figures; 0 skips it (default 1000; not with --stages)
  --paced-connections C  connections of the fixed-rate run (default 50)
  --pin               each contender on a core of its own (the last), the load generators and the
                      upstream on the others (taskset); see bench/lib/pin.ts
  --nginx-workers N   worker_processes for the nginx contenders: a number or auto (default 1)
  --results DIR       where the JSON results go (default bench/results)
  --no-build          do not run \`npm run build\` first (dist/ must be current)
  --no-micro          skip the micro-benchmarks
  --no-readme         do not rewrite the tables in bench/README.md`;

function parseFlags() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50,200' },
      only: { type: 'string' },
      'nginx-workers': { type: 'string', default: '1' },
      'paced-rate': { type: 'string', default: '1000' },
      'paced-connections': { type: 'string', default: '50' },
      results: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      'no-micro': { type: 'boolean', default: false },
      'no-readme': { type: 'boolean', default: false },
      stages: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const positive = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const id of only ?? []) {
    if (!ALL_CONTENDERS.some((c) => c.id === id)) throw new Error(`--only: unknown contender ${id}`);
  }
  if (values.stages && only !== undefined)
    throw new Error('--stages runs its own contenders; it does not combine with --only');
  return {
    help: values.help,
    durationSec: positive('duration', values.duration),
    warmupSec: Number(values.warmup),
    rounds: Math.round(positive('rounds', values.rounds)),
    connections: values.connections.split(',').map((c) => Math.round(positive('connections', c))),
    only,
    pacedRate: values['paced-rate'] === '0' ? 0 : positive('paced-rate', values['paced-rate']),
    pacedConnections: Math.round(positive('paced-connections', values['paced-connections'])),
    nginxWorkers:
      values['nginx-workers'] === 'auto'
        ? ('auto' as const)
        : Math.round(positive('nginx-workers', values['nginx-workers'])),
    resultsDir: values.results ?? join(BENCH_DIR, 'results'),
    build: !values['no-build'],
    micro: !values['no-micro'],
    readme: !values['no-readme'],
    stages: values.stages,
    pin: values.pin,
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const flags = parseFlags();
  if (flags.help) {
    log(HELP);
    return;
  }
  const selected = flags.stages
    ? STAGE_RUN_IDS.map((id) => ALL_CONTENDERS.find((c) => c.id === id)!)
    : flags.only === undefined
      ? CONTENDERS
      : ALL_CONTENDERS.filter((c) => flags.only!.includes(c.id));
  const startedAt = new Date();
  const cpu = cpus();
  const machine = {
    node: process.version,
    cores: cpu.length,
    cpu: cpu[0]?.model ?? 'unknown',
    platform: `${process.platform} ${process.arch}`,
    loadavgAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const load = loadCommand(flags.connections, flags.durationSec);
  log(
    `Node ${machine.node}, ${machine.cores} cores (${machine.cpu}), load average ${machine.loadavgAtStart.join(' ')}`,
  );
  log(`command: ${command}`);
  log(`load: ${load}`);
  // Pinned before anything is started, so the upstream and the generators inherit the orchestrator's cores.
  const pins: CorePlan | null = flags.pin ? corePlan(machine.cores) : null;
  if (pins !== null) {
    await pinProcess(process.pid, pins.rest);
    log(
      `pinned: contenders on cpu ${pins.contender}; this process (autocannon, micro-benchmarks), the upstream and the fixed-rate generator on cpu ${await allowedCpus(process.pid)}; Redis not pinned`,
    );
  }

  const paced = flags.pacedRate > 0 && !flags.stages;
  const pacedWarmupSec = Math.max(1, flags.warmupSec);
  const perRun =
    flags.connections.length * (flags.durationSec + flags.warmupSec) +
    4 +
    (paced ? flags.durationSec + pacedWarmupSec + 4 : 0);
  const budgetMs = (selected.length * flags.rounds * perRun + 600) * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: exceeded its time budget of ${Math.round(budgetMs / 1000)} s, stopping\n`);
    void cleanup().finally(() => process.exit(3));
  }, budgetMs);
  watchdog.unref();

  const children: Child[] = [];
  let current: Running | null = null;
  const tmp = await mkdtemp(join(tmpdir(), 'acgs-bench-'));
  async function cleanup() {
    if (current !== null) await current.stop().catch(() => {});
    for (const c of children) await stopChild(c).catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

  try {
    const needsGateway = selected.some((c) => c.id.startsWith('gateway-'));
    if (needsGateway && flags.build) {
      log('building the gateway (npm run build)');
      await exec('npm', ['run', 'build'], { cwd: REPO_ROOT, timeout: 300_000 });
    }
    const scripts = await compileScripts();
    const tokens = await makeTokens();
    const needsBundle =
      flags.micro || selected.some((c) => c.id.startsWith('gateway-full') || c.id === 'nginx-opa');
    const bundle = needsBundle ? await prepareBundle(tmp) : null;
    if (needsBundle) log(`policy bundle: ${bundle === null ? 'none' : bundle.origin}`);

    const upstream = spawnChild('upstream', process.execPath, [scripts.upstream!, '0', '0']);
    children.push(upstream);
    const { ports } = await firstJsonLine<{ ports: [number, number] }>(upstream);
    const ctx: BenchContext = {
      tmp,
      scripts,
      upstreamPorts: ports,
      tokens,
      bundle,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      nginxWorkers: flags.nginxWorkers,
      nginxBin: process.env.BENCH_NGINX_BIN || NGINX_BIN,
      contenderCpus: pins?.contender ?? null,
    };
    const authorizations = tokens.map((t) => `Bearer ${t.token}`);
    // CPU per request: the upstream is ours; Redis only when it runs on this machine and /proc shows it.
    const hz = clockTicksPerSecond();
    const redisProcess = await findRedisProcess(ctx.redisUrl);
    log(
      `CPU sampling: /proc/<pid>/stat utime+stime at ${hz} ticks/s; upstream pid ${upstream.pid}; Redis ${redisProcess.pid === null ? `n/a (${redisProcess.reason})` : `pid ${redisProcess.pid}`}; load generator: this process`,
    );
    const cpuTargets = (r: Running): CpuTargets => ({
      contender: r.pids,
      upstream: upstream.pid,
      redis: redisProcess.pid,
    });

    // Contenders that cannot run honestly are reported, not measured.
    const skipped = new Map<string, string>();
    const crashes: Crash[] = [];
    for (const c of selected) {
      const missing = c.missingTool?.(ctx) ?? null;
      if (missing !== null) {
        skipped.set(c.id, `skipped: ${missing}`);
        continue;
      }
      const stages = stagesOf(c.id, bundle !== null);
      if (stages !== null) {
        if (c.id.startsWith('gateway-full') && bundle === null) {
          skipped.set(c.id, 'pending: no policy bundle');
          continue;
        }
        try {
          current = await c.start(ctx);
          const problem = await gatewayStageProblems(current, ctx, stages).catch((err: Error) => err.message);
          const state = await checkLiveness(current.children, { probeUrl: current.probeUrl });
          if (!state.alive) {
            crashes.push(crashOf(c.id, 0, 0, 'stage check', state));
            skipped.set(c.id, `CRASHED during the stage check: ${state.summary}`);
          } else if (problem !== null) skipped.set(c.id, `pending wiring: ${problem}`);
        } catch (err) {
          skipped.set(
            c.id,
            `pending wiring: the gateway does not start with the ${c.id} config (${(err as Error).message.split('\n').slice(0, 3).join(' ')})`,
          );
        } finally {
          await current?.stop();
          current = null;
        }
      }
      if (c.id === 'nginx-opa' && bundle === null) skipped.set(c.id, 'pending: no policy bundle');
    }
    for (const [id, why] of skipped) log(`skipping ${id}: ${why}`);

    const runnable = selected.filter((c) => !skipped.has(c.id));
    const idWidth = Math.max(16, ...runnable.map((c) => c.id.length));
    const measurements = new Map<string, Measurement[]>();
    const pacedRuns = new Map<string, PacedMeasurement[]>();
    for (let round = 0; round < flags.rounds; round++) {
      // Rotate the order so no contender always runs first (or last) on a drifting machine.
      const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]!);
      log(`round ${round + 1}/${flags.rounds}: ${order.map((c) => c.id).join(' → ')}`);
      for (const contender of order) {
        try {
          current = await contender.start(ctx);
        } catch (err) {
          log(`  ${contender.id}: failed to start: ${(err as Error).message.split('\n')[0]}`);
          continue;
        }
        let crashed = false;
        try {
          for (const connections of flags.connections) {
            if (flags.warmupSec > 0) {
              await runLoad({
                url: current.url,
                connections,
                durationSec: flags.warmupSec,
                authorizations,
                pids: [],
              });
              const dead = await deadAfter(current, upstream, contender.id, round, connections, 'warm-up');
              if (dead !== null) {
                crashes.push(dead);
                crashed = true;
                break;
              }
            }
            const result = await runLoad({
              url: current.url,
              connections,
              durationSec: flags.durationSec,
              authorizations,
              pids: current.pids,
              cpu: cpuTargets(current),
            });
            const dead = await deadAfter(current, upstream, contender.id, round, connections, 'measurement');
            if (dead !== null) {
              // The numbers of a run the contender did not survive are not a throughput: discarded.
              crashes.push(dead);
              crashed = true;
              break;
            }
            const key = `${contender.id}@${connections}`;
            const list = measurements.get(key) ?? [];
            list.push({ ...result, round });
            measurements.set(key, list);
            const cpu = cpuMedians([result]);
            log(
              `  ${contender.id.padEnd(idWidth)} c=${String(connections).padEnd(4)} ${fmtInt(result.rps).padStart(7)} req/s  p50 ${fmt(result.p50Ms, 2)} ms  p99 ${fmt(result.p99Ms, 2)} ms  errors ${result.errors}  non-2xx ${result.non2xx}  rss ${fmt(result.peakRssKb / 1024, 0)} MiB  cpu ${cpuCell(cpu.contender)} µs/req (main ${cpuCell(cpu.mainThread)})  up/redis/lg ${cpuCompact(cpu)}`,
            );
            // A run full of error answers is not a throughput: show what the contender said about it.
            if (result.non2xx > result.ok * 0.01) {
              log(`  ${contender.id}: ${JSON.stringify(result.statusCodes)}; its last output lines:`);
              for (const child of current.children)
                for (const line of child.tail().split('\n')) log(`    ${line}`);
            }
          }
          if (paced && !crashed) {
            const result = await runPaced({
              script: scripts.paced!,
              url: current.url,
              connections: flags.pacedConnections,
              rate: flags.pacedRate,
              durationSec: flags.durationSec,
              warmupSec: pacedWarmupSec,
              authorizations,
            });
            const dead = await deadAfter(
              current,
              upstream,
              contender.id,
              round,
              flags.pacedConnections,
              'fixed-rate run',
            );
            if (dead !== null) crashes.push(dead);
            else {
              const list = pacedRuns.get(contender.id) ?? [];
              list.push({ ...result, round });
              pacedRuns.set(contender.id, list);
              log(
                `  ${contender.id.padEnd(idWidth)} ${fmtInt(flags.pacedRate)} req/s fixed, c=${flags.pacedConnections}: completed ${fmtInt(result.achievedRps)} req/s  p50 ${fmt(result.p50Ms, 2)} ms  p99 ${fmt(result.p99Ms, 2)} ms  p99.9 ${fmt(result.p999Ms, 2)} ms  errors ${result.errors}  non-2xx ${result.non2xx}  (generator late p99 ${fmt(result.sendLagP99Ms, 2)} ms)`,
              );
            }
          }
        } finally {
          await current.stop();
          current = null;
        }
        await sleep(300);
      }
    }

    const summaries = summarise(selected, flags.connections, measurements, skipped, crashes);
    const table = resultsTable(summaries, flags.connections);
    const targets = targetLines(summaries, flags.connections);
    const pacedSummary = pacedSummaries(selected, pacedRuns);
    const pacedText =
      pacedSummary.length === 0
        ? ''
        : `Latency at a fixed ${fmtInt(flags.pacedRate)} req/s over ${flags.pacedConnections} connections (open loop, medians over rounds; "added" is per round against direct, then the median):\n\n${pacedTable(pacedSummary)}`;
    targets.push(...pacedTargetLines(pacedSummary));
    const crashText = crashReport(crashes);
    log('');
    log(table);
    if (pacedText !== '') log(`\n${pacedText}`);
    if (crashText !== '') log(`\n${crashText}`);
    log('');
    for (const t of targets) log(`- ${t}`);

    // The per-stage cost, when the run has the variants to compute it from.
    let costs: StageCost[] | null = null;
    let budget: { connections: number; rows: ReturnType<typeof budgetRows> } | null = null;
    if (flags.stages || selected.some((c) => STAGE_VARIANTS.some((v) => v.id === c.id))) {
      costs = stageCosts(measurements, flags.connections);
      const budgetAt = flags.connections[0]!;
      const reference = summaries.find((x) => x.id === REFERENCE && x.connections === budgetAt);
      budget = {
        connections: budgetAt,
        rows: budgetRows(costs, budgetAt, reference?.cpuUsPerRequest.contender ?? Number.NaN),
      };
      log('');
      log(
        'Per-stage CPU cost (µs per request; a stage = the gateway with it − without it, per round, median):',
      );
      log('');
      log(stageTable(costs));
      log('');
      log(budgetTable(budget.rows, budgetAt, startedAt.toISOString().slice(0, 10)));
    }

    let micro: MicroResult | null = null;
    if (flags.micro) {
      // The contenders are stopped; only the upstream is left, and it is idle.
      await stopChild(upstream);
      log('\nmicro-benchmarks');
      micro = await runMicro({ bundle, redisUrl: ctx.redisUrl });
      log('');
      log(microMarkdown(micro));
    }

    const loadavgAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
    const file = join(flags.resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    await mkdir(flags.resultsDir, { recursive: true });
    await writeFile(
      file,
      `${JSON.stringify(
        {
          startedAt: startedAt.toISOString(),
          finishedAt: new Date().toISOString(),
          machine: { ...machine, loadavgAtEnd },
          command,
          loadGenerator: 'autocannon 8 (programmatic API)',
          load,
          path: PATH,
          service: SERVICE,
          options: flags,
          pinning: pins,
          policyBundle: bundle?.origin ?? null,
          cpuSampling: {
            clockTicksPerSecond: hz,
            upstreamPid: upstream.pid,
            redis: redisProcess,
            loadGenerator: 'the orchestrator process (process.cpuUsage())',
          },
          contenders: selected.map((c) => ({ id: c.id, label: c.label, description: c.description })),
          summaries,
          paced: { summaries: pacedSummary, runs: Object.fromEntries(pacedRuns) },
          crashes,
          targets,
          stageCosts: costs,
          budget,
          measurements: Object.fromEntries(measurements),
          micro,
        },
        null,
        2,
      )}\n`,
    );
    log(`\nresults: ${file}`);

    if (flags.readme && flags.stages && costs !== null && budget !== null) {
      // A per-stage run rewrites the budget (its contenders are not the comparison of "Latest results").
      const when = startedAt.toISOString();
      await replaceBetweenMarkers(
        join(BENCH_DIR, 'README.md'),
        'bench:budget',
        [
          `Measured ${when} on Node ${machine.node}, ${machine.cores} cores (${machine.cpu}); load average ${machine.loadavgAtStart.join(' ')} at start, ${loadavgAtEnd.join(' ')} at the end.`,
          `Command: \`${command}\` (${flags.rounds} rounds, ${flags.warmupSec} s warm-up + ${flags.durationSec} s measured per contender and connection count).`,
          '',
          budgetTable(budget.rows, budget.connections, `\`--stages\` ${when.slice(0, 10)}`),
          '',
          'Per stage and connection count (gateway process, its main thread, and Redis):',
          '',
          stageTable(costs),
          '',
          'The runs behind it:',
          '',
          table,
          ...(crashText === '' ? [] : ['', crashText]),
        ].join('\n'),
      );
    }
    if (flags.readme && !flags.stages) {
      const header = [
        `Measured ${startedAt.toISOString()} on Node ${machine.node}, ${machine.cores} cores (${machine.cpu}), ${machine.platform}; load average ${machine.loadavgAtStart.join(' ')} at start, ${loadavgAtEnd.join(' ')} at the end (1/5/15 min; anything well above 1 means other work shared the cores).`,
        `Command: \`${command}\` (${flags.rounds} rounds, ${flags.warmupSec} s warm-up + ${flags.durationSec} s measured per contender and connection count; nginx worker_processes ${flags.nginxWorkers}${pins === null ? '' : `; contenders pinned to cpu ${pins.contender}, the load generators and the upstream to cpu ${pins.rest}`}).`,
        `Load: \`${load}\``,
      ].join('\n');
      const legend = selected.map((c) => `- **${c.label}** (\`${c.id}\`): ${c.description}`).join('\n');
      await replaceBetweenMarkers(
        join(BENCH_DIR, 'README.md'),
        'bench:results',
        `${header}\n\n${table}${pacedText === '' ? '' : `\n\n${pacedText}`}${crashText === '' ? '' : `\n\n${crashText}`}\n\nWhere we stand:\n\n${targets.map((t) => `- ${t}`).join('\n')}\n\nContenders:\n\n${legend}`,
      );
    }
    if (flags.readme && micro !== null) {
      await replaceBetweenMarkers(
        join(BENCH_DIR, 'README.md'),
        'bench:micro',
        `Measured ${new Date().toISOString()} on Node ${machine.node}, ${machine.cores} cores (${machine.cpu}), as part of \`${command}\`.\n\n${microMarkdown(micro)}`,
      );
    }
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

/**
 * The contender's state after a load run; a Crash when it is dead. A dead upstream ends the whole run:
 * every contender behind it would look dead, and none of them would be at fault.
 */
async function deadAfter(
  running: Running,
  upstream: Child,
  id: string,
  round: number,
  connections: number,
  phase: Crash['phase'],
): Promise<Crash | null> {
  const up = await checkLiveness([upstream], { probeUrl: null });
  if (!up.alive) throw new Error(`the bench upstream died (${up.summary}):\n${up.tail}`);
  const state = await checkLiveness(running.children, { probeUrl: running.probeUrl });
  if (state.alive) return null;
  const crash = crashOf(id, round, connections, phase, state);
  log(`  ${id.padEnd(16)} c=${String(connections).padEnd(4)} CRASHED after the ${phase}: ${state.summary}`);
  for (const line of lastLines(state.tail, 5)) log(`    | ${line}`);
  return crash;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

// The bench notices a dead contender: a real child process that dies (by exit code, by signal) or stops
// answering is reported as such by the liveness check, and a contender whose binary is missing is
// skipped with how to install it instead of the whole bench dying on an unhandled spawn ENOENT.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BASELINE, type BenchContext, CONTENDERS } from '../../bench/lib/contenders.js';
import { checkLiveness } from '../../bench/lib/liveness.js';
import { type Child, firstJsonLine, spawnChild, stopChild } from '../../bench/lib/proc.js';

const REPO = new URL('../..', import.meta.url).pathname;

// A contender stand-in: answers every request, and exits with code 3 (after saying why) on GET /die.
const SERVER = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  if (req.url === '/die') {
    console.error('fatal: the contender hit a bug and exits');
    process.exit(3);
  }
  res.end('ok');
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

describe('bench liveness', () => {
  let dir = '';
  let script = '';
  const started: Child[] = [];

  async function startServer(): Promise<{ child: Child; url: string }> {
    const child = spawnChild('stand-in', process.execPath, [script]);
    started.push(child);
    const { port } = await firstJsonLine<{ port: number }>(child);
    return { child, url: `http://127.0.0.1:${port}` };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acgs-bench-test-'));
    script = join(dir, 'server.mjs');
    await writeFile(script, SERVER);
  });
  after(async () => {
    for (const child of started) {
      if (child.proc.signalCode === 'SIGSTOP' || child.proc.exitCode === null) child.proc.kill('SIGCONT');
      await stopChild(child, 500);
    }
    await rm(dir, { recursive: true, force: true });
  });

  test('a running process that answers is alive', async () => {
    const { child, url } = await startServer();
    assert.deepEqual(await checkLiveness([child], { probeUrl: `${url}/api/ac/ready` }), { alive: true });
  });

  test('a process that exits is reported with its exit code and its last output lines', async () => {
    const { child, url } = await startServer();
    await fetch(`${url}/die`).catch(() => {}); // the connection dies with the process
    const state = await checkLiveness([child], { probeUrl: `${url}/api/ac/ready` });
    assert.equal(state.alive, false);
    if (state.alive) return;
    assert.equal(state.reason, 'exited');
    assert.equal(state.exitCode, 3);
    assert.equal(state.signal, null);
    assert.equal(state.summary, 'stand-in exited with code 3');
    assert.match(state.tail, /fatal: the contender hit a bug and exits/);
  });

  test('a process killed by a signal is reported with the signal', async () => {
    const { child, url } = await startServer();
    const gone = new Promise((resolve) => child.proc.once('exit', resolve));
    child.proc.kill('SIGKILL');
    await gone;
    const state = await checkLiveness([child], { probeUrl: `${url}/` });
    assert.equal(state.alive, false);
    if (state.alive) return;
    assert.equal(state.signal, 'SIGKILL');
    assert.equal(state.summary, 'stand-in killed by SIGKILL');
  });

  test('a process that still runs but no longer answers is unresponsive', async () => {
    const { child, url } = await startServer();
    child.proc.kill('SIGSTOP');
    try {
      const state = await checkLiveness([child], { probeUrl: `${url}/api/ac/ready`, timeoutMs: 300 });
      assert.equal(state.alive, false);
      if (state.alive) return;
      assert.equal(state.reason, 'unresponsive');
      assert.match(state.summary, /no answer to GET \/api\/ac\/ready \(no answer within 300 ms\)/);
    } finally {
      child.proc.kill('SIGCONT');
    }
  });

  test('a dead back end behind a live front is found (every process of the contender is checked)', async () => {
    const front = await startServer();
    const back = await startServer();
    const gone = new Promise((resolve) => back.child.proc.once('exit', resolve));
    await fetch(`${back.url}/die`).catch(() => {});
    await gone; // in a bench run the load lasts seconds: a crash during it has long been reported
    const state = await checkLiveness([front.child, back.child], { probeUrl: `${front.url}/` });
    assert.equal(state.alive, false);
    if (!state.alive) assert.equal(state.exitCode, 3);
  });
});

/** Runs `bench/run.ts` with these flags and extra environment; resolves with its exit code and output. */
async function runBench(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out };
}

describe('bench with a contender that crashes under load', () => {
  // The gateway contender runs the compiled dist/ (the bench builds it; this test does not, to stay quick).
  const built = existsSync(join(REPO, 'dist', 'cli', 'main.js'));
  test('the run reports CRASHED with the exit code and the last lines, not a throughput', {
    skip: built ? false : 'dist/ is not built (npm run build)',
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acgs-bench-crash-'));
    try {
      // A fault injected into the real gateway process: it exits with code 7 at its 200th request,
      // i.e. under load, whatever the speed of the machine.
      const fault = join(dir, 'fault.mjs');
      await writeFile(
        fault,
        [
          "import http from 'node:http';",
          'let n = 0;',
          'const emit = http.Server.prototype.emit;',
          'http.Server.prototype.emit = function (event, ...args) {',
          "  if (event === 'request' && ++n === 200) {",
          "    console.error('injected fault: exiting');",
          '    process.exit(7);',
          '  }',
          '  return emit.call(this, event, ...args);',
          '};',
        ].join('\n'),
      );
      const results = join(dir, 'results');
      const { code, out } = await runBench(
        [
          '--only',
          'direct,gateway-minimal',
          '--rounds',
          '1',
          '--duration',
          '3',
          '--warmup',
          '1',
          '--connections',
          '20',
          '--no-build',
          '--no-micro',
          '--no-readme',
          '--results',
          results,
        ],
        { BENCH_GATEWAY_NODE_ARGS: `--import ${fault}` },
      );
      assert.equal(code, 0, out);
      assert.match(out, /\| acgs-gateway minimal \| 20 \| CRASHED \(gateway-minimal exited with code 7\)/);
      assert.match(
        out,
        /- \*\*gateway-minimal\*\* CRASHED[^\n]*exited with code 7\n[\s\S]*injected fault: exiting/,
      );
      const [file] = await readdir(results);
      const report = JSON.parse(await readFile(join(results, file!), 'utf8'));
      const rows = report.summaries.filter((s: { id: string }) => s.id === 'gateway-minimal');
      assert.deepEqual(
        rows.map((r: { status: string }) => r.status),
        ['crashed'],
      );
      assert.equal(report.crashes[0].exitCode, 7);
      assert.equal(
        report.measurements['gateway-minimal@20'],
        undefined,
        'the crashed run is not a measurement',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bench with a missing tool', () => {
  test('spawning a binary that does not exist throws an ordinary error, not an unhandled ENOENT event', async () => {
    assert.throws(
      () => spawnChild('nginx', '/nonexistent/sbin/nginx', ['-v']),
      /nginx: cannot run \/nonexistent\/sbin\/nginx: no such file \(ENOENT\)/,
    );
    // An unhandled 'error' event would crash this process on the next tick; give it the chance.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  test('the nginx contenders say how to install nginx when its binary is missing', () => {
    const ctx = { nginxBin: '/nonexistent/sbin/nginx' } as BenchContext;
    for (const id of ['nginx', 'nginx-opa']) {
      const contender = CONTENDERS.find((c) => c.id === id)!;
      assert.match(
        contender.missingTool?.(ctx) ?? '',
        /nginx not found at \/nonexistent\/sbin\/nginx .*apt-get install nginx/,
      );
    }
    assert.equal(CONTENDERS.find((c) => c.id === 'fastify-proxy')!.missingTool, undefined);
  });

  test('the A/B baseline says what to set up until BENCH_BASELINE_ROOT holds a built checkout', async () => {
    const ctx = {} as BenchContext;
    const saved = process.env.BENCH_BASELINE_ROOT;
    const dir = await mkdtemp(join(tmpdir(), 'acgs-baseline-'));
    try {
      delete process.env.BENCH_BASELINE_ROOT;
      assert.match(BASELINE.missingTool!(ctx) ?? '', /set BENCH_BASELINE_ROOT to a checkout .*npm run build/);
      process.env.BENCH_BASELINE_ROOT = dir;
      assert.match(BASELINE.missingTool!(ctx) ?? '', /node_modules is missing: run `npm ci` in /);
      await mkdir(join(dir, 'node_modules'));
      assert.match(BASELINE.missingTool!(ctx) ?? '', /dist is missing: run `npm run build` in /);
      await mkdir(join(dir, 'dist'));
      assert.equal(BASELINE.missingTool!(ctx), null);
    } finally {
      if (saved === undefined) delete process.env.BENCH_BASELINE_ROOT;
      else process.env.BENCH_BASELINE_ROOT = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('npm run bench with BENCH_NGINX_BIN pointing nowhere skips nginx, measures the rest, exits 0', async () => {
    const results = await mkdtemp(join(tmpdir(), 'acgs-bench-results-'));
    try {
      const { code, out } = await runBench(
        [
          '--only',
          'direct,nginx',
          '--rounds',
          '1',
          '--duration',
          '1',
          '--warmup',
          '0',
          '--connections',
          '4',
          '--no-build',
          '--no-micro',
          '--no-readme',
          '--results',
          results,
        ],
        { BENCH_NGINX_BIN: '/nonexistent/sbin/nginx' },
      );
      assert.equal(code, 0, out);
      assert.match(
        out,
        /skipping nginx: skipped: nginx not found at \/nonexistent\/sbin\/nginx .*apt-get install nginx/,
      );
      assert.doesNotMatch(out, /ENOENT\n\s+at |Unhandled 'error' event/);
      assert.match(out, /\| direct \(ceiling\) \| 4 \| [\d,]+ \|/);
      assert.match(out, /\| nginx \| 4 \| skipped: nginx not found/);
      const [file] = await readdir(results);
      const report = JSON.parse(await readFile(join(results, file!), 'utf8'));
      const nginx = report.summaries.find((s: { id: string }) => s.id === 'nginx');
      assert.equal(nginx.status, 'skipped');
      assert.deepEqual(report.crashes, []);
    } finally {
      await rm(results, { recursive: true, force: true });
    }
  });
});

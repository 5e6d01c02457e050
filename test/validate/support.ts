// What the validate end-to-end test deploys: policy bundles built by the real opa, real Prometheus and
// Alertmanager processes, and `acgs-gateway validate` run as a child process the way `pipeline` runs it.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidationReport } from '../../release/contracts.js';
import { findBinary } from '../deploy/helpers.js';
import { ADMIN_TOKEN } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export { buildPolicyBundle as buildBundle } from '../helpers/bundle.js';

/** A copy of policies/ with the first SQL injection pattern (quote, boolean operator, comparison) deleted. */
/**
 * The shipped screening ruleset without the rules that catch the quote-boolean SQL injection
 * (`' OR '1'='1`), as an operator's bad upload would leave it (JSON for PUT /admin/screening/rules).
 */
export function rulesetWithoutQuoteBooleanSqli(): string {
  const ruleset = JSON.parse(readFileSync(join(ROOT, 'policies', 'screening-rules.json'), 'utf8')) as {
    rules: { id: string }[];
  };
  const drop = ['sqli-libinjection', 'sqli-quote-boolean'];
  const kept = ruleset.rules.filter((r) => !drop.includes(r.id));
  if (kept.length !== ruleset.rules.length - drop.length)
    throw new Error(`the ruleset no longer has the rules ${drop.join(', ')} the test removes`);
  return JSON.stringify({ ...ruleset, rules: kept });
}

export interface Daemon {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function daemon(bin: string, args: string[], url: string, log: string[]): Daemon {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c) => log.push(String(c)));
  child.stderr!.on('data', (c) => log.push(String(c)));
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export const PROMETHEUS = findBinary('prometheus');
export const ALERTMANAGER = findBinary('prometheus-alertmanager') ?? findBinary('alertmanager');

/** Prometheus scraping the replicas' admin planes every second, with the project's alert rules. */
export async function startPrometheus(dir: string, adminUrls: readonly string[]): Promise<Daemon> {
  const home = join(dir, 'prometheus');
  mkdirSync(home, { recursive: true });
  cpSync(join(ROOT, 'docker/prometheus/alerts.yml'), join(home, 'alerts.yml'));
  writeFileSync(join(home, 'token'), ADMIN_TOKEN);
  const targets = adminUrls.map((u) => `'${new URL(u).host}'`).join(', ');
  writeFileSync(
    join(home, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [alerts.yml]
scrape_configs:
  - job_name: acgs-gateway
    authorization: { type: Bearer, credentials_file: ${join(home, 'token')} }
    static_configs: [{ targets: [${targets}] }]
`,
  );
  const port = await freePort();
  const log: string[] = [];
  const d = daemon(
    PROMETHEUS!,
    [
      `--config.file=${join(home, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(home, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    `http://127.0.0.1:${port}`,
    log,
  );
  await waitFor(
    'Prometheus scraping every replica',
    async () => {
      const res = await fetch(`${d.url}/api/v1/targets`);
      const body = (await res.json()) as { data: { activeTargets: { health: string }[] } };
      const up = body.data.activeTargets.filter((t) => t.health === 'up').length;
      return up === adminUrls.length;
    },
    20_000,
    200,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${log.join('')}`);
  });
  return d;
}

export async function startAlertmanager(dir: string): Promise<Daemon> {
  const home = join(dir, 'alertmanager');
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, 'alertmanager.yml'),
    'route: { receiver: release-team }\nreceivers:\n  - name: release-team\n',
  );
  const port = await freePort();
  const log: string[] = [];
  const d = daemon(
    ALERTMANAGER!,
    [
      `--config.file=${join(home, 'alertmanager.yml')}`,
      `--storage.path=${join(home, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    `http://127.0.0.1:${port}`,
    log,
  );
  await waitFor('Alertmanager ready', async () => (await fetch(`${d.url}/-/ready`)).ok, 20_000, 200).catch(
    (error: Error) => {
      throw new Error(`${error.message}\n${log.join('')}`);
    },
  );
  return d;
}

export interface ValidateRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: ValidationReport | null;
  readonly junit: string | null;
}

let runs = 0;

/** `acgs-gateway validate ARGS --report R --junit J` as a child process. */
export function runValidate(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  /** Sends SIGINT (Ctrl-C) once the output so far satisfies this. */
  interruptWhen?: (stdout: string) => boolean,
): Promise<ValidateRun> {
  const n = ++runs;
  const reportFile = join(dir, `report-${n}.json`);
  const junitFile = join(dir, `junit-${n}.xml`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', 'validate', ...args, '--report', reportFile, '--junit', junitFile],
    { cwd: ROOT, env: { ...process.env, ADMIN_TOKEN, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  const poll = interruptWhen
    ? setInterval(() => {
        if (!interruptWhen(stdout)) return;
        clearInterval(poll);
        child.kill('SIGINT');
      }, 50)
    : undefined;
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      const read = (file: string) => {
        try {
          return readFileSync(file, 'utf8');
        } catch {
          return null;
        }
      };
      const report = read(reportFile);
      resolve({
        code,
        stdout,
        stderr,
        report: report === null ? null : JSON.parse(report),
        junit: read(junitFile),
      });
    });
  });
}

/** The verdicts of a run, by check name. */
export function verdicts(run: ValidateRun): Record<string, string> {
  return Object.fromEntries((run.report?.checks ?? []).map((c) => [c.name, c.verdict]));
}

export function failed(run: ValidateRun): string[] {
  return (run.report?.checks ?? []).filter((c) => c.verdict === 'fail').map((c) => c.name);
}

export function message(run: ValidateRun, name: string): string {
  return run.report?.checks.find((c) => c.name === name)?.message ?? `(no check ${name})`;
}

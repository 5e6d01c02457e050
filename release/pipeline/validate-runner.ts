import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidationReport } from '../contracts.js';
import type { Endpoints, ProgressSink, ValidateOutcome, ValidateRequest } from './types.js';

/**
 * The command that runs this same CLI: `cli/main.ts` through tsx when running from source (development,
 * tests), `dist/cli/main.js` when built. Both sit two folders up from this module.
 */
export function cliEntry(): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(`../../cli/main.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  // tsx resolved from here, not from the working directory, which may be any folder.
  return fromSource
    ? [process.execPath, '--import', import.meta.resolve('tsx'), main]
    : [process.execPath, main];
}

export interface ValidateRunnerOptions {
  /** argv prefix of the CLI (default cliEntry()); `validate …` is appended. */
  readonly command?: readonly string[];
  readonly reportDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly yes: boolean;
  readonly signal: AbortSignal;
  readonly progress: ProgressSink;
}

/** The argv of one validate run (without the CLI prefix); shown by --dry-run too. */
export function validateArgs(
  request: ValidateRequest,
  endpoints: Endpoints,
  reportFile: string,
  yes: boolean,
) {
  const args = ['validate', '--environment', request.environment];
  if (endpoints.target) args.push('--target', endpoints.target);
  if (endpoints.adminUrls.length > 0) args.push('--admin-url', endpoints.adminUrls.join(','));
  if (endpoints.replicas.length > 0) args.push('--replicas', endpoints.replicas.join(','));
  if (endpoints.prometheus) args.push('--prometheus', endpoints.prometheus);
  if (endpoints.alertmanager) args.push('--alertmanager', endpoints.alertmanager);
  if (request.only && request.only.length > 0) args.push('--only', request.only.join(','));
  args.push(...(request.extraArgs ?? []));
  args.push('--report', reportFile);
  if (yes) args.push('--yes');
  return args;
}

const STOP_GRACE_MS = 15_000;
// Terminal escapes (colours, line clears) a child may print even into a pipe.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/** Runs validate as a child process; Ctrl-C is passed on (SIGINT) so it writes its partial report. */
export async function runValidate(
  request: ValidateRequest,
  endpoints: Endpoints,
  o: ValidateRunnerOptions,
): Promise<ValidateOutcome> {
  await mkdir(o.reportDir, { recursive: true });
  const reportFile = join(o.reportDir, `${request.name}.json`);
  const [bin, ...prefix] = o.command ?? cliEntry();
  const argv = [...prefix, ...validateArgs(request, endpoints, reportFile, o.yes)];
  const env = { ...o.env };
  if (endpoints.adminToken) env.ADMIN_TOKEN = endpoints.adminToken;
  // Its own process group: a terminal's Ctrl-C reaches only the pipeline, which passes exactly one SIGINT
  // on. validate takes a second SIGINT as "leave now" and would die without writing its partial report.
  const child = spawn(bin!, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000);
  };
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    keep(chunk);
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    // The child's last complete line is the step's own progress (validate prints one line per check).
    const last = lines
      .map((l) => l.replace(ANSI, '').trim())
      .filter(Boolean)
      .at(-1);
    if (last) o.progress(last);
  });
  child.stderr.on('data', keep);
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
  const onAbort = () => {
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  };
  if (o.signal.aborted) onAbort();
  else o.signal.addEventListener('abort', onAbort, { once: true });
  let exitCode: number;
  try {
    exitCode = await exited;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
  }
  let report: ValidationReport | null = null;
  try {
    const parsed = JSON.parse(await readFile(reportFile, 'utf8')) as ValidationReport;
    if (parsed?.schema === 'acgs.validate/v1' && Array.isArray(parsed.checks)) report = parsed;
  } catch {
    // No report (usage error, crash): the outcome says so through report: null and the output tail.
  }
  return { exitCode, report, reportFile, output: tail, argv: [bin!, ...argv] };
}

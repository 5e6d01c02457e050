import { parseArgs } from 'node:util';
import { request } from 'undici';
import { parseDuration } from '../core/duration.js';

// `acgs-gateway rollout …` and the admin-plane HTTP helper `weights` shares.
// Exit codes: 0 done; 1 the admin API refused or failed; 2 bad usage; 3 admin plane unreachable;
// 4 `status --watch` saw the rollout end rolled back or aborted.

export const EXIT = Object.freeze({ OK: 0, REFUSED: 1, USAGE: 2, UNREACHABLE: 3, NOT_PROMOTED: 4 });

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
  /** Resolves after ms, or early when the command should stop (Ctrl-C). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultIo = (): CliIo => ({ env: process.env, stdout: process.stdout, stderr: process.stderr });

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901';

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** One admin API call; answers non-2xx with an AdminError carrying the API's error code and message. */
export async function adminRequest(
  adminUrl: string,
  token: string | undefined,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await request(new URL(path, adminUrl), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await response.body.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): reported below with the status.
  }
  if (response.statusCode >= 200 && response.statusCode < 300) return json;
  const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
  throw new AdminError(
    response.statusCode,
    error?.code ?? 'http_error',
    error?.message ?? `HTTP ${response.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`,
  );
}

/** Prints an admin-call failure and returns its exit code. */
export function reportFailure(error: unknown, io: CliIo): number {
  if (error instanceof AdminError) {
    io.stderr.write(`error: ${error.message} (${error.status} ${error.code})\n`);
    return EXIT.REFUSED;
  }
  io.stderr.write(`error: cannot reach the admin plane: ${(error as Error).message}\n`);
  return EXIT.UNREACHABLE;
}

const HELP: Record<string, string> = {
  main: `Usage: acgs-gateway rollout <command> SERVICE [options]

Progressive rollouts of the non-stable colour, through the admin API.

Commands:
  start SERVICE     start a rollout (409 if one is running)
  status SERVICE    show a rollout; --watch redraws it live
  pause SERVICE     hold the current step
  resume SERVICE    continue a paused rollout (the step's interval restarts)
  promote SERVICE   make the candidate stable at 100 % now
  abort SERVICE     send the candidate's traffic back to the stable colour

Common options:
  --admin-url URL   admin plane (default ${DEFAULT_ADMIN_URL}); the token is read from ADMIN_TOKEN
  -h, --help        help for a command

Exit codes: 0 ok, 1 refused by the API, 2 bad usage, 3 admin plane unreachable,
            4 (status --watch) the rollout ended rolled back or aborted.
`,
  start: `Usage: acgs-gateway rollout start SERVICE [options]

Options (each defaults to the gateway's configured rollout defaults):
  --steps LIST            candidate weights in %, increasing, ending at 100 (e.g. 10,25,50,100)
  --interval DURATION     how long each step is held before analysis (e.g. 30s, 2m, 500ms; >= 1s)
  --max-error-rate RATE   highest passing error rate, 0..1 (e.g. 0.01)
  --max-p99 MS            highest passing p99 latency in ms
  --max-p99-ratio N       candidate p99 at most N × the stable colour's p99
  --min-requests N        fewer requests in an interval make the analysis inconclusive
  --failure-limit N       consecutive failed analyses that roll back
  --max-inconclusive N    consecutive inconclusive analyses held before the rollout pauses
  --reason TEXT           recorded in the history and the audit log
  --admin-url URL
`,
  status: `Usage: acgs-gateway rollout status SERVICE [--watch] [--refresh DURATION] [--json]

  --watch             redraw every second until the rollout ends (Ctrl-C to leave)
  --refresh DURATION  redraw period for --watch (default 1s)
  --json              print the API's JSON
  --admin-url URL
`,
  action: `Usage: acgs-gateway rollout {pause|resume|promote|abort} SERVICE [--reason TEXT]

  --reason TEXT   recorded in the history and the audit log
  --admin-url URL
`,
};

const COMMANDS = ['start', 'status', 'pause', 'resume', 'promote', 'abort'] as const;
type Command = (typeof COMMANDS)[number];

const commonOptions = {
  'admin-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const optionsFor = {
  start: {
    ...commonOptions,
    steps: { type: 'string' },
    interval: { type: 'string' },
    'max-error-rate': { type: 'string' },
    'max-p99': { type: 'string' },
    'max-p99-ratio': { type: 'string' },
    'min-requests': { type: 'string' },
    'failure-limit': { type: 'string' },
    'max-inconclusive': { type: 'string' },
    reason: { type: 'string' },
  },
  status: {
    ...commonOptions,
    watch: { type: 'boolean' },
    refresh: { type: 'string' },
    json: { type: 'boolean' },
  },
  action: { ...commonOptions, reason: { type: 'string' } },
} as const;

class UsageError extends Error {}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number`);
  return n;
}

/** The configuration's duration syntax ('500ms', '30s', '2m'); a bare number is milliseconds. */
function durationMs(value: string, name: string): number {
  const ms = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : parseDuration(value);
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be a duration like 500ms, 30s or 2m`);
  return ms;
}

/** The start body: only what was given, so the server's defaults fill the rest. */
function startBody(values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const str = (name: string) => values[name] as string | undefined;
  const body: Record<string, unknown> = {};
  const steps = str('steps');
  if (steps !== undefined) {
    body.steps = steps.split(',').map((step) => {
      const n = Number(step.trim());
      if (step.trim() === '' || !Number.isFinite(n))
        throw new UsageError('--steps must be numbers, e.g. 10,25,50,100');
      return n;
    });
  }
  if (str('interval') !== undefined) body.interval = str('interval');
  const thresholds: Record<string, number> = {};
  const set = (key: string, option: string) => {
    const n = numberOption(str(option), option);
    if (n !== undefined) thresholds[key] = n;
  };
  set('maxErrorRate', 'max-error-rate');
  set('maxP99Ms', 'max-p99');
  set('maxP99Ratio', 'max-p99-ratio');
  set('minRequests', 'min-requests');
  if (Object.keys(thresholds).length > 0) body.thresholds = thresholds;
  const failureLimit = numberOption(str('failure-limit'), 'failure-limit');
  if (failureLimit !== undefined) body.failureLimit = failureLimit;
  const maxInconclusive = numberOption(str('max-inconclusive'), 'max-inconclusive');
  if (maxInconclusive !== undefined) body.maxInconclusive = maxInconclusive;
  if (str('reason') !== undefined) body.reason = str('reason');
  return body;
}

export async function runRolloutCommand(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout).write(HELP.main!);
    return command === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (!COMMANDS.includes(command as Command)) {
    io.stderr.write(`error: unknown rollout command '${command}'\n\n${HELP.main}`);
    return EXIT.USAGE;
  }
  const kind = command === 'start' || command === 'status' ? command : 'action';
  const help = HELP[kind]!;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options: optionsFor[kind], allowPositionals: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n\n${help}`);
    return EXIT.USAGE;
  }
  if (values.help) {
    io.stdout.write(help);
    return EXIT.OK;
  }
  if (positionals.length !== 1) {
    io.stderr.write(`error: expected exactly one SERVICE\n\n${help}`);
    return EXIT.USAGE;
  }
  const service = positionals[0]!;
  const adminUrl = (values['admin-url'] as string | undefined) ?? DEFAULT_ADMIN_URL;
  const token = io.env.ADMIN_TOKEN;
  const path = `/admin/services/${encodeURIComponent(service)}/rollout`;
  try {
    if (command === 'status') {
      const refreshMs = values.refresh === undefined ? 1000 : durationMs(values.refresh as string, 'refresh');
      if (values.watch) return await watch(adminUrl, token, path, Math.max(100, refreshMs), io);
      const status = (await adminRequest(adminUrl, token, 'GET', path)) as StatusView;
      io.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : render(status, Date.now()));
      return EXIT.OK;
    }
    const body =
      command === 'start' ? startBody(values) : values.reason === undefined ? {} : { reason: values.reason };
    const status = (await adminRequest(
      adminUrl,
      token,
      'POST',
      command === 'start' ? path : `${path}/${command}`,
      body,
    )) as StatusView;
    io.stdout.write(render(status, Date.now()));
    return EXIT.OK;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n\n${help}`);
      return EXIT.USAGE;
    }
    return reportFailure(error, io);
  }
}

async function watch(
  adminUrl: string,
  token: string | undefined,
  path: string,
  refreshMs: number,
  io: CliIo,
) {
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.once('SIGINT', onSigint);
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  try {
    for (;;) {
      const status = (await adminRequest(adminUrl, token, 'GET', path)) as StatusView;
      // Clear the screen only on a terminal, so a piped watch stays a readable log.
      io.stdout.write((io.stdout.isTTY ? '\x1b[2J\x1b[H' : '') + render(status, Date.now()));
      if (!status.active)
        return status.state === 'rolled_back' || status.state === 'aborted' ? EXIT.NOT_PROMOTED : EXIT.OK;
      if (stop) return EXIT.OK;
      await sleep(refreshMs);
      if (stop) return EXIT.OK;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** The fields of the status JSON (rollout/manager.ts RolloutStatus) the views use. */
interface WindowView {
  requests: number;
  errors: number;
  errorRate: number;
  rps: number;
  p99Ms: number;
}
interface StatusView {
  service: string;
  state: string;
  active: boolean;
  candidate: string;
  stable: string;
  weights: { green: number; stable: string };
  weight: number;
  steps: number[];
  step: number;
  reason: string | null;
  nextAnalysisInMs: number | null;
  analyses: { at: number; outcome: string; weight: number; reasons: string[]; candidate: WindowView }[];
  history: { at: number; from: string; to: string; actor: string; reason: string; weight: number }[];
  windows: { seconds: number; candidate: WindowView; stable: WindowView };
}

const BAR_WIDTH = 40;

/** A bar filled to the candidate's weight, with a tick under every step. */
export function progressBar(steps: readonly number[], weight: number, width = BAR_WIDTH): string {
  const filled = Math.round((Math.max(0, Math.min(100, weight)) / 100) * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const marks = Array.from({ length: width }, () => ' ');
  for (const step of steps) marks[Math.max(0, Math.round((step / 100) * width) - 1)] = '^';
  return `[${bar}] ${String(weight).padStart(3)}%\n ${marks.join('')}`;
}

const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;
const seconds = (ms: number) =>
  ms >= 60_000
    ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`
    : `${Math.ceil(ms / 1000)}s`;

export function render(s: StatusView, now: number): string {
  const lines: string[] = [];
  lines.push(`${s.service}: ${s.state}  (candidate ${s.candidate}, stable ${s.stable})`);
  if (s.state === 'idle') {
    lines.push(`  no rollout yet; split green ${s.weights.green}% / blue ${100 - s.weights.green}%`);
  } else {
    const stepList = s.steps.map((w, i) => (i + 1 === s.step && s.active ? `[${w}]` : String(w))).join(' → ');
    lines.push(`  steps    ${stepList}${s.active ? `   (step ${s.step}/${s.steps.length})` : ''}`);
    lines.push(`  ${s.candidate.padEnd(6)}  ${progressBar(s.steps, s.weight).replace('\n', '\n          ')}`);
    if (s.nextAnalysisInMs !== null) lines.push(`  next analysis in ${seconds(s.nextAnalysisInMs)}`);
    if (s.reason) lines.push(`  reason   ${s.reason}`);
  }
  lines.push(`  last ${s.windows.seconds}s      req/s    errors      p99`);
  for (const [color, w] of [
    [s.candidate, s.windows.candidate],
    [s.stable, s.windows.stable],
  ] as const) {
    lines.push(
      `  ${color.padEnd(12)} ${w.rps.toFixed(1).padStart(7)}  ${pct(w.errorRate).padStart(8)}  ${`${w.p99Ms.toFixed(1)} ms`.padStart(9)}`,
    );
  }
  const last = s.analyses[0];
  if (last) {
    const ago = seconds(Math.max(0, now - last.at));
    lines.push(
      `  last analysis ${last.outcome} at ${last.weight}% (${ago} ago)${last.reasons.length ? `: ${last.reasons.join('; ')}` : ''}`,
    );
  }
  const recent = s.history.slice(-5);
  if (recent.length > 0) lines.push('  history');
  for (const t of recent) {
    lines.push(
      `    ${new Date(t.at).toISOString()}  ${t.from} → ${t.to} at ${t.weight}% by ${t.actor}: ${t.reason}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

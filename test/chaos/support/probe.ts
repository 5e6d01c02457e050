// What the chaos tests observe of a running gateway process from the outside: its Prometheus counters,
// its open file descriptors and resident memory, and what it wrote to its log.
import { readdir, readFile } from 'node:fs/promises';
import { ADMIN_AUTH } from '../../helpers/gateway.js';

/** Log lines that mean an error escaped every handler. */
export const FATAL_LOG_PATTERNS = [
  /uncaughtException/i,
  /unhandledRejection/i,
  /Unhandled 'error' event/,
  /unexpected error/i,
] as const;

/** The lines of `output` that match a fatal pattern (empty when the log is clean). */
export function fatalLines(output: string): string[] {
  return output.split('\n').filter((line) => FATAL_LOG_PATTERNS.some((p) => p.test(line)));
}

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export class Metrics {
  constructor(readonly samples: Sample[]) {}

  static async scrape(adminUrl: string): Promise<Metrics> {
    const res = await fetch(`${adminUrl}/metrics`, { headers: ADMIN_AUTH });
    if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
    return new Metrics(parseMetrics(await res.text()));
  }

  /** Sum of every series of `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const s of this.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
    return total;
  }

  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }
}

/** Open file descriptors and resident memory of a process, read from /proc. */
export async function processStats(pid: number): Promise<{ fds: number; rssKiB: number }> {
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return { fds, rssKiB };
}

/** Whether /healthz answers 200 within `timeoutMs`. */
export async function healthy(dataUrl: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${dataUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Fails with the count and the first offending line (not the whole log) when an error escaped. */
export function assertCleanLog(output: string, hint = ''): void {
  const bad = fatalLines(output);
  if (bad.length > 0)
    throw new Error(
      `${hint} ${bad.length} log line(s) of an escaped error; the first: ${bad[0]!.slice(0, 800)}`,
    );
}

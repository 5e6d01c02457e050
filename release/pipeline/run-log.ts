import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// One JSON line per event in var/pipeline/<run-id>.jsonl; the run's validate reports in
// var/pipeline/<run-id>/. The file is the history: `pipeline history` reads nothing else.

export type RunEvent =
  | {
      event: 'run_start';
      runId: string;
      environment: string;
      steps: string[];
      options: Record<string, unknown>;
    }
  | { event: 'step_start'; step: string }
  | {
      event: 'step_end';
      step: string;
      verdict: 'pass' | 'fail';
      start: string;
      end: string;
      durationMs: number;
      summary: string;
      measurements: Record<string, unknown>;
      fix?: readonly string[];
      reports?: readonly string[];
    }
  | { event: 'note'; step: string | null; text: string }
  | { event: 'interrupted'; step: string | null; text: string }
  | {
      event: 'run_end';
      outcome: RunOutcome;
      durationMs: number;
      failedStep: string | null;
      resume: string | null;
    };

export type RunOutcome = 'passed' | 'failed' | 'interrupted' | 'dry_run';

/** Sortable by time to the millisecond, unique with the random tail: 20260101T101500.123Z-3fa9c1. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export class RunLog {
  readonly file: string;
  readonly reportDir: string;
  readonly #out: WriteStream;

  private constructor(
    readonly dir: string,
    readonly runId: string,
  ) {
    this.file = join(dir, `${runId}.jsonl`);
    this.reportDir = join(dir, runId);
    this.#out = createWriteStream(this.file, { flags: 'a', mode: 0o644 });
  }

  static async open(dir: string, runId = newRunId()): Promise<RunLog> {
    await mkdir(dir, { recursive: true });
    return new RunLog(dir, runId);
  }

  write(event: RunEvent): void {
    this.#out.write(`${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#out.end(() => resolve()));
  }
}

export interface RunSummary {
  runId: string;
  startedAt: string | null;
  environment: string | null;
  outcome: RunOutcome | 'unfinished';
  durationMs: number | null;
  failedStep: string | null;
  steps: { step: string; verdict: string; durationMs: number }[];
}

/** Past runs, oldest first, read from the run logs (a run killed hard shows as unfinished). */
export async function readHistory(dir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  } catch {
    return [];
  }
  const runs: RunSummary[] = [];
  for (const name of names) {
    const run: RunSummary = {
      runId: name.slice(0, -'.jsonl'.length),
      startedAt: null,
      environment: null,
      outcome: 'unfinished',
      durationMs: null,
      failedStep: null,
      steps: [],
    };
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a torn last line of a killed run
      }
      if (e.event === 'run_start') {
        run.startedAt = e.at as string;
        run.environment = e.environment as string;
      } else if (e.event === 'step_end') {
        run.steps.push({
          step: e.step as string,
          verdict: e.verdict as string,
          durationMs: e.durationMs as number,
        });
      } else if (e.event === 'run_end') {
        run.outcome = e.outcome as RunOutcome;
        run.durationMs = e.durationMs as number;
        run.failedStep = (e.failedStep as string | null) ?? null;
      }
    }
    runs.push(run);
  }
  // By start time (the id's order too, but a hand-renamed file must not reorder the history).
  return runs.sort((a, b) => (a.startedAt ?? a.runId).localeCompare(b.startedAt ?? b.runId));
}

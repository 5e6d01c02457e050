import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const FAKE_VALIDATE = [process.execPath, join(import.meta.dirname, 'fixtures', 'fake-validate.mjs')];
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `acgs-gateway <args>` from source as a real child process, in any working directory. */
export function runCli(
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; detached?: boolean } = {},
): Promise<CliResult> & { child: ReturnType<typeof spawn> } {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'cli', 'main.ts'), ...args], {
    cwd: o.cwd ?? ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so a test can send Ctrl-C the way a terminal does (to the group).
    detached: o.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve) =>
    // 'close', not 'exit': the pipes are drained by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  ) as Promise<CliResult> & { child: typeof child };
  done.child = child;
  return done;
}

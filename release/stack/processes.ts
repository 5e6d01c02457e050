// The local driver's processes: started detached (they outlive `stack up`), logs in the state dir, and
// stopped later by pid. A pid is only signalled while its command line still names the stack's state
// directory, so a pid the kernel has since given to another program is never touched.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DetachedSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr go here (the file is started afresh: a banner from a previous run must not count). */
  readonly log: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Starts a process in its own session and returns its pid; throws when it cannot be spawned at all. */
export async function spawnDetached(spec: DetachedSpec): Promise<number> {
  const fd = openSync(spec.log, 'w', 0o600);
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** The process's command line, or null when it no longer exists (or /proc is unavailable). */
function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** Alive, not a zombie, and still the process we started (its command line contains every marker). */
export function isOurs(pid: number, marker: string | readonly string[]): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; Z is a zombie (exited, not yet reaped by init).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
  } catch {}
  const cmdline = commandLine(pid);
  if (cmdline === null) return process.platform !== 'linux';
  return (typeof marker === 'string' ? [marker] : marker).every((m) => cmdline.includes(m));
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. The whole process group is
 * signalled (the process leads it: spawned detached), so helpers it started go too.
 */
export async function stopProcess(
  pid: number,
  marker: string | readonly string[],
  { graceMs = 10_000, signal = 'SIGTERM' as NodeJS.Signals } = {},
): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isOurs(pid, marker)) return 'gone';
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  send(signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(pid, marker)) return 'stopped';
    await sleep(50);
  }
  send('SIGKILL');
  for (let i = 0; i < 100 && isOurs(pid, marker); i++) await sleep(20);
  return 'killed';
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string | null, lines = 15): string {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

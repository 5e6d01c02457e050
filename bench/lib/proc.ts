// Child processes of the benchmark: start, wait until they say they are listening, sample their memory,
// stop them. Every process is ours and is stopped by its own pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The last lines of stderr and stdout, for error messages. */
  tail(): string;
  /** Resolves once stdout and stderr are closed (the last lines are in tail()), or after `timeoutMs`. */
  drained(timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** A cpu list (taskset -c) the process and its children are confined to; null or absent: no pinning. */
  readonly cpus?: string | null;
}

// Children still alive when the benchmark exits for any reason (a crash included) are killed by pid.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of live) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
});

export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): Child {
  // taskset execs the command in place: the pid is the command's own.
  const pinned = opts.cpus !== undefined && opts.cpus !== null;
  const proc = spawn(pinned ? 'taskset' : command, pinned ? ['-c', opts.cpus!, command, ...args] : args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A missing binary (ENOENT) or a failed kill arrives as an 'error' event; without a listener it would
  // take the whole bench down ("Unhandled 'error' event ... spawn /usr/sbin/nginx ENOENT").
  let spawnError: Error | null = null;
  proc.on('error', (err) => {
    spawnError = err;
  });
  if (proc.pid === undefined) {
    // spawn() reports ENOENT/EACCES asynchronously; the message is the same one it would carry.
    throw new Error(`${name}: cannot run ${command}: ${accessProblem(command) ?? 'spawn failed'}`);
  }
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(line);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return {
    name,
    proc,
    pid: proc.pid,
    tail: () => (spawnError === null ? lines : [...lines, `(${(spawnError as Error).message})`]).join('\n'),
    drained: (timeoutMs = 1000) => Promise.race([closed, sleep(timeoutMs)]),
  };
}

/** Why `command` cannot be executed (missing, not executable), or null when it can. */
export function accessProblem(command: string): string | null {
  if (!command.includes('/')) return null; // looked up on PATH by spawn itself
  try {
    accessSync(command, constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such file (ENOENT)' : `not executable (${code ?? 'error'})`;
  }
}

/** Resolves with the first stdout line that parses as a JSON object (servers print {"port":N}). */
export function firstJsonLine<T>(child: Child, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => done(new Error(`${child.name}: no start line within ${timeoutMs} ms\n${child.tail()}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('{')) {
          try {
            done(null, JSON.parse(line) as T);
            return;
          } catch {
            // not ours
          }
        }
        nl = buffered.indexOf('\n');
      }
    };
    const onExit = (code: number | null) =>
      done(new Error(`${child.name} exited (${code}) before starting\n${child.tail()}`));
    function done(err: Error | null, value?: T) {
      clearTimeout(timer);
      child.proc.stdout?.off('data', onData);
      child.proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    child.proc.stdout?.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

/** Polls `url` until it answers 200 (or `accept` says yes). */
export async function waitForHttp(url: string, child: Child | null, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child !== null && child.proc.exitCode !== null) {
      throw new Error(`${child.name} exited (${child.proc.exitCode})\n${child.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (${last})${child ? `\n${child.tail()}` : ''}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  const { proc } = child;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** A port the kernel just handed out (for programs that want a port number rather than 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `pid` and all its descendants (nginx workers), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (children !== '') for (const c of children.split(/\s+/)) out.push(Number(c));
    } catch {
      // gone
    }
  }
  return out;
}

/** VmRSS and VmHWM (peak) in KiB, summed over the given processes and their descendants. */
export function memoryOf(roots: readonly number[]): { rssKb: number; hwmKb: number } {
  let rssKb = 0;
  let hwmKb = 0;
  for (const root of roots) {
    for (const pid of processTree(root)) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        rssKb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        hwmKb += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      } catch {
        // gone
      }
    }
  }
  return { rssKb, hwmKb };
}

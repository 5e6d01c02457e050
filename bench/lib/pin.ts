// `--pin`: the contender on a core of its own, everything else (this orchestrator with its load generator,
// the upstream, the fixed-rate generator) on the others. Unpinned, on a 2-core machine the contender's
// event loop waits in the run queue whenever the generator and the upstream are both running, and a request
// that arrives then is charged the wait (part of what a Node proxy adds at p99 at a low, fixed rate here;
// bench/README.md has the pinned and unpinned figures). Pinned, each contender gets the same one core, the
// way a gateway in production has cores the load does not share; the host's own jitter stays. Redis is a
// shared server and is not pinned.
// Affinity is set with taskset(1) (util-linux): children inherit it, and `taskset -c LIST cmd` execs the
// command, so the pid the bench samples is still the contender's.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface CorePlan {
  /** The cpu list the contender's processes run on (the last core). */
  readonly contender: string;
  /** The cpu list of everything else. */
  readonly rest: string;
}

/** The split for a machine of `cores` cores; it needs two at least. */
export function corePlan(cores: number): CorePlan {
  if (!Number.isInteger(cores) || cores < 2)
    throw new Error(
      `--pin needs 2 cores at least (one for the contender, one for the rest); this machine has ${cores}`,
    );
  const last = cores - 1;
  return { contender: String(last), rest: last === 1 ? '0' : `0-${last - 1}` };
}

/** Moves every thread of process `pid` to `cpus`; children started afterwards inherit it. */
export async function pinProcess(pid: number, cpus: string): Promise<void> {
  try {
    await exec('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new Error('--pin needs taskset: install it with `apt-get install util-linux` (Debian/Ubuntu)');
    throw new Error(
      `--pin: taskset could not pin pid ${pid} to cpus ${cpus}: ${(err as Error).message.trim()}`,
    );
  }
  // `taskset -a -p` walks /proc/<pid>/task and succeeds on a pid that is gone: ask the kernel what it got.
  const got = await allowedCpus(pid).catch((err: Error) => `unreadable (${err.message})`);
  if (got !== cpus)
    throw new Error(`--pin: taskset could not pin pid ${pid} to cpus ${cpus}: its cpus are ${got}`);
}

/** The cpu list a process may run on, as the kernel reports it (/proc/<pid>/status). */
export async function allowedCpus(pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (match === null) throw new Error(`/proc/${pid}/status has no Cpus_allowed_list`);
  return match[1]!;
}

// CPU time per request, read from /proc during a measured window: utime + stime (fields 14 and 15 of
// /proc/<pid>/stat, in clock ticks) of the contender's processes (with their descendants), of the
// contender's main thread, of the upstream and of Redis, at the start and at the end of the window; the
// load generator is this process (process.cpuUsage(), in µs). Each delta divided by the responses completed
// in the window is the µs of CPU that one request cost that process. A process that is gone (or replaced
// under the same pid) at the end of the window gives n/a (null), never an exception.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { processTree } from './proc.js';

/** The fields of /proc/<pid>/stat the bench uses. */
export interface ProcStat {
  readonly pid: number;
  /** The command name (field 2), without its parentheses; may itself contain spaces and parentheses. */
  readonly comm: string;
  readonly state: string;
  /** User and system CPU time, clock ticks (fields 14 and 15). */
  readonly utime: number;
  readonly stime: number;
  /** Start time after boot, clock ticks (field 22): tells a reused pid from the process we sampled first. */
  readonly starttime: number;
}

/**
 * Parses one /proc/<pid>/stat (or /proc/<pid>/task/<tid>/stat) line; null when it is not one. The command
 * name is everything between the first '(' and the last ')': it can contain spaces and parentheses
 * (`12 (node (x)) S 1 …`), so splitting the whole line on spaces would shift every field after it.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  if (!Number.isInteger(pid) || rest.length < 20) return null;
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  const starttime = Number(rest[22 - 3]);
  if (![utime, stime, starttime].every(Number.isFinite)) return null;
  return { pid, comm: text.slice(open + 1, close), state: rest[0]!, utime, stime, starttime };
}

/** /proc/<pid>/stat of a process (or of one thread with `tid`); null when it is gone or unreadable. */
export function readProcStat(pid: number, tid?: number): ProcStat | null {
  try {
    const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
    const stat = parseProcStat(readFileSync(path, 'utf8'));
    // A zombie has released its threads' times to nobody we sample: as good as gone.
    return stat === null || stat.state === 'Z' || stat.state === 'X' ? null : stat;
  } catch {
    return null;
  }
}

let ticksPerSecond: number | null = null;

/** USER_HZ (`getconf CLK_TCK`), read once; 100 (Linux's value on every common architecture) if that fails. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU ticks of a set of processes at one instant, by pid, with the start time that identifies each. */
export type TreeTicks = ReadonlyMap<number, { readonly starttime: number; readonly ticks: number }>;

export function treeTicks(roots: readonly number[]): TreeTicks {
  const out = new Map<number, { starttime: number; ticks: number }>();
  for (const root of roots) {
    for (const pid of processTree(root)) {
      const stat = readProcStat(pid);
      if (stat !== null) out.set(pid, { starttime: stat.starttime, ticks: stat.utime + stat.stime });
    }
  }
  return out;
}

/**
 * Ticks spent by the processes between two snapshots; null when a root is missing from either, or when a
 * process of the first snapshot is gone (or its pid reused) at the second: its last CPU time is lost, so
 * the sum would be short. A process born during the window counts with all its ticks.
 */
export function treeDelta(roots: readonly number[], start: TreeTicks, end: TreeTicks): number | null {
  for (const root of roots) if (!start.has(root) || !end.has(root)) return null;
  let ticks = 0;
  for (const [pid, s] of start) {
    const e = end.get(pid);
    if (e === undefined || e.starttime !== s.starttime || e.ticks < s.ticks) return null;
  }
  for (const [pid, e] of end) {
    const s = start.get(pid);
    ticks += s === undefined || s.starttime !== e.starttime ? e.ticks : e.ticks - s.ticks;
  }
  return ticks;
}

/** The processes whose CPU a measured window reads. */
export interface CpuTargets {
  /** The contender's processes (their descendants included); [] for none (direct). */
  readonly contender: readonly number[];
  /** The bench upstream; null when not ours to read. */
  readonly upstream: number | null;
  /** The redis-server serving REDIS_URL; null when it is remote or not found. */
  readonly redis: number | null;
}

interface ThreadTicks {
  readonly starttime: number;
  readonly ticks: number;
}

export interface CpuSample {
  readonly contender: TreeTicks;
  /** The main thread of the contender's first process when that is a Node process (its event loop). */
  readonly mainThread: ThreadTicks | null;
  readonly upstream: TreeTicks;
  readonly redis: TreeTicks;
  readonly self: NodeJS.CpuUsage;
  readonly atNs: bigint;
}

/** Whether the comm of a process is Node's (the main thread of a Node process is named after the binary). */
function isNode(comm: string): boolean {
  return /^node\b/.test(comm) || comm === 'MainThread';
}

export function sampleCpu(t: CpuTargets): CpuSample {
  const front = t.contender[0];
  let mainThread: ThreadTicks | null = null;
  if (front !== undefined) {
    const stat = readProcStat(front, front);
    if (stat !== null && isNode(stat.comm))
      mainThread = { starttime: stat.starttime, ticks: stat.utime + stat.stime };
  }
  return {
    contender: treeTicks(t.contender),
    mainThread,
    upstream: t.upstream === null ? new Map() : treeTicks([t.upstream]),
    redis: t.redis === null ? new Map() : treeTicks([t.redis]),
    self: process.cpuUsage(),
    atNs: process.hrtime.bigint(),
  };
}

/** µs of CPU per response for each process group over a window; null where n/a. */
export interface CpuPerRequest {
  readonly contender: number | null;
  readonly mainThread: number | null;
  readonly upstream: number | null;
  readonly redis: number | null;
  readonly loadgen: number | null;
}

export interface CpuWindow {
  /** Responses completed in the window (2xx and non-2xx): the divisor. */
  readonly responses: number;
  readonly windowSec: number;
  readonly usPerRequest: CpuPerRequest;
  /** CPU seconds spent in the window (cores used = cpuSec / windowSec), null where n/a. */
  readonly cpuSec: CpuPerRequest;
}

/** µs of CPU per request from a tick delta; null when there is no delta or no response to divide by. */
export function usPerRequest(
  ticks: number | null,
  responses: number,
  hz = clockTicksPerSecond(),
): number | null {
  if (ticks === null || !Number.isFinite(ticks) || ticks < 0 || responses <= 0) return null;
  return (ticks * 1e6) / hz / responses;
}

export function cpuWindow(
  targets: CpuTargets,
  start: CpuSample,
  end: CpuSample,
  responses: number,
  hz = clockTicksPerSecond(),
): CpuWindow {
  const ticks = {
    contender:
      targets.contender.length === 0 ? null : treeDelta(targets.contender, start.contender, end.contender),
    mainThread:
      start.mainThread !== null &&
      end.mainThread !== null &&
      start.mainThread.starttime === end.mainThread.starttime &&
      end.mainThread.ticks >= start.mainThread.ticks
        ? end.mainThread.ticks - start.mainThread.ticks
        : null,
    upstream: targets.upstream === null ? null : treeDelta([targets.upstream], start.upstream, end.upstream),
    redis: targets.redis === null ? null : treeDelta([targets.redis], start.redis, end.redis),
  };
  const selfUs = end.self.user - start.self.user + (end.self.system - start.self.system);
  const selfTicks = (selfUs * hz) / 1e6;
  const sec = (t: number | null) => (t === null ? null : t / hz);
  return {
    responses,
    windowSec: Number(end.atNs - start.atNs) / 1e9,
    usPerRequest: {
      contender: usPerRequest(ticks.contender, responses, hz),
      mainThread: usPerRequest(ticks.mainThread, responses, hz),
      upstream: usPerRequest(ticks.upstream, responses, hz),
      redis: usPerRequest(ticks.redis, responses, hz),
      loadgen: usPerRequest(selfTicks, responses, hz),
    },
    cpuSec: {
      contender: sec(ticks.contender),
      mainThread: sec(ticks.mainThread),
      upstream: sec(ticks.upstream),
      redis: sec(ticks.redis),
      loadgen: selfUs / 1e6,
    },
  };
}

/** The redis-server serving `url`, or why its CPU cannot be read from here. */
export type RedisProcess = { readonly pid: number } | { readonly pid: null; readonly reason: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '']);

/**
 * Asks Redis for its pid (INFO server → process_id) and checks that it is a redis process of this
 * machine's /proc: a remote Redis, or one in another pid namespace (a container), is n/a, not a wrong pid.
 */
export async function findRedisProcess(url: string): Promise<RedisProcess> {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return { pid: null, reason: `REDIS_URL is not a URL` };
  }
  if (!LOOPBACK.has(host)) return { pid: null, reason: `Redis at ${host} is not on this machine` };
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('server');
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) return { pid: null, reason: 'INFO server has no process_id' };
    const stat = readProcStat(pid);
    if (stat === null || !/redis/i.test(stat.comm))
      return {
        pid: null,
        reason: `pid ${pid} from INFO server is not a redis process here (${stat === null ? 'no such process' : `it is ${stat.comm}`}; another pid namespace?)`,
      };
    return { pid };
  } catch (err) {
    return { pid: null, reason: `Redis unreachable (${(err as Error).message})` };
  } finally {
    redis.disconnect();
  }
}

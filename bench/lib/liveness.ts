// Is a contender still alive after a load run? A proxy that crashed under load must show up as a crash,
// not as a throughput of 0 with tens of thousands of connection errors. Two checks, in order: did any of
// its processes exit (code or signal), and does it still answer a request through it.
import type { Child } from './proc.js';
import { sleep } from './proc.js';

export type Liveness =
  | { readonly alive: true }
  | {
      readonly alive: false;
      /** 'exited': a process is gone; 'unresponsive': all processes run but the probe got no answer. */
      readonly reason: 'exited' | 'unresponsive';
      /** The process that died (or the first one, when none did). */
      readonly process: string;
      readonly exitCode: number | null;
      readonly signal: NodeJS.Signals | null;
      /** One line for the table: 'exit code 1', 'killed by SIGSEGV', 'no answer to GET … within 2000 ms'. */
      readonly summary: string;
      /** The last lines of the process's output. */
      readonly tail: string;
    };

export interface LivenessOptions {
  /** A URL answered by the contender (through the proxy); null when there is nothing to ask. */
  readonly probeUrl: string | null;
  readonly timeoutMs?: number;
}

function exited(child: Child): boolean {
  return child.proc.exitCode !== null || child.proc.signalCode !== null;
}

async function deadChild(child: Child): Promise<Liveness> {
  await child.drained(500);
  const { exitCode, signalCode } = child.proc;
  return {
    alive: false,
    reason: 'exited',
    process: child.name,
    exitCode,
    signal: signalCode,
    summary:
      signalCode !== null
        ? `${child.name} killed by ${signalCode}`
        : `${child.name} exited with code ${exitCode}`,
    tail: child.tail(),
  };
}

/** Any status is an answer: a 4xx/5xx proxy is alive (its answers are counted as non-2xx by the load run). */
async function probe(url: string, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return null;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return (err as Error).name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms`
      : (cause ?? (err as Error).message);
  }
}

export async function checkLiveness(children: readonly Child[], o: LivenessOptions): Promise<Liveness> {
  for (const child of children) if (exited(child)) return deadChild(child);
  if (o.probeUrl === null) return { alive: true };
  const timeoutMs = o.timeoutMs ?? 2000;
  const problem = await probe(o.probeUrl, timeoutMs);
  if (problem === null) return { alive: true };
  // A process that died a moment ago may not have reported its exit yet: give it a little time, so a
  // crash is reported as the crash it is rather than as a refused connection.
  for (let waited = 0; waited < 1000; waited += 50) {
    for (const child of children) if (exited(child)) return deadChild(child);
    await sleep(50);
  }
  const first = children[0];
  return {
    alive: false,
    reason: 'unresponsive',
    process: first?.name ?? 'contender',
    exitCode: null,
    signal: null,
    summary: `no answer to GET ${new URL(o.probeUrl).pathname} (${problem})`,
    tail: first?.tail() ?? '',
  };
}

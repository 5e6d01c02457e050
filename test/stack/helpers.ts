// Shared by the stack tests: the policy bundle the stack's replicas load, running the CLI as a user
// would, and finding processes a stack may have left behind (by their command line).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, type RunResult, run } from '../deploy/helpers.js';

export { REPO };

/** The replicas of the stack's default config load policies/build/bundle.tar.gz; build it when missing. */
export async function ensurePolicyBundle(): Promise<void> {
  if (existsSync(join(REPO, 'policies', 'build', 'bundle.tar.gz'))) return;
  const built = await run(process.execPath, ['--import', 'tsx', 'scripts/policy-cli.mjs', 'build'], {
    cwd: REPO,
    env: process.env,
    timeoutMs: 60_000,
  });
  if (built.code !== 0) throw new Error(`policy build failed: ${built.stderr}`);
}

/** The environment a user's shell would give the CLI, without a REDIS_URL (so the stack's Redis is private). */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { REDIS_URL: _ignored, ...env } = process.env;
  return { ...env, CI: '1', ...extra };
}

export function stackCli(args: string[], env = cliEnv(), timeoutMs = 90_000): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', join(REPO, 'cli', 'main.ts'), 'stack', ...args], {
    cwd: REPO,
    env,
    timeoutMs,
  });
}

/** Pids of live (non-zombie) processes whose command line contains `text`. */
export function processesMatching(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (cmdline.includes(text)) found.push(Number(entry));
    } catch {}
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

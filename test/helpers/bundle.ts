import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * Builds a policy bundle from a policies folder with the real pinned opa (`acgs-gateway policy build`),
 * synchronously, for tests that need one before their servers start. `revision` names it (default: the
 * build's own, from git and the time).
 */
export function buildPolicyBundle(policiesDir: string, out: string, revision?: string): void {
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'scripts/policy-cli.mjs'),
    'build',
    '--policies',
    policiesDir,
    '--output',
    out,
  ];
  if (revision !== undefined) args.push('--revision', revision);
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'pipe' });
}

// var/stack/<environment>/state.json: what `stack up` started, read back by `down` and `status`. It holds
// the admin token, so the directory and the file are private to the user (0700 / 0600).
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Environment, StackState } from '../contracts.js';
import { StackError } from './stack-error.js';

export function defaultStateDir(environment: Environment, cwd = process.cwd()): string {
  return resolve(cwd, 'var', 'stack', environment);
}

export const stateFile = (stateDir: string) => join(stateDir, 'state.json');

export async function ensureStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700);
}

/** Written atomically (temp file + rename) so a reader never sees half a file. */
export async function writeState(stateDir: string, state: StackState): Promise<void> {
  const file = stateFile(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function readState(stateDir: string): Promise<StackState | null> {
  let text: string;
  try {
    text = await readFile(stateFile(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const state = JSON.parse(text) as StackState;
    if (state.schema !== 'acgs.stack/v1') throw new Error(`unknown schema ${String(state.schema)}`);
    return state;
  } catch (err) {
    throw new StackError(`${stateFile(stateDir)} is not a stack state: ${(err as Error).message}`);
  }
}

export async function removeState(stateDir: string): Promise<void> {
  await rm(stateFile(stateDir), { force: true });
}

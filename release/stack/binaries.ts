import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first of `names` found on PATH or in the sbin/bin folders Debian uses, or null. */
export function findBinary(
  names: readonly string[],
  path: string | undefined,
  { pathOnly = false } = {},
): string | null {
  const dirs = (path ?? '').split(delimiter).filter(Boolean);
  if (!pathOnly) dirs.push('/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin');
  for (const name of names) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return null;
}

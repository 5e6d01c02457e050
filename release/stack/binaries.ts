import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The first of `names` found on PATH, or in the sbin folders (Debian's nginx is /usr/sbin/nginx, which is
 * not on a normal user's PATH), or null. A binary missing from PATH and sbin counts as not installed.
 */
export function findBinary(
  names: readonly string[],
  path: string | undefined,
  { pathOnly = false } = {},
): string | null {
  const dirs = (path ?? '').split(delimiter).filter(Boolean);
  if (!pathOnly) dirs.push('/usr/local/sbin', '/usr/sbin');
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

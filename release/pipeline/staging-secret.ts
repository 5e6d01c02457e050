import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The HS256 key the staging replicas verify tokens with and `validate` signs its probe tokens with, so
 * the JWT checks (cache hit rate, token probes) measure something. JWT_SECRET from the environment when
 * set; otherwise one generated on the first staging run and kept (mode 600) for the runs that resume.
 */
export async function stagingJwtSecret(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept.length >= 32) return kept;
  } catch {
    // First run: made below.
  }
  const secret = randomBytes(48).toString('base64url');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, secret, { mode: 0o600 });
  return secret;
}

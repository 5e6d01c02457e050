import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

// Secrets for a deployment, from the operating system's CSPRNG (crypto.randomBytes), written mode 600.

export interface SecretSpec {
  readonly name: string;
  readonly bytes: number;
  readonly what: string;
}

export const SECRETS: readonly SecretSpec[] = [
  { name: 'jwt_secret', bytes: 48, what: 'HS256 signing key for JWT_SECRET (>= 256 bits)' },
  { name: 'redis_password', bytes: 32, what: 'Redis requirepass, and the password in REDIS_URL' },
  {
    name: 'admin_token',
    bytes: 32,
    what: 'admin-plane token for operators (ADMIN_TOKENS ops:<token>, ADMIN_TOKEN)',
  },
  { name: 'prometheus_admin_token', bytes: 32, what: 'admin-plane token Prometheus scrapes /metrics with' },
];

export class SecretsExistError extends Error {
  constructor(readonly existing: readonly string[]) {
    super(`already there (not overwritten; --force replaces them): ${existing.join(', ')}`);
    this.name = 'SecretsExistError';
  }
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/**
 * Writes every secret into dir, or none: without force, any existing file stops the run before a byte is
 * written. Each file is created 600 through a temporary name and renamed, so a reader never sees half.
 */
export async function generateSecrets(
  dir: string,
  force = false,
): Promise<{ file: string; spec: SecretSpec }[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = SECRETS.map((spec) => ({ spec, file: join(dir, spec.name) }));
  if (!force) {
    const existing = [];
    for (const f of files) if (await exists(f.file)) existing.push(f.file);
    if (existing.length > 0) throw new SecretsExistError(existing);
  }
  for (const { spec, file } of files) {
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await open(tmp, 'wx', 0o600);
    try {
      // base64url: safe in env files, URLs (redis://:pw@host) and YAML without quoting.
      await handle.writeFile(randomBytes(spec.bytes).toString('base64url'));
    } finally {
      await handle.close();
    }
    try {
      await chmod(tmp, 0o600); // the umask cannot widen it, but a restrictive one could not matter either
      await rename(tmp, file);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }
  return files;
}

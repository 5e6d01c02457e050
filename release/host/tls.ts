import { execFile } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Node 20 has no X.509 generation API, so the pair is made by the openssl CLI; the certificate is then read
// back with node:crypto by the infrastructure check.

export class OpensslMissingError extends Error {
  constructor() {
    super('openssl is not installed: install it (Debian: apt-get install -y openssl) and run this again');
    this.name = 'OpensslMissingError';
  }
}

export async function opensslVersion(): Promise<string | null> {
  try {
    return (await run('openssl', ['version'])).stdout.trim();
  } catch {
    return null;
  }
}

export interface SelfSignedOptions {
  readonly hosts: readonly string[];
  readonly outDir: string;
  readonly days: number;
  /** The openssl binary (default: openssl on PATH). */
  readonly openssl?: string;
}

/** A self-signed P-256 certificate for the host names (SANs), as fullchain.pem + privkey.pem (600). */
export async function selfSigned(o: SelfSignedOptions): Promise<{ cert: string; key: string }> {
  const bin = o.openssl ?? 'openssl';
  await mkdir(o.outDir, { recursive: true });
  const cert = join(o.outDir, 'fullchain.pem');
  const key = join(o.outDir, 'privkey.pem');
  const san = o.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    String(o.days),
    '-subj',
    `/CN=${o.hosts[0]}`,
    '-addext',
    `subjectAltName=${san}`,
    '-keyout',
    key,
    '-out',
    cert,
  ];
  try {
    await run(bin, args, { timeout: 30_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new OpensslMissingError();
    throw new Error(
      `openssl failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`,
    );
  }
  await chmod(key, 0o600);
  return { cert, key };
}

// A real gateway with screening and the real policy bundle (built by the real opa from policies/), in
// front of an upstream on loopback that reports exactly which bytes it received.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { Gateway } from '../../../gateway/gateway.js';
import { ADMIN_TOKEN, startTestGateway } from '../../helpers/gateway.js';
import { buildBundle } from '../../policy/helpers.js';

export const JWT_SECRET = 'screening-test-secret-0123456789-0123456789-012345';

export interface SeenBody {
  readonly url: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface HashingUpstream {
  readonly url: string;
  readonly seen: SeenBody[];
  close(): Promise<void>;
}

/** Answers {url, bytes, sha256} of the body it received. */
export async function startHashingUpstream(): Promise<HashingUpstream> {
  const seen: SeenBody[] = [];
  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const body = { url: req.url ?? '', bytes, sha256: hash.digest('hex') };
      seen.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    req.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let bundlePromise: Promise<{ path: string; dir: string }> | null = null;

/** The repository's policies built once per test process. */
export function policyBundle(): Promise<{ path: string; dir: string }> {
  bundlePromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acgs-screening-'));
    await buildBundle(dir, 'bundle');
    return { path: join(dir, 'bundle.tar.gz'), dir };
  })();
  return bundlePromise;
}

export async function removeBundle(): Promise<void> {
  if (bundlePromise) await rm((await bundlePromise).dir, { recursive: true, force: true });
  bundlePromise = null;
}

export async function startScreeningGateway(
  upstream: string,
  screening: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<Gateway> {
  const bundle = await policyBundle();
  return startTestGateway(
    { ac: { blue: [upstream], green: [upstream] }, gs: { blue: [upstream], green: [upstream] } },
    {
      policy: { bundle: bundle.path },
      // A generous engine budget: these tests are about what is found, on a shared, busy machine.
      screening: { enabled: true, budgetUs: 500_000, ...screening },
      ...extra,
    },
    // 'admin' may do everything under the default admin policy; 'ops' (no roles) may only read.
    { JWT_SECRET, ADMIN_TOKENS: `admin:${ADMIN_TOKEN},ops:${OPS_TOKEN}` },
  );
}

export const OPS_TOKEN = 'ops-token-0123456789abcdef';

/** A bearer header for a caller with these roles. */
export async function bearer(roles: string[], sub = 'tester'): Promise<Record<string, string>> {
  const token = await new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
  return { authorization: `Bearer ${token}` };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

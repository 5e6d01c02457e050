// Shared fixtures: bundles built by the real opa from the repo's Rego, request contexts, archives.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { buildPolicyBundle, resolveOpaBinary } from '../../cli/policy.js';
import type { RequestContext } from '../../core/types.js';
import { requestContext } from '../helpers/context.js';

export const OPA = resolveOpaBinary(undefined, process.env);

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'acgs-policy-test-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface KeyFiles {
  readonly privatePath: string;
  readonly publicPem: string;
}

export async function writeKeyPair(dir: string, alg: 'RS256' | 'ES256', name = alg): Promise<KeyFiles> {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privatePath = join(dir, `${name}.pem`);
  await writeFile(privatePath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { privatePath, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Builds the repo's policies with the real opa; returns the bundle bytes. */
export async function buildBundle(
  dir: string,
  name: string,
  opts: { revision?: string; signingKey?: string; signingAlg?: 'RS256' | 'ES256'; policyDir?: string } = {},
): Promise<Buffer> {
  const output = join(dir, `${name}.tar.gz`);
  await buildPolicyBundle({ opa: OPA, output, revision: opts.revision ?? name, ...opts });
  return readFile(output);
}

/** A tar.gz with exactly these files (names as given, e.g. "/policy.wasm"). */
export async function tarGz(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name }, Buffer.from(content));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

export function makeCtx(over: Partial<RequestContext> = {}): RequestContext {
  return requestContext(over);
}

/** Minimal pino-like logger that records calls. */
export function recordingLogger() {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, error: at('error'), warn: at('warn'), info: at('info') };
}

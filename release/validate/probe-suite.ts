// The security probe suite: data files in release/validate/probes/*.json (a team adds its own cases
// there), validated and expanded into concrete probes: payload × placement, or explicit requests.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { formatIssues } from '../../gateway/config/errors.js';
import { PACKAGE_ROOT } from '../../gateway/util/package-root.js';

/** The shipped suite, found from the package root so it works from source and from dist/ alike. */
export const PROBE_DIR = join(PACKAGE_ROOT, 'release', 'validate', 'probes');

export const CATEGORIES = [
  'sqli',
  'xss',
  'command_injection',
  'path_traversal',
  'jwt',
  'header_spoofing',
  'smuggling',
  'admin_exposure',
  'rate_limit',
] as const;
export type Category = (typeof CATEGORIES)[number] | 'benign';

const PLACEMENT = /^(query|path|cookie|json_body|form_body|header:[a-z0-9-]+)$/;

const expectSchema = z.union([
  z.enum(['blocked', 'passes', 'not_ok']),
  z.strictObject({ status: z.array(z.int().min(100).max(599)).min(1) }),
  z.strictObject({ notForwarded: z.strictObject({ header: z.string().min(1), value: z.string().min(1) }) }),
]);
export type Expectation = z.output<typeof expectSchema>;

const TOKEN_KINDS = [
  'alg_none',
  'alg_none_case',
  'hs_confusion',
  'foreign_key',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'tampered_claims',
  'oversized',
  'garbage',
  'kid_injection',
  'jku_header',
] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

const explicitSchema = z.strictObject({
  name: z.string().min(1),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
  /** Path as sent, byte for byte; {service} is the probed service's name, {prefix} its route prefix. */
  rawPath: z
    .string()
    .regex(/^(\/|\{prefix\})/, "must start with '/' or '{prefix}'")
    .optional(),
  headers: z.record(z.string(), z.string()).optional(),
  json: z.unknown().optional(),
  /** Who sends it: nobody (default), a reader token, a writer token, the admin token. */
  auth: z.enum(['none', 'reader', 'writer', 'admin']).optional(),
  token: z.enum(TOKEN_KINDS).optional(),
  /** A probe that cannot be run without a signing key is skipped (not scored) without one. */
  requires: z.enum(['signer']).optional(),
  /** A raw HTTP/1.1 request sent on its own socket; {host} and {path} are filled in. */
  raw: z.string().optional(),
  burst: z.boolean().optional(),
  expect: expectSchema.optional(),
});

const fileSchema = z.strictObject({
  category: z.enum([...CATEGORIES, 'benign']),
  description: z.string().optional(),
  placements: z
    .array(z.string().regex(PLACEMENT, 'must be query, path, cookie, json_body, form_body or header:<name>'))
    .optional(),
  payloads: z.array(z.string().min(1)).optional(),
  expect: expectSchema.optional(),
  probes: z.array(explicitSchema).optional(),
});

export interface Probe {
  readonly category: Category;
  readonly name: string;
  readonly method: string;
  /** Path template ({service} filled in at run time). */
  readonly rawPath: string | null;
  readonly placement: string | null;
  readonly payload: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly json: unknown;
  readonly auth: 'none' | 'reader' | 'writer' | 'admin';
  readonly token: TokenKind | null;
  readonly requires: 'signer' | null;
  readonly raw: string | null;
  readonly burst: boolean;
  readonly expect: Expectation;
}

export class ProbeSuiteError extends Error {}

/** Expands one validated file into probes. */
export function expandFile(doc: z.output<typeof fileSchema>): Probe[] {
  const out: Probe[] = [];
  const base = {
    category: doc.category,
    rawPath: null,
    headers: {},
    json: undefined,
    auth: 'none' as const,
    token: null,
    requires: null,
    raw: null,
    burst: false,
  };
  for (const payload of doc.payloads ?? []) {
    for (const placement of doc.placements ?? ['query']) {
      const body = placement === 'json_body' || placement === 'form_body';
      out.push({
        ...base,
        name: `${placement}: ${payload}`,
        method: body ? 'POST' : 'GET',
        placement,
        payload,
        auth: body ? 'writer' : 'none',
        expect: doc.expect ?? 'blocked',
      });
    }
  }
  for (const p of doc.probes ?? []) {
    out.push({
      ...base,
      name: p.name,
      method: p.method ?? (p.json === undefined ? 'GET' : 'POST'),
      rawPath: p.rawPath ?? null,
      placement: null,
      payload: null,
      headers: p.headers ?? {},
      json: p.json,
      auth: p.auth ?? 'none',
      token: p.token ?? null,
      requires: p.requires ?? null,
      raw: p.raw ?? null,
      burst: p.burst ?? false,
      expect: p.expect ?? doc.expect ?? 'blocked',
    });
  }
  return out;
}

export function parseSuiteFile(text: string, source: string): Probe[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ProbeSuiteError(`${source}: not JSON: ${(error as Error).message}`);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success)
    throw new ProbeSuiteError(`${source}:\n  ${formatIssues(result.error.issues).join('\n  ')}`);
  return expandFile(result.data);
}

/** Every *.json of the directory, in name order. */
export async function loadSuite(dir = PROBE_DIR): Promise<Probe[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const probes: Probe[] = [];
  for (const file of files)
    probes.push(...parseSuiteFile(await readFile(join(dir, file), 'utf8'), join(dir, file)));
  return probes;
}

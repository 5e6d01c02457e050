// The policy bundle both sides of the policy comparison use. Built fresh from policies/ with the
// project's own `policy build` code (pinned opa, wasm target) into a temp dir; when that code is not
// importable, the bundle already at policies/build/bundle.tar.gz is used.
//
// OPA's server cannot evaluate the wasm module: the pinned opa is built with CGO_ENABLED=0, so its wasm
// engine is "unavailable" and `opa run --bundle bundle.tar.gz` refuses the bundle. Nor is the Rego left in
// a wasm bundle the whole policy (`opa build -t wasm -O=1` compiles the entrypoints into the module and
// keeps only what is left over). So the REST side gets a Rego bundle built by the same pinned opa from the
// same policies/ sources and data.json (tests and build output ignored, like the wasm build), evaluated by
// OPA's interpreter as a stand-alone OPA server always would.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUILT_POLICY_BUNDLE } from '../../gateway/util/package-root.js';
import { REPO_ROOT } from './compile.js';

const run = promisify(execFile);

export const OPA_BIN = process.env.OPA_BIN ?? join(REPO_ROOT, '.tools', 'bin', 'opa');
export const POLICY_DIR = join(REPO_ROOT, 'policies');

export interface BenchBundle {
  /** The wasm bundle (tar.gz) the gateway loads. */
  readonly file: string;
  /** A Rego bundle of the same sources and data, for `opa run --server --bundle`. */
  readonly regoBundle: string;
  /** How the bundle was obtained, for the report. */
  readonly origin: string;
}

interface PolicyCli {
  buildPolicyBundle(opts: { opa: string; output?: string; revision?: string }): Promise<{ output: string }>;
}

export async function prepareBundle(tmp: string): Promise<BenchBundle | null> {
  let file: string | null = null;
  let origin = '';
  if (existsSync(OPA_BIN)) {
    try {
      // Imported by path at run time: the policy CLI is another engineer's work in progress.
      const cliPath = join(REPO_ROOT, 'cli', 'policy.ts');
      const cli = (await import(cliPath)) as Partial<PolicyCli>;
      if (typeof cli.buildPolicyBundle === 'function') {
        const output = join(tmp, 'bundle.tar.gz');
        await cli.buildPolicyBundle({ opa: OPA_BIN, output, revision: 'bench' });
        file = output;
        origin = 'built from policies/ by cli/policy.ts buildPolicyBundle (opa build -t wasm)';
      }
    } catch (err) {
      origin = `policy build failed (${(err as Error).message.split('\n')[0]}); `;
    }
  }
  if (file === null) {
    if (!existsSync(BUILT_POLICY_BUNDLE)) return null;
    file = BUILT_POLICY_BUNDLE;
    origin += 'policies/build/bundle.tar.gz as found';
  }
  const regoBundle = join(tmp, 'opa-rego-bundle.tar.gz');
  await run(
    OPA_BIN,
    ['build', '-r', 'bench-rego', '--ignore', '*_test.rego', '--ignore', 'build', '-o', regoBundle, '.'],
    { cwd: POLICY_DIR },
  );
  return { file, regoBundle, origin };
}

/** `opa run --server` on loopback serving the Rego side of the bundle. */
export function opaServerArgs(port: number, regoBundle: string): string[] {
  return ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--bundle', regoBundle];
}

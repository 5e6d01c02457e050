// `acgs-gateway policy build|test|sign`: thin wrappers around the pinned `opa` binary, so developers,
// CI and `npm start` build the bundle exactly the same way.

import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { BUILT_POLICY_BUNDLE, PACKAGE_ROOT } from '../gateway/util/package-root.js';

// From source (cli/) and from dist/cli/ alike, the package root is the folder holding package.json.
const repoRoot = PACKAGE_ROOT;

export const POLICY_ENTRYPOINTS = ['acgs/gateway/decision', 'acgs/gateway/admin_decision'] as const;
export const DEFAULT_POLICY_DIR = join(repoRoot, 'policies');

/** Honest margin under today's ~99 %: new rules must come with tests, small gaps are tolerated. */
export const DEFAULT_COVERAGE_THRESHOLD = 95;
// Our own build output is never policy; Rego tests stay out of the bundle (but not out of `opa test`).
const TEST_IGNORES = ['build'];
const BUILD_IGNORES = ['*_test.rego', ...TEST_IGNORES];
const SIGNING_ALGS = ['RS256', 'ES256'] as const;

export interface PolicyCliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const defaultIo: PolicyCliIo = {
  env: process.env,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** The opa binary: --opa, else OPA_BIN, else the pinned .tools/bin/opa. */
export function resolveOpaBinary(flag: string | undefined, env: PolicyCliIo['env']): string {
  // opa runs with the policy folder as its working directory, so a relative path is made absolute here.
  const chosen = flag ?? env.OPA_BIN;
  return chosen ? resolve(chosen) : join(repoRoot, '.tools', 'bin', 'opa');
}

export interface BuildOptions {
  readonly opa: string;
  readonly policyDir?: string;
  readonly output?: string;
  readonly revision?: string;
  readonly signingKey?: string;
  readonly signingAlg?: (typeof SIGNING_ALGS)[number];
}

/** Compiles policies/ to a wasm bundle; returns the output path and the revision written to .manifest. */
export async function buildPolicyBundle(opts: BuildOptions): Promise<{ output: string; revision: string }> {
  const policyDir = resolve(opts.policyDir ?? DEFAULT_POLICY_DIR);
  const output = resolve(opts.output ?? BUILT_POLICY_BUNDLE);
  const revision = opts.revision ?? (await defaultRevision(policyDir));
  await mkdir(dirname(output), { recursive: true });
  const tmp = await mkdtemp(join(tmpdir(), 'acgs-opa-'));
  try {
    const capabilities = join(tmp, 'capabilities.json');
    await writeFile(capabilities, JSON.stringify(await wasmCapabilities()));
    const args = [
      'build',
      '-t',
      'wasm',
      '-O=1',
      '--capabilities',
      capabilities,
      '-r',
      revision,
      '-o',
      output,
    ];
    for (const e of POLICY_ENTRYPOINTS) args.push('-e', e);
    for (const i of BUILD_IGNORES) args.push('--ignore', i);
    // Signing needs bundle mode; it also keeps the source tree's layout (data.json at the root).
    if (opts.signingKey) {
      args.push('-b', '--signing-key', resolve(opts.signingKey), '--signing-alg', opts.signingAlg ?? 'RS256');
    }
    // Run inside the policy dir so file names in the bundle are relative, not absolute host paths.
    args.push('.');
    await run(opts.opa, args, { cwd: policyDir });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { output, revision };
}

/**
 * The SDK's capabilities.json lists exactly the builtins opa-wasm can run, but predates Rego v1 and so
 * lacks the `rego_v1` feature that OPA 1.x needs to parse v1 modules. We add the language features only;
 * the builtin list, which is what protects production, is used unchanged.
 */
async function wasmCapabilities(): Promise<Record<string, unknown>> {
  const require = createRequire(import.meta.url);
  // The package's exports hide package.json; its main file sits in src/, capabilities.json one level up.
  const main = require.resolve('@open-policy-agent/opa-wasm');
  const caps = JSON.parse(await readFile(join(dirname(main), '..', 'capabilities.json'), 'utf8'));
  return {
    ...caps,
    features: ['rego_v1', 'keywords_in_refs'],
    future_keywords: ['contains', 'every', 'if', 'in'],
  };
}

/** Git short commit (+ "-dirty") and UTC time; just the time outside a git checkout. */
export async function defaultRevision(dir: string, now = new Date()): Promise<string> {
  const time = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  try {
    const sha = (await capture('git', ['rev-parse', '--short', 'HEAD'], dir)).trim();
    const dirty = (await capture('git', ['status', '--porcelain', '--', '.'], dir)).trim() !== '';
    return `${sha}${dirty ? '-dirty' : ''}-${time}`;
  } catch {
    return time;
  }
}

export interface TestOptions {
  readonly opa: string;
  readonly policyDir?: string;
  readonly threshold?: number;
  readonly verbose?: boolean;
  readonly io?: PolicyCliIo;
}

/** `opa test -v`, then the coverage run; fails when either fails or coverage is under the threshold. */
export async function testPolicies(opts: TestOptions): Promise<{ coverage: number; passed: boolean }> {
  const io = opts.io ?? defaultIo;
  const dir = resolve(opts.policyDir ?? DEFAULT_POLICY_DIR);
  const ignores = TEST_IGNORES.flatMap((i) => ['--ignore', i]);
  const threshold = opts.threshold ?? DEFAULT_COVERAGE_THRESHOLD;
  const tests = await capture(
    opts.opa,
    ['test', '.', ...(opts.verbose === false ? [] : ['-v']), ...ignores],
    dir,
    true,
  );
  io.stdout(tests.out);
  if (tests.code !== 0) return { coverage: 0, passed: false };
  const cov = await capture(opts.opa, ['test', '.', '--coverage', '--format', 'json', ...ignores], dir, true);
  const coverage = Number((JSON.parse(cov.out) as { coverage?: number }).coverage ?? 0);
  const passed = cov.code === 0 && coverage >= threshold;
  io.stdout(`coverage: ${coverage.toFixed(2)}% (threshold ${threshold}%)\n`);
  if (coverage < threshold) io.stderr(`policy coverage ${coverage.toFixed(2)}% is below ${threshold}%\n`);
  return { coverage, passed };
}

/** Writes .signatures.json into an unpacked bundle dir with `opa sign`; packs it when `output` is given. */
export async function signBundleDir(opts: {
  opa: string;
  dir: string;
  signingKey: string;
  signingAlg?: (typeof SIGNING_ALGS)[number];
  output?: string;
}): Promise<void> {
  const dir = resolve(opts.dir);
  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
  await rm(join(dir, '.signatures.json'), { force: true });
  const alg = opts.signingAlg ?? 'RS256';
  const args = ['sign', '--signing-key', resolve(opts.signingKey), '--signing-alg', alg, '--bundle', '.'];
  await run(opts.opa, [...args, '--output-file-path', '.'], { cwd: dir });
  if (opts.output) await packDir(dir, resolve(opts.output));
}

/** tar.gz of a directory with bundle-style absolute names ("/policy.wasm"), like `opa build` writes. */
export async function packDir(dir: string, output: string): Promise<void> {
  const pack = tar.pack();
  const files = await listFiles(dir);
  await mkdir(dirname(output), { recursive: true });
  const done = pipeline(pack, createGzip(), createWriteStream(output));
  for (const file of files) {
    const content = await readFile(join(dir, file));
    pack.entry({ name: `/${file}`, size: content.length, mode: 0o600, mtime: new Date(0) }, content);
  }
  pack.finalize();
  await done;
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full, base)));
    else if (entry.isFile()) out.push(relative(base, full).split('\\').join('/'));
  }
  return out.sort();
}

const HELP = {
  policy: `Usage: acgs-gateway policy <build|test|sign> [options]

  build   compile policies/ to a signed or unsigned wasm bundle
  test    run the Rego unit tests with a coverage threshold
  sign    sign an unpacked bundle directory

Run \`acgs-gateway policy <command> --help\` for the options of each.
`,
  build: `Usage: acgs-gateway policy build [options]

Compiles the Rego in policies/ (Rego tests excluded) to WebAssembly with the pinned opa, checked
against the builtins @open-policy-agent/opa-wasm can run. Entrypoints: ${POLICY_ENTRYPOINTS.join(', ')}.

  -o, --output FILE        bundle to write (default policies/build/bundle.tar.gz)
      --policies DIR       Rego and data.json to compile (default policies/)
      --revision REV       .manifest revision (default: git short commit + UTC time)
      --signing-key FILE   PEM private key; writes .signatures.json (OPA's format)
      --signing-alg ALG    RS256 (default) or ES256
      --opa PATH           opa binary (default $OPA_BIN or .tools/bin/opa)
`,
  test: `Usage: acgs-gateway policy test [options]

Runs \`opa test policies/ -v\`, then fails when line coverage is below the threshold.

      --threshold N        minimum coverage in percent (default ${DEFAULT_COVERAGE_THRESHOLD})
      --policies DIR       (default policies/)
      --opa PATH           opa binary (default $OPA_BIN or .tools/bin/opa)
`,
  sign: `Usage: acgs-gateway policy sign DIR --signing-key FILE [options]

Signs an unpacked bundle directory with \`opa sign\`, writing DIR/.signatures.json.

      --signing-key FILE   PEM private key (required)
      --signing-alg ALG    RS256 (default) or ES256
  -o, --output FILE        also pack DIR into this .tar.gz
      --opa PATH           opa binary (default $OPA_BIN or .tools/bin/opa)
`,
};

/** Entry point for `acgs-gateway policy …`; returns the process exit code. */
export async function runPolicyCommand(argv: string[], io: PolicyCliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(HELP.policy);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'build' && command !== 'test' && command !== 'sign') {
    io.stderr(`unknown policy command: ${command}\n${HELP.policy}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      allowPositionals: command === 'sign',
      options: {
        help: { type: 'boolean', short: 'h' },
        output: { type: 'string', short: 'o' },
        policies: { type: 'string' },
        revision: { type: 'string' },
        'signing-key': { type: 'string' },
        'signing-alg': { type: 'string' },
        threshold: { type: 'string' },
        opa: { type: 'string' },
      },
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${HELP[command]}`);
    return 2;
  }
  if (values.help) {
    io.stdout(HELP[command]);
    return 0;
  }
  const opa = resolveOpaBinary(values.opa as string | undefined, io.env);
  const alg = (values['signing-alg'] as string | undefined) ?? 'RS256';
  if (!(SIGNING_ALGS as readonly string[]).includes(alg)) {
    io.stderr(`--signing-alg must be one of ${SIGNING_ALGS.join(', ')}\n`);
    return 2;
  }
  const signingAlg = alg as (typeof SIGNING_ALGS)[number];
  try {
    if (command === 'build') {
      const { output, revision } = await buildPolicyBundle({
        opa,
        policyDir: values.policies as string | undefined,
        output: values.output as string | undefined,
        revision: values.revision as string | undefined,
        signingKey: values['signing-key'] as string | undefined,
        signingAlg,
      });
      io.stdout(`built ${relative(process.cwd(), output) || output} (revision ${revision})\n`);
      return 0;
    }
    if (command === 'test') {
      const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
      if (threshold !== undefined && !(threshold >= 0 && threshold <= 100)) {
        io.stderr('--threshold must be a number between 0 and 100\n');
        return 2;
      }
      const result = await testPolicies({
        opa,
        policyDir: values.policies as string | undefined,
        threshold,
        io,
      });
      return result.passed ? 0 : 1;
    }
    const dir = positionals[0];
    const key = values['signing-key'] as string | undefined;
    if (!dir || !key) {
      io.stderr(`policy sign needs DIR and --signing-key\n${HELP.sign}`);
      return 2;
    }
    await signBundleDir({
      opa,
      dir,
      signingKey: key,
      signingAlg,
      output: values.output as string | undefined,
    });
    io.stdout(`signed ${dir}\n`);
    return 0;
  } catch (err) {
    io.stderr(`policy ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

function run(cmd: string, args: string[], opts: { cwd: string }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err) =>
      reject(new Error(`cannot run ${cmd}: ${err.message} (install it with scripts/install-opa.sh)`)),
    );
    child.on('close', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(stderr.trim() || `${cmd} exited with ${code}`)),
    );
  });
}

function capture(cmd: string, args: string[], cwd: string): Promise<string>;
function capture(
  cmd: string,
  args: string[],
  cwd: string,
  tolerant: true,
): Promise<{ out: string; code: number }>;
function capture(
  cmd: string,
  args: string[],
  cwd: string,
  tolerant?: boolean,
): Promise<string | { out: string; code: number }> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (!tolerant || typeof err.code !== 'number')) {
        reject(new Error(stderr.trim() || err.message));
        return;
      }
      if (tolerant) resolvePromise({ out: stdout + stderr, code: err ? Number(err.code) : 0 });
      else resolvePromise(stdout);
    });
  });
}

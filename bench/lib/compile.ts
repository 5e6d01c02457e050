// The contender scripts are TypeScript, but running them through tsx would give them a loader thread
// (+~45 MB RSS, +6 threads) the compiled gateway does not have. So they are transpiled once per run to
// plain ESM in bench/dist/ (inside the repo, so their bare imports resolve from node_modules; git and
// biome ignore every dist/).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = join(BENCH_DIR, '..');
const BUILD_DIR = join(BENCH_DIR, 'dist');

export const SCRIPTS = [
  'upstream.ts',
  'servers/fastify-proxy.ts',
  'servers/fast-gateway.ts',
  'servers/authz-adapter.ts',
  'loadgen/paced.ts',
];

/** Transpiles the scripts (no relative imports in them) and returns name → .mjs path. */
export async function compileScripts(): Promise<Record<string, string>> {
  await mkdir(BUILD_DIR, { recursive: true });
  const out: Record<string, string> = {};
  for (const script of SCRIPTS) {
    const source = await readFile(join(BENCH_DIR, script), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        verbatimModuleSyntax: false,
      },
      fileName: script,
    });
    const name = basename(script, '.ts');
    const file = join(BUILD_DIR, `${name}.mjs`);
    await writeFile(file, outputText);
    out[name] = file;
  }
  return out;
}

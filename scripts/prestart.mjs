#!/usr/bin/env node
// `npm start` on a fresh clone: compile the TypeScript and, when the default policy bundle is missing,
// install the pinned OPA CLI and build the bundle, so the one-command start works without other steps.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`prestart: '${command} ${args.join(' ')}' failed`);
    process.exit(result.status ?? 1);
  }
};

run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
// BUILT_POLICY_BUNDLE of gateway/util/package-root.ts; this script runs before the TypeScript is compiled.
const bundle = join(root, 'policies', 'build', 'bundle.tar.gz');
if (!process.env.POLICY_BUNDLE && !existsSync(bundle) && existsSync(join(root, 'dist', 'cli', 'policy.js'))) {
  run('bash', [join(root, 'scripts', 'install-opa.sh')]);
  run(process.execPath, [join(root, 'bin', 'acgs-gateway.js'), 'policy', 'build']);
}

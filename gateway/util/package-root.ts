import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json, whether running from source (tsx) or from dist/. Start-up only. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'config'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot locate the acgs-gateway package root');
}

export const PACKAGE_ROOT = findPackageRoot();

/** Where `npm run policy:build` (and `acgs-gateway policy build`) writes the default policy bundle. */
export const BUILT_POLICY_BUNDLE = join(PACKAGE_ROOT, 'policies', 'build', 'bundle.tar.gz');

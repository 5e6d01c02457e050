#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm run build` (or `npm start`) produces it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(compiled)) {
  process.stderr.write('acgs-gateway: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
const { main } = await import(compiled);
process.exitCode = await main(process.argv.slice(2));

// Two policy bundles built by the real opa from policies/ (as test/e2e/pipeline.test.ts does): the
// project's own, and one that also lets anonymous clients write to one service. Swapping them under load
// changes the answer to a POST from 403 to 200 and back.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPolicyBundle } from '../../helpers/bundle.js';

const root = new URL('../../..', import.meta.url).pathname;

export function buildBundles(service: string): { strict: string; open: string } {
  const work = mkdtempSync(join(tmpdir(), 'acgs-chaos-bundles-'));
  const strict = join(work, 'strict.tar.gz');
  buildPolicyBundle(join(root, 'policies'), strict);
  const openDir = join(work, 'policies-open');
  cpSync(join(root, 'policies'), openDir, { recursive: true, filter: (src) => !src.includes('/build') });
  const dataFile = join(openDir, 'data.json');
  const data = JSON.parse(readFileSync(dataFile, 'utf8'));
  data.acgs.config.services[service].public_methods = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
  writeFileSync(dataFile, JSON.stringify(data, null, 2));
  const open = join(work, 'open.tar.gz');
  buildPolicyBundle(openDir, open);
  return { strict, open };
}

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InfraCheck } from './types.js';

/** Values that mean "someone copied the example and did not replace it". */
const PLACEHOLDERS = [/change_?me/i, /example/i, /^x+$/i, /^(secret|password|token|todo|xxx|replace.*)$/i];

export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  return v === '' || PLACEHOLDERS.some((re) => re.test(v));
}

/**
 * The secrets directory: it exists, holds every required file, every file is mode 600 and none holds a
 * placeholder. `*.example` and README files are documentation, not secrets, and are skipped.
 */
export async function secretsChecks(dir: string, required: readonly string[]): Promise<InfraCheck[]> {
  const generate = `acgs-gateway secrets generate --dir ${dir}`;
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    names = (await readdir(dir)).filter((n) => !n.endsWith('.example') && !/^readme/i.test(n));
  } catch (error) {
    return [
      {
        name: 'secrets.dir',
        ok: false,
        measured: `missing (${(error as Error).message})`,
        wanted: 'a directory',
        fix: generate,
      },
    ];
  }
  const checks: InfraCheck[] = [{ name: 'secrets.dir', ok: true, measured: dir, wanted: 'a directory' }];
  const missing = required.filter((r) => !names.includes(r));
  checks.push({
    name: 'secrets.required',
    ok: missing.length === 0,
    measured: missing.length === 0 ? 'all present' : `missing ${missing.join(', ')}`,
    wanted: required.join(', ') || '(none)',
    ...(missing.length === 0 ? {} : { fix: generate }),
  });
  for (const name of names.sort()) {
    const file = join(dir, name);
    const info = await stat(file);
    if (!info.isFile()) continue;
    const mode = info.mode & 0o777;
    checks.push({
      name: `secrets.${name}.mode`,
      ok: mode === 0o600,
      measured: mode.toString(8),
      wanted: '600',
      ...(mode === 0o600 ? {} : { fix: `chmod 600 ${file}` }),
    });
    const value = await readFile(file, 'utf8');
    const placeholder = isPlaceholder(value);
    checks.push({
      name: `secrets.${name}.value`,
      ok: !placeholder,
      // Never print a secret: only whether it looks like a placeholder.
      measured: placeholder ? 'placeholder or empty' : `${value.trim().length} characters`,
      wanted: 'a generated value, not a placeholder',
      ...(placeholder
        ? { fix: `write a real value into ${file}, or regenerate every secret: ${generate} --force` }
        : {}),
    });
  }
  return checks;
}

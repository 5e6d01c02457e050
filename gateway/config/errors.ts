import type { z } from 'zod';

/** A configuration that cannot be used; `problems` lists every issue with its path. Exit code 2. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Renders a zod path the way people write it: services.ac.green.upstreams[0]. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'string' && /^\d+$/.test(key)) {
      out += `[${key}]`;
      continue;
    }
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((issue) => {
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.join(', ')}`;
    if (issue.code === 'invalid_key' && issue.issues[0]) message = issue.issues[0].message;
    return `${formatPath(issue.path, prefix)}: ${message}`;
  });
}

// config/README.md is the reference operators read; it is checked against the schema both ways, so a
// new field cannot go undocumented and a removed one cannot linger in the reference.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import { configSchema } from '../../gateway/config/schema.js';
import { pipelineConfigSchema } from '../../release/pipeline/config.js';
import { criteriaSchema } from '../../release/validate/criteria.js';

/**
 * Sections the gateway accepts and ignores, owned by another command: their fields come from that
 * command's schema. `pipeline:` is the same per environment (`<environment>.` in the reference); the
 * `validation:` criteria may be repeated under `staging:`/`production:`, documented once.
 */
const OWNED_ELSEWHERE: Record<string, z.ZodType> = {
  validation: criteriaSchema,
  pipeline: pipelineConfigSchema,
};
const normalise = (path: string) =>
  path.replace(/^pipeline\.(staging|production)\./, 'pipeline.<environment>.');

const README = readFileSync(join(new URL('../..', import.meta.url).pathname, 'config', 'README.md'), 'utf8');

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Unwraps optional/default/prefault/nullable/transform layers down to the schema that holds the shape. */
function core(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/**
 * Every field path of the schema as the reference writes it: `server.stickyCookie.name`,
 * `rateLimit.limits[].window`. A field whose value is a free-form map (forwardHeaders) or a union of
 * shapes (a service's auth) is one entry; services are documented per service (`services.<name>.`).
 */
function schemaPaths(schema: z.ZodType, prefix: string, out: Set<string>): void {
  const def = defOf(core(schema));
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const childDef = defOf(core(child));
      if (childDef.type === 'object') schemaPaths(child, path, out);
      else if (
        childDef.type === 'array' &&
        childDef.element &&
        defOf(core(childDef.element)).type === 'object'
      ) {
        out.add(`${path}[]`);
        schemaPaths(childDef.element, `${path}[]`, out);
      } else if (childDef.type === 'record' && key === 'services' && childDef.valueType) {
        schemaPaths(childDef.valueType, 'services.<name>', out);
      } else out.add(path);
    }
  }
}

/** Field paths documented in the reference's tables, with each `## \`section:\`` heading as prefix. */
function documentedPaths(): Set<string> {
  const out = new Set<string>();
  let sections: string[] = [];
  for (const line of README.split('\n')) {
    const heading = /^## (.*)$/.exec(line);
    if (heading) {
      sections = [...heading[1]!.matchAll(/`([A-Za-z]+):`/g)].map((m) => m[1]!);
      continue;
    }
    const row = /^\| ([^|]+) \|/.exec(line);
    if (!row || sections.length === 0 || row[1]!.startsWith('Field') || row[1]!.startsWith('---')) continue;
    for (const cell of row[1]!.matchAll(/`([^`]+)`/g)) {
      const field = cell[1]!;
      // A heading naming several sections writes its rows with the section (`redis.url`).
      const path = sections.length > 1 ? field : `${sections[0]}.${field}`;
      out.add(sections[0] === 'services' ? path.replace(/^services\./, 'services.<name>.') : path);
    }
  }
  return out;
}

describe('config/README.md, the configuration reference', () => {
  const all = new Set<string>();
  schemaPaths(configSchema, '', all);
  for (const [section, schema] of Object.entries(OWNED_ELSEWHERE)) {
    all.delete(section);
    schemaPaths(schema, section, all);
  }
  const inSchema = new Set([...all].map(normalise));
  const documented = documentedPaths();

  test('the walk of the schema finds what it should (guards the walk itself)', () => {
    for (const path of [
      'server.port',
      'server.stickyCookie.name',
      'rateLimit.limits[].window',
      'auth.cache.maxTtlMs',
    ])
      assert.ok(inSchema.has(path), `${path} in ${[...inSchema].join(', ')}`);
  });

  test('documents every field of the schema', () => {
    const missing = [...inSchema].filter((path) => {
      if (documented.has(path)) return false;
      // A group documented as one row (`blue.upstreams, green.upstreams`, `demo.blue`) covers its fields.
      return ![...documented].some((d) => path.startsWith(`${d}.`) || path.startsWith(`${d}[`));
    });
    assert.deepEqual(missing, [], `add these to config/README.md: ${missing.join(', ')}`);
  });

  test('documents no field the schema does not have', () => {
    const stale = [...documented].filter((d) => {
      if (inSchema.has(d)) return false;
      // A documented group (`limits[]`, `demo.blue`) is real when some field lies under it.
      return ![...inSchema].some((path) => path.startsWith(`${d}.`) || path.startsWith(`${d}[`));
    });
    assert.deepEqual(stale, [], `remove or fix in config/README.md: ${stale.join(', ')}`);
  });
});

// Properties of configuration loading (gateway/config/load.ts): whatever document or file an operator
// writes, the only failure is a ConfigError whose every line starts with the path of the problem; a
// valid document resolves to what it says, and survives a YAML round trip unchanged.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ConfigError } from '../../gateway/config/errors.js';
import {
  EMBEDDED_CONFIG,
  loadConfig,
  type ResolvedConfig,
  resolveConfig,
} from '../../gateway/config/load.js';
import { configSchema } from '../../gateway/config/schema.js';
import { params } from './support.js';

/** Every top-level section the schema knows (a new module's section counts at once). */
const SECTIONS = Object.keys(configSchema.shape);
const NO_ENV: NodeJS.ProcessEnv = {};

/** Every problem names where it is: `(root)`, a section path (`services.ac.blue.upstreams[0]`) or a variable. */
function assertProblemsHavePaths(err: unknown, what: string): void {
  if (!(err instanceof ConfigError)) {
    assert.fail(`${what}: threw ${(err as Error)?.name}: ${(err as Error)?.message}, not a ConfigError`);
  }
  assert.ok(err.problems.length > 0, `${what}: a ConfigError with no problem`);
  for (const problem of err.problems) {
    // A YAML syntax error has a line, not a path.
    if (/^not valid YAML( at line \d+)?: /.test(problem)) continue;
    const head = /^(\(root\)|[A-Za-z]+)[.[:]/.exec(problem);
    assert.ok(
      head !== null &&
        (head[1] === '(root)' || SECTIONS.includes(head[1]!) || /^[A-Z][A-Z0-9_]+$/.test(head[1]!)),
      `${what}: problem does not start with a path: ${problem}`,
    );
  }
}

function resolves(doc: unknown): ResolvedConfig | ConfigError {
  try {
    return resolveConfig(doc, { env: NO_ENV });
  } catch (err) {
    assertProblemsHavePaths(err, JSON.stringify(doc)?.slice(0, 300) ?? String(doc));
    return err as ConfigError;
  }
}

// --- valid documents ---------------------------------------------------------------------------------

const durationSpelling = fc
  .tuple(fc.integer({ min: 1, max: 120_000 }), fc.constantFrom('ms', 's', 'n'))
  .map(([ms, unit]): [number | string, number] =>
    unit === 'ms' ? [`${ms}ms`, ms] : unit === 's' ? [`${ms / 1000}s`, ms] : [ms, ms],
  );
const upstream = fc
  .tuple(
    fc.constantFrom('http', 'https'),
    fc.constantFrom('127.0.0.1', 'blue.internal', '[::1]'),
    fc.integer({ min: 1, max: 65535 }),
    fc.constantFrom('', '/', '/base', '/base//'),
  )
  .map(([scheme, host, port, path]) => `${scheme}://${host}:${port}${path}`);
const pool = fc.array(upstream, { minLength: 1, maxLength: 3 }).map((upstreams) => ({ upstreams }));
const service = fc.record(
  {
    stable: fc.constantFrom('blue', 'green'),
    weights: fc.record({ green: fc.integer({ min: 0, max: 100 }) }),
    failover: fc.boolean(),
    blue: pool,
    green: pool,
    timeouts: fc.record({ connect: durationSpelling, headers: durationSpelling }, { requiredKeys: [] }),
  },
  { requiredKeys: ['blue', 'green'] },
);
const steps = fc
  .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 })
  .map((s) => [...s.sort((a, b) => a - b), 100]);
const cidr = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, bits]) => `${ip}/${bits}`),
  fc.ipV4(),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, bits]) => `${ip}/${bits}`),
);
const validDoc = fc.record(
  {
    services: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), service, { minKeys: 1, maxKeys: 4 }),
    server: fc.record(
      { trustedProxies: fc.array(cidr, { maxLength: 3 }), accessLog: fc.boolean() },
      { requiredKeys: [] },
    ),
    rollout: fc.record(
      {
        defaults: fc.record(
          { steps, maxErrorRate: fc.double({ min: 0, max: 1, noNaN: true }) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    ),
    logging: fc.record({
      level: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    }),
  },
  { requiredKeys: ['services'] },
);

/** The document with its durations written as the test spelled them (generators carry [spelling, ms]). */
function spelled(doc: unknown, pick: 0 | 1): unknown {
  if (Array.isArray(doc)) {
    if (
      doc.length === 2 &&
      (typeof doc[0] === 'string' || typeof doc[0] === 'number') &&
      typeof doc[1] === 'number' &&
      (doc as { __duration?: boolean }).__duration
    ) {
      return doc[pick];
    }
    return doc.map((d) => spelled(d, pick));
  }
  if (doc !== null && typeof doc === 'object') {
    return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, spelled(v, pick)]));
  }
  return doc;
}
// Durations are tagged so spelled() can tell them from any other two-element array.
const taggedDoc = validDoc.map((doc) => {
  for (const s of Object.values(doc.services)) {
    for (const pair of Object.values(s.timeouts ?? {})) Object.assign(pair as object, { __duration: true });
  }
  return doc;
});

/** A generated service as written, durations in ms. */
interface InputService {
  readonly stable?: string;
  readonly weights?: { readonly green: number };
  readonly blue: { readonly upstreams: readonly string[] };
  readonly green: { readonly upstreams: readonly string[] };
  readonly timeouts?: Record<string, number>;
}

function comparable(config: ResolvedConfig): unknown {
  const { trustedProxies: _t, ...rest } = config;
  return rest;
}

describe('configuration properties', () => {
  test('a valid document resolves to what it says: names, prefixes, upstreams, weights, durations in ms', () => {
    fc.assert(
      fc.property(taggedDoc, (tagged) => {
        const doc = spelled(tagged, 0) as { services: Record<string, Record<string, unknown>> };
        const inMs = spelled(tagged, 1) as typeof doc;
        const config = resolves(doc);
        assert.ok(
          !(config instanceof ConfigError),
          `valid document refused: ${config instanceof ConfigError ? config.problems.join('; ') : ''}`,
        );
        assert.deepEqual(config.services.map((s) => s.name).sort(), Object.keys(doc.services).sort());
        for (const s of config.services) {
          const input = inMs.services[s.name] as unknown as InputService;
          assert.equal(s.prefix, `/api/${s.name}/`);
          assert.equal(s.weights.green, input.weights?.green ?? 0);
          assert.equal(s.stable, input.stable ?? 'blue');
          for (const color of ['blue', 'green'] as const) {
            assert.deepEqual(
              s[color].upstreams,
              input[color].upstreams.map((u) => u.replace(/\/+$/, '')),
            );
          }
          for (const [name, ms] of Object.entries(input.timeouts ?? {})) {
            assert.equal(s.timeouts?.[name as 'connect'], ms, `timeouts.${name}`);
          }
        }
      }),
      params(300),
    );
  });

  test('a valid document survives a YAML round trip unchanged', () => {
    fc.assert(
      fc.property(taggedDoc, (tagged) => {
        const doc = spelled(tagged, 0);
        const direct = resolves(doc);
        const again = resolves(parseYaml(stringifyYaml(doc)));
        assert.ok(!(direct instanceof ConfigError) && !(again instanceof ConfigError));
        assert.deepEqual(comparable(again), comparable(direct));
      }),
      params(200),
    );
  });

  test('random documents fail only with a ConfigError whose every problem starts with its path', () => {
    const anyDoc = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(fc.constantFrom(...SECTIONS, 'extra'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
    );
    fc.assert(
      fc.property(anyDoc, (doc) => {
        resolves(doc);
      }),
      params(1000),
    );
  });

  test('a valid document with one value replaced by anything: accepted, or refused with paths', () => {
    fc.assert(
      fc.property(taggedDoc, fc.array(fc.nat()), fc.jsonValue({ maxDepth: 2 }), (tagged, route, value) => {
        const doc = spelled(tagged, 0) as Record<string, unknown>;
        // Walk a random route into the document and replace what is there.
        let node: Record<string, unknown> = doc;
        let key = '';
        for (const [depth, n] of route.entries()) {
          const keys = Object.keys(node);
          if (keys.length === 0) break;
          key = keys[n % keys.length]!;
          const next = node[key];
          if (depth === route.length - 1 || next === null || typeof next !== 'object') break;
          node = next as Record<string, unknown>;
        }
        if (key !== '') node[key] = value;
        resolves(doc);
      }),
      params(1000),
    );
  });

  test('a policy section that is not a mapping is refused at `policy`, not replaced by the defaults', () => {
    const notMapping = fc.oneof(
      fc.integer(),
      fc.string({ minLength: 1, maxLength: 10 }),
      fc.boolean(),
      fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(notMapping, (policy) => {
        const config = resolves({
          services: { ac: { blue: { upstreams: ['http://a'] }, green: { upstreams: ['http://b'] } } },
          policy,
        });
        assert.ok(config instanceof ConfigError, `policy: ${JSON.stringify(policy)} was accepted`);
        assert.ok(
          config.problems.some((p) => /^policy: .*expected object/.test(p)),
          config.problems.join('; '),
        );
      }),
      params(300),
    );
  });

  // Regression: addCidr read the prefix with Number(bits), so '10.0.0.1/' (bits '') became /0 and trusted
  // every IPv4 address ('::/' every IPv6); ' 8', '0x8', '1e1' and '8/9' were accepted too.
  test('server.trustedProxies accepts only real CIDRs: nothing malformed is widened to trust everyone', () => {
    // A malformed entry must be refused; what is accepted must not trust an address outside it.
    const entry = fc.oneof(
      cidr,
      fc
        .tuple(fc.ipV4(), fc.constantFrom('', ' 8', '0x8', '1e1', '8/9', '-1', '33', '+8'))
        .map(([ip, s]) => `${ip}/${s}`),
    );
    fc.assert(
      fc.property(entry, (proxy) => {
        const doc = {
          services: { ac: { blue: { upstreams: ['http://a'] }, green: { upstreams: ['http://b'] } } },
          server: { trustedProxies: [proxy] },
        };
        const config = resolves(doc);
        const bits = proxy.includes('/') ? proxy.slice(proxy.indexOf('/') + 1) : null;
        const wellFormed = bits === null || /^(0|[1-9]\d{0,2})$/.test(bits);
        if (!wellFormed) assert.ok(config instanceof ConfigError, `${proxy} was accepted`);
      }),
      params(500),
    );
  });

  // Regression: `timeoutsSchema.partial()` kept the field defaults (zod 4), so a service that set only
  // `headers` resolved to { connect: 2000, headers, body: 30000 }, and spread over proxy.timeouts the
  // operator's proxy-wide connect/body values were silently lost.
  test('a service that overrides some timeouts inherits the others from proxy.timeouts', () => {
    fc.assert(
      fc.property(
        durationSpelling,
        durationSpelling,
        durationSpelling,
        ([connect, connectMs], [body, bodyMs], [headers]) => {
          const config = resolves({
            proxy: { timeouts: { connect, body } },
            services: {
              ac: {
                timeouts: { headers },
                blue: { upstreams: ['http://a'] },
                green: { upstreams: ['http://b'] },
              },
            },
          });
          assert.ok(!(config instanceof ConfigError));
          const merged = { ...config.proxy.timeouts, ...config.services[0]!.timeouts };
          assert.equal(merged.connect, connectMs);
          assert.equal(merged.body, bodyMs);
        },
      ),
      params(100),
    );
  });

  describe('files', () => {
    let dir = '';
    let embedded = '';
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'acgs-fuzz-config-'));
      embedded = await readFile(EMBEDDED_CONFIG, 'utf8');
    });
    after(() => rm(dir, { recursive: true, force: true }));

    test('a mutated gateway.yaml loads or fails with a ConfigError, never anything else', async () => {
      const edit = fc.oneof(
        fc.tuple(fc.constant('delete-line' as const), fc.nat(), fc.constant('')),
        fc.tuple(fc.constant('duplicate-line' as const), fc.nat(), fc.constant('')),
        fc.tuple(
          fc.constant('insert' as const),
          fc.nat(),
          fc.constantFrom(
            ':',
            '- ',
            '  ',
            '\t',
            '{',
            '[',
            '"',
            "'",
            '&a',
            '*a',
            '!!binary',
            '<<: *a',
            '#',
            '%YAML 1.2',
            '---',
            '...',
            '\u0000',
            'é',
          ),
        ),
      );
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
          const lines = embedded.split('\n');
          for (const [kind, at, text] of edits) {
            const i = at % lines.length;
            if (kind === 'delete-line') lines.splice(i, 1);
            else if (kind === 'duplicate-line') lines.splice(i, 0, lines[i]!);
            else {
              const line = lines[i]!;
              const col = at % (line.length + 1);
              lines[i] = line.slice(0, col) + text + line.slice(col);
            }
          }
          const file = join(dir, `mutant-${n++}.yaml`);
          await writeFile(file, lines.join('\n'));
          try {
            await loadConfig({ file, env: NO_ENV });
          } catch (err) {
            assertProblemsHavePaths(err, `mutant:\n${lines.join('\n')}`);
          }
        }),
        params(300),
      );
    });
  });
});

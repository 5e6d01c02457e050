import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../gateway/config/errors.js';
import { loadConfig, resolveConfig } from '../../gateway/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'acgs-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(doc: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolveConfig(doc, { env });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const valid = {
  services: {
    ac: { blue: { upstreams: ['http://127.0.0.1:1'] }, green: { upstreams: ['http://127.0.0.1:2'] } },
  },
};

describe('configuration', () => {
  test('the embedded default is valid and names the five services', async () => {
    const config = await loadConfig({ env: {} });
    assert.equal(config.embedded, true);
    assert.deepEqual(
      config.services.map((s) => s.name),
      ['ac', 'integrity', 'fv', 'gs', 'pgc'],
    );
    assert.equal(config.services[0]!.prefix, '/api/ac/');
    assert.equal(config.server.port, 8080);
    assert.equal(config.admin.host, '127.0.0.1');
  });

  test('every problem is listed with its path', () => {
    const problems = problemsOf({
      server: { port: 'eighty', maxBodyBytes: -1 },
      proxy: { timeouts: { connect: 'soon' } },
      services: {
        ac: { blue: { upstreams: ['not a url'] }, green: { upstreams: [] }, stable: 'purple' },
        Bad_Name: valid.services.ac,
      },
      unknownTopLevel: 1,
    });
    const expected = [
      /^server\.port: /,
      /^server\.maxBodyBytes: /,
      /^proxy\.timeouts\.connect: must be a duration/,
      /^services\.ac\.blue\.upstreams\[0\]: must be a URL$/,
      /^services\.ac\.green\.upstreams: must list at least one upstream URL$/,
      /^services\.ac\.stable: must be 'blue' or 'green'$/,
      /^services\.Bad_Name: service names are lower-case words/,
      /unknown field\(s\) unknownTopLevel/,
    ];
    for (const pattern of expected)
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `missing ${pattern}\n${problems.join('\n')}`,
      );
  });

  test('environment knobs override the file and are validated', () => {
    const config = resolveConfig(valid, {
      env: {
        GATEWAY_PORT: '9090',
        ADMIN_PORT: '9999',
        TRUSTED_PROXIES: '10.0.0.0/8, ::1/128',
        ADMIN_TOKENS: 'ops:0123456789abcdef0123',
      },
    });
    assert.equal(config.server.port, 9090);
    assert.equal(config.admin.port, 9999);
    assert.ok(config.trustedProxies.check('10.1.2.3', 'ipv4'));
    assert.deepEqual(config.adminTokens, [{ name: 'ops', token: '0123456789abcdef0123' }]);

    const problems = problemsOf(valid, {
      GATEWAY_PORT: 'x',
      TRUSTED_PROXIES: '10.0.0.0/99',
      ADMIN_TOKENS: 'short:abc',
      REDIS_URL: 'http://x',
    });
    assert.ok(problems.some((p) => p.startsWith('GATEWAY_PORT: must be a port number')));
    assert.ok(problems.some((p) => p.startsWith("server.trustedProxies[0]: '10.0.0.0/99' is not a CIDR")));
    assert.ok(problems.some((p) => p.startsWith('ADMIN_TOKENS[0]: must be name:token')));
    assert.ok(problems.some((p) => p.startsWith('REDIS_URL: must be a redis://')));
  });

  test('the admin plane refuses a non-loopback address without tokens', () => {
    const problems = problemsOf({ ...valid, admin: { host: '0.0.0.0' } });
    assert.ok(
      problems.some((p) => p.startsWith('admin.host: ') && p.includes('ADMIN_TOKENS')),
      problems.join('\n'),
    );
    assert.deepEqual(
      problemsOf({ ...valid, admin: { host: '0.0.0.0' } }, { ADMIN_TOKENS: 'ops:0123456789abcdef0123' }),
      [],
    );
  });

  test('two services on one prefix are refused', () => {
    const problems = problemsOf({
      services: { ac: { ...valid.services.ac, prefix: '/x/' }, gs: { ...valid.services.ac, prefix: '/x/' } },
    });
    assert.ok(problems.some((p) => p.includes('already used by service ac')));
  });

  test('auth and rateLimit sections are validated with their paths; JWT env problems name the variable', () => {
    const problems = problemsOf(
      {
        ...valid,
        auth: { keys: [{ algorithms: [] }] },
        rateLimit: { limits: [{ name: 'a', limit: 0, window: 'often' }] },
      },
      { JWT_SECRET: 'too-short' },
    );
    assert.ok(
      problems.some((p) => p.startsWith('auth.keys[0]')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('rateLimit.limits[0].limit')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('rateLimit.limits[0].window')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('JWT_SECRET: ')),
      problems.join('\n'),
    );
  });

  test('start with an invalid file exits 2 and prints every problem', () => {
    const path = file(
      'bad.yaml',
      'server:\n  port: 99999\nservices:\n  ac:\n    blue: { upstreams: [ftp://x] }\n    green: { upstreams: [http://127.0.0.1:1] }\n',
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start', '--config', path], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, ADMIN_TOKENS: '' },
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /server\.port: /);
    assert.match(run.stderr, /services\.ac\.blue\.upstreams\[0\]: must be a URL/);
  });

  test('YAML syntax errors and missing files exit 2 with the reason', () => {
    const broken = file('broken.yaml', 'services: [unclosed\n');
    for (const path of [broken, join(dir, 'missing.yaml')]) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start', '--config', path], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /not valid YAML|cannot read the file/);
    }
  });

  test('--help on every command, exit 2 on an unknown one', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start', '--help'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: acgs-gateway start/);
    const unknown = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'frobnicate'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(unknown.status, 2);
  });
});

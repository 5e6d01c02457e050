// config/env/*.env.example document every environment variable the code reads, and each example, with
// its CHANGE_ME placeholders filled in, is a configuration the gateway accepts (with the production
// gateway.yaml); left as it is, it is refused with exit code 2.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../gateway/config/errors.js';
import { loadConfig } from '../../gateway/config/load.js';
import { DOCKER, REPO, run } from './helpers.js';

const EXAMPLES = ['staging', 'production'].map((name) => join(REPO, 'config', 'env', `${name}.env.example`));

/** Where configuration is read from the environment: gateway/config/ and the CLI (STYLE.md rule 4). */
function configSources(): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(REPO, 'gateway', 'config')))
    if (entry.endsWith('.ts')) files.push(join(REPO, 'gateway', 'config', entry));
  for (const entry of readdirSync(join(REPO, 'cli')))
    if (entry.endsWith('.ts')) files.push(join(REPO, 'cli', entry));
  return files;
}

/** Every runtime source file outside gateway/config/ (which must never read the environment). */
function runtimeSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) {
        if (full !== join(REPO, 'gateway', 'config')) walk(full);
      } else if (entry.endsWith('.ts')) files.push(full);
    }
  };
  for (const dir of ['core', 'gateway', 'rollout']) walk(join(REPO, dir));
  return files;
}

/**
 * Variable names the code reads: `env.NAME`, `env['NAME']`, and upper-case NAME_WITH_UNDERSCORE string
 * literals (names handed to helpers such as envValue(env, 'JWT_SECRET') or port('GATEWAY_PORT', …)).
 */
function variablesReadByCode(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of configSources()) {
    const text = readFileSync(file, 'utf8');
    const where = relative(REPO, file);
    for (const m of text.matchAll(/\benv\s*\.\s*([A-Z][A-Z0-9_]*)\b/g)) found.set(m[1]!, where);
    for (const m of text.matchAll(/\benv\s*\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g)) found.set(m[1]!, where);
    for (const m of text.matchAll(/['"]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"]/g)) found.set(m[1]!, where);
  }
  return found;
}

/** Variables the compose files interpolate (`${NAME}`, `${NAME:-default}`, `${NAME:?message}`). */
function variablesReadByCompose(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of readdirSync(DOCKER).filter((f) => /^docker-compose.*\.yml$/.test(f))) {
    const text = readFileSync(join(DOCKER, file), 'utf8');
    for (const m of text.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)) found.set(m[1]!, `docker/${file}`);
  }
  return found;
}

interface EnvLine {
  readonly name: string;
  readonly value: string;
  /** `# NAME=…`: documented, unset by default. */
  readonly commented: boolean;
  readonly line: number;
}

function parseEnvExample(file: string): { lines: string[]; vars: EnvLine[] } {
  const lines = readFileSync(file, 'utf8').split('\n');
  const vars: EnvLine[] = [];
  lines.forEach((text, i) => {
    const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(text);
    if (m) vars.push({ name: m[2]!, value: m[3]!, commented: m[1] !== undefined, line: i });
  });
  return { lines, vars };
}

/** The active assignments as an environment, like `docker compose --env-file` would pass them. */
function environmentOf(file: string): Record<string, string> {
  return Object.fromEntries(
    parseEnvExample(file)
      .vars.filter((v) => !v.commented)
      .map((v) => [v.name, v.value]),
  );
}

const secret = () => randomBytes(24).toString('base64url');

/** What an operator does with the example: fill in every CHANGE_ME, point paths at this machine. */
function filledIn(env: Record<string, string>, auditDir: string): Record<string, string> {
  const out = { ...env };
  out.ADMIN_TOKENS = env.ADMIN_TOKENS!.replace(/:CHANGE_ME/g, () => `:${secret()}`);
  if (out.ADMIN_TOKEN === 'CHANGE_ME') out.ADMIN_TOKEN = out.ADMIN_TOKENS.split(',')[0]!.split(':')[1]!;
  if (out.JWT_SECRET === 'CHANGE_ME') out.JWT_SECRET = randomBytes(48).toString('base64');
  if (out.POLICY_VERIFICATION_KEY === 'CHANGE_ME') {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    out.POLICY_VERIFICATION_KEY = publicKey
      .export({ type: 'spki', format: 'pem' })
      .toString()
      .replace(/\n/g, '\\n');
  }
  // The compose stack's own values: a webhook and the service images.
  for (const [name, value] of Object.entries(out)) {
    if (value !== 'CHANGE_ME') continue;
    if (name === 'ALERT_WEBHOOK_URL') out[name] = 'https://alerts.invalid/acgs';
    else if (/^ACGS_[A-Z]+_(BLUE|GREEN)_IMAGE$/.test(name))
      out[name] = `registry.invalid/acgs/${name.toLowerCase()}:1.0.0`;
  }
  out.GATEWAY_CONFIG = join(DOCKER, 'gateway', 'gateway.yaml');
  out.AUDIT_LOG = join(auditDir, 'audit.jsonl');
  for (const [name, value] of Object.entries(out))
    assert.notEqual(value, 'CHANGE_ME', `${name} was filled in`);
  return out;
}

describe('config/env/*.env.example', () => {
  const read = new Map([...variablesReadByCompose(), ...variablesReadByCode()]);

  test('the compose scan finds the stack variables (guards the scan itself)', () => {
    const compose = variablesReadByCompose();
    for (const name of [
      'ACGS_ENVIRONMENT',
      'ALERT_WEBHOOK_URL',
      'ACGS_AC_BLUE_IMAGE',
      'ACGS_PGC_GREEN_IMAGE',
    ])
      assert.ok(compose.has(name), `${name} is found in the compose files`);
  });

  test('the policy bundle is the one baked into the image: ready without any URL, not refused as unsigned', () => {
    const gatewayYaml = readFileSync(join(DOCKER, 'gateway', 'gateway.yaml'), 'utf8');
    const baked = /^\s*bundle:\s*(\S+)/m.exec(gatewayYaml)?.[1];
    assert.equal(baked, '/app/policies/build/bundle.tar.gz');
    // The Dockerfile's runtime stage: WORKDIR /app, COPY --from=build /app/policies/build ./policies/build.
    assert.match(
      readFileSync(join(DOCKER, 'Dockerfile'), 'utf8'),
      /COPY [^\n]*--from=build \/app\/policies\/build \.\/policies\/build/,
    );
    for (const file of EXAMPLES) {
      const env = environmentOf(file);
      assert.equal(env.POLICY_BUNDLE, baked, `${relative(REPO, file)}: POLICY_BUNDLE is the baked bundle`);
      assert.doesNotMatch(
        readFileSync(file, 'utf8'),
        /example\.com\/[^\n]*bundle/,
        'no placeholder bundle URL',
      );
      // A verification key would refuse the unsigned baked bundle and keep every replica not ready.
      assert.equal(
        env.POLICY_VERIFICATION_KEY,
        undefined,
        `${relative(REPO, file)}: no verification key by default`,
      );
      assert.equal(env.ACGS_ENVIRONMENT, /staging/.test(file) ? 'staging' : 'production');
    }
  });

  test('no runtime module reads the environment: one configuration path', () => {
    const readers = runtimeSources().filter((file) => /process\.env\b/.test(readFileSync(file, 'utf8')));
    assert.deepEqual(
      readers.map((f) => relative(REPO, f)),
      [],
    );
  });

  test('the scan finds the variables of the brief (guards the scan itself)', () => {
    for (const name of [
      'GATEWAY_CONFIG',
      'GATEWAY_PORT',
      'ADMIN_TOKENS',
      'REDIS_URL',
      'TRUSTED_PROXIES',
      'JWT_SECRET',
      'JWKS_URL',
      'POLICY_BUNDLE',
      'ADMIN_TOKEN',
    ]) {
      assert.ok(read.has(name), `${name} is found in the code`);
    }
  });

  for (const file of EXAMPLES) {
    const name = relative(REPO, file);

    test(`${name} documents every variable the code reads, each with a comment`, () => {
      const { lines, vars } = parseEnvExample(file);
      const documented = new Set(vars.map((v) => v.name));
      const missing = [...read]
        .filter(([v]) => !documented.has(v))
        .map(([v, where]) => `${v} (read in ${where})`);
      assert.deepEqual(missing, [], `add these to ${name} with a comment`);
      for (const v of vars) {
        assert.ok(read.has(v.name), `${name}: ${v.name} is read neither by the code nor by compose (stale?)`);
        // The line above is a comment: either the description or a preceding commented assignment's.
        assert.match(lines[v.line - 1] ?? '', /^#/, `${name}:${v.line + 1} ${v.name} has a comment above it`);
      }
      assert.equal(documented.size, vars.length, `${name}: no variable appears twice`);
    });

    test(`${name}, filled in, is accepted with the production gateway.yaml`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'acgs-env-'));
      try {
        const env = filledIn(environmentOf(file), dir);
        const config = await loadConfig({ env });
        assert.equal(config.logging.level, env.LOG_LEVEL);
        assert.equal(config.admin.host, env.ADMIN_HOST);
        assert.equal(config.redis.url, env.REDIS_URL);
        assert.equal(config.adminTokens.length, env.ADMIN_TOKENS!.split(',').length);
        assert.ok(config.trustedProxies.check('172.28.1.10', 'ipv4'), 'nginx on the edge network is trusted');
        assert.ok(config.auth, 'the JWT stage is configured');
        assert.equal(config.auth.issuer, env.JWT_ISSUER);
        assert.equal(config.policy?.bundle, env.POLICY_BUNDLE);
        assert.equal(config.rollout.defaults.intervalMs, 60_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test(`${name}, left with its CHANGE_ME placeholders, is refused by \`acgs-gateway start\` with exit code 2`, async () => {
      const env = { ...environmentOf(file), GATEWAY_CONFIG: join(DOCKER, 'gateway', 'gateway.yaml') };
      await assert.rejects(loadConfig({ env }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /ADMIN_TOKENS/);
        return true;
      });
      const result = await run(process.execPath, ['--import', 'tsx', join(REPO, 'cli', 'main.ts'), 'start'], {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', ...env },
        timeoutMs: 30_000,
      });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /ADMIN_TOKENS\[0\]/);
    });
  }
});

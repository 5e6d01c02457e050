import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../gateway/config/load.js';
import { CriteriaError, loadCriteria, resolveCriteria } from '../../release/validate/criteria.js';
import { parseOptions, ValidateUsageError } from '../../release/validate/options.js';

const dir = mkdtempSync(join(tmpdir(), 'acgs-criteria-'));

describe('validate criteria and options', () => {
  test("the defaults are the issue's table", () => {
    const c = resolveCriteria(undefined, 'staging');
    assert.equal(c.latency.decisionP99Ms, 50);
    assert.equal(c.cache.minHitRate, 0.8);
    assert.equal(c.load.users, 100);
    assert.equal(c.load.minRps, 100);
    assert.equal(c.load.maxErrorRate, 0.01);
    assert.equal(c.load.minAvailability, 0.999);
    assert.equal(c.security.minScore, 0.9);
    assert.equal(c.security.minCategoryScore, 0.9);
    assert.equal(c.resources.maxCpu, 0.8);
    assert.equal(c.resources.maxMemory, 0.85);
    assert.equal(c.load.duration, 60_000);
  });

  test('shared overrides apply to both environments, per-environment ones win', () => {
    const section = { load: { duration: '30s', minRps: 150 }, production: { load: { minRps: 500 } } };
    const staging = resolveCriteria(section, 'staging');
    const production = resolveCriteria(section, 'production');
    assert.equal(staging.load.minRps, 150);
    assert.equal(production.load.minRps, 500);
    assert.equal(production.load.duration, 30_000);
    assert.equal(production.load.users, 100);
  });

  test('problems name their path, also in the environment not being run', () => {
    assert.throws(
      () => resolveCriteria({ load: { maxErrorRate: 2 } }, 'staging'),
      (e: Error) => {
        assert.ok(e instanceof CriteriaError);
        assert.match(e.message, /validation\.load\.maxErrorRate/);
        return true;
      },
    );
    assert.throws(
      () => resolveCriteria({ production: { lod: {} } }, 'staging'),
      /validation\.production.*unknown field\(s\) lod/,
    );
    assert.throws(
      () => resolveCriteria({ staging: 'fast' }, 'staging'),
      /validation\.staging: must be a mapping/,
    );
  });

  test('read from the gateway configuration, which accepts the validation: section', async () => {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      'services:\n  ac:\n    blue: { upstreams: [http://127.0.0.1:1] }\n    green: { upstreams: [http://127.0.0.1:2] }\nvalidation:\n  staging:\n    security: { minScore: 0.95 }\n',
    );
    const { criteria, source } = await loadCriteria({ configFile: file }, 'staging');
    assert.equal(criteria.security.minScore, 0.95);
    assert.equal(source, file);
    const gateway = resolveConfig({
      services: {
        ac: { blue: { upstreams: ['http://127.0.0.1:1'] }, green: { upstreams: ['http://127.0.0.1:2'] } },
      },
      validation: { staging: { security: { minScore: 0.95 } } },
    });
    assert.equal(gateway.services.length, 1);
    // A criteria file is the section itself; it wins over the config file.
    const criteriaFile = join(dir, 'criteria.yaml');
    writeFileSync(criteriaFile, 'cache: { minHitRate: 0.5 }\n');
    const both = await loadCriteria({ configFile: file, criteriaFile }, 'staging');
    assert.equal(both.criteria.cache.minHitRate, 0.5);
    assert.equal(both.criteria.security.minScore, 0.9);
    await assert.rejects(loadCriteria({ criteriaFile: join(dir, 'nope.yaml') }, 'staging'), /cannot read/);
  });

  test('options: the interface pipeline calls, and usage errors', () => {
    const o = parseOptions([
      '--environment',
      'staging',
      '--target',
      'http://127.0.0.1:8080/',
      '--admin-url',
      'http://127.0.0.1:9901',
      '--replicas',
      'http://127.0.0.1:1,http://127.0.0.1:2',
      '--prometheus',
      'http://127.0.0.1:9090',
      '--alertmanager',
      'http://127.0.0.1:9093',
      '--only',
      'health,latency',
      '--report',
      'r.json',
      '--junit',
      'j.xml',
      '--yes',
      '--duration',
      '5s',
      '--users',
      '3',
      '--max-rps',
      '50',
    ])!;
    assert.equal(o.target, 'http://127.0.0.1:8080');
    assert.deepEqual(o.replicas, ['http://127.0.0.1:1', 'http://127.0.0.1:2']);
    assert.deepEqual(o.groups, ['health', 'latency']);
    assert.equal(o.durationMs, 5000);
    assert.equal(o.users, 3);
    assert.equal(o.yes, true);
    assert.deepEqual(
      parseOptions(['-e', 'production', '-t', 'http://x', '--skip', 'load,security'])!.groups,
      ['health', 'latency', 'cache', 'resources', 'monitoring'],
    );
    assert.equal(parseOptions(['--help']), null);
    for (const [argv, message] of [
      [['--target', 'http://x'], /--environment/],
      [['-e', 'staging'], /--target/],
      [['-e', 'qa', '-t', 'http://x'], /--environment/],
      [['-e', 'staging', '-t', 'ftp://x'], /--target must be an http/],
      [['-e', 'staging', '-t', 'http://x', '--only', 'health,speed'], /unknown check 'speed'/],
      [['-e', 'staging', '-t', 'http://x', '--only', 'health', '--skip', 'load'], /not both/],
      [['-e', 'staging', '-t', 'http://x', '--users', '0'], /--users/],
      [['-e', 'staging', '-t', 'http://x', '--duration', 'soon'], /--duration/],
      [['-e', 'staging', '-t', 'http://x', '--bogus'], /bogus/],
    ] as const) {
      assert.throws(
        () => parseOptions([...argv]),
        (e: Error) => e instanceof ValidateUsageError && message.test(e.message),
      );
    }
  });
});

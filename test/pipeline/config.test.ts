// The pipeline: section: defaults per environment, partial overrides, every problem by path, and the same
// file accepted by the gateway itself (one config file for both).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../gateway/config/errors.js';
import { resolveConfig } from '../../gateway/config/load.js';
import { loadPipelineConfig, parsePipelineConfig } from '../../release/pipeline/config.js';

describe('pipeline config', () => {
  test('defaults: the seed production host, a smaller staging one, 100 users, 10/25/50/100', () => {
    const c = parsePipelineConfig(undefined);
    assert.deepEqual(
      [c.production.requirements.cpus, c.production.requirements.memoryGb, c.production.requirements.diskGb],
      [8, 16, 100],
    );
    assert.ok(c.staging.requirements.cpus < 8);
    assert.equal(c.staging.load.users, 100);
    assert.deepEqual(c.production.rollout.steps, [10, 25, 50, 100]);
    assert.deepEqual(c.production.publishedPorts, [80, 443]);
    assert.equal(c.staging.publishedPorts, null);
    assert.equal(c.production.security.minScore, 90);
    assert.equal(c.production.tls.minValidDays, 14);
    assert.ok(c.production.requiredSecrets.includes('jwt_secret'));
  });

  test('a partial section keeps the environment defaults for the rest', () => {
    const c = parsePipelineConfig({
      production: { requirements: { cpus: 4 }, rollout: { interval: '5s' }, hosts: ['api.acgs.test'] },
    });
    assert.equal(c.production.requirements.cpus, 4);
    assert.equal(c.production.requirements.memoryGb, 16, 'the other requirements stay');
    assert.deepEqual(c.production.rollout.steps, [10, 25, 50, 100]);
    assert.equal(c.production.rollout.interval, '5s');
    assert.deepEqual(c.production.publishedPorts, [80, 443], 'production keeps its own default');
  });

  test('garbage is refused with every problem by path', () => {
    assert.throws(
      () =>
        parsePipelineConfig({
          staging: { load: { users: 0 } },
          production: { rollout: { steps: [10, 200] }, publishedPorts: [70000], typo: 1 },
          qa: {},
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const text = e.problems.join('\n');
        assert.match(text, /pipeline\.staging\.load\.users/);
        assert.match(text, /pipeline\.production\.rollout\.steps\[1\]/);
        assert.match(text, /pipeline\.production\.publishedPorts\[0\]/);
        assert.match(text, /pipeline\.production: unknown field\(s\) typo/);
        assert.match(text, /pipeline: unknown field\(s\) qa/);
        return true;
      },
    );
    assert.throws(() => parsePipelineConfig('yes'), ConfigError);
  });

  test('a missing file or bad YAML is a ConfigError naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acgs-pcfg-'));
    await assert.rejects(loadPipelineConfig(join(dir, 'nope.yaml')), /cannot read the file/);
    writeFileSync(join(dir, 'bad.yaml'), 'pipeline: [unclosed\n');
    await assert.rejects(loadPipelineConfig(join(dir, 'bad.yaml')), /not valid YAML/);
  });

  test('the gateway accepts a config file that carries a pipeline: section', () => {
    const doc = {
      services: {
        ac: { blue: { upstreams: ['http://127.0.0.1:1'] }, green: { upstreams: ['http://127.0.0.1:2'] } },
      },
      pipeline: { production: { hosts: ['api.acgs.test'] } },
    };
    const config = resolveConfig(doc, { env: {} });
    assert.equal(config.services[0]!.name, 'ac');
  });
});

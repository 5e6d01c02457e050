// docker/alertmanager: the config with its webhook filled in passes the real `amtool check-config`, and
// the compose entry point (run here with sh, as the busybox image runs it) renders the URL from the
// environment and refuses a missing, placeholder or malformed one before Alertmanager starts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { alertmanagerConfig, WEBHOOK_PLACEHOLDER } from '../../release/stack/local/monitoring-config.js';
import { DOCKER, findBinary, run } from './helpers.js';

const AMTOOL = findBinary('amtool');
const SH = findBinary('sh');
const skip = AMTOOL === null ? 'amtool is not installed (Debian package prometheus-alertmanager)' : false;
const ENTRYPOINT = join(DOCKER, 'alertmanager', 'entrypoint.sh');

describe('docker/alertmanager', { skip }, () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'acgs-am-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs entrypoint.sh with `echo` standing in for /bin/alertmanager; returns what it would have run. */
  const entrypoint = (url: string | undefined) =>
    run(SH!, [ENTRYPOINT, '--storage.path=/alertmanager', '--cluster.listen-address='], {
      env: {
        PATH: process.env.PATH ?? '',
        ALERTMANAGER_TEMPLATE: join(DOCKER, 'alertmanager', 'alertmanager.yml'),
        ALERTMANAGER_CONFIG: join(tmp, 'alertmanager.yml'),
        ALERTMANAGER_BIN: 'echo',
        ...(url === undefined ? {} : { ALERT_WEBHOOK_URL: url }),
      },
    });

  test('the project file holds the placeholder, routes every alert to the webhook and sends resolutions', () => {
    const doc = parseYaml(readFileSync(join(DOCKER, 'alertmanager', 'alertmanager.yml'), 'utf8')) as {
      route: { receiver: string };
      receivers: { name: string; webhook_configs: { url: string; send_resolved: boolean }[] }[];
    };
    const receiver = doc.receivers.find((r) => r.name === doc.route.receiver)!;
    assert.equal(receiver.webhook_configs[0]!.url, WEBHOOK_PLACEHOLDER);
    assert.equal(receiver.webhook_configs[0]!.send_resolved, true);
  });

  test('the entry point renders the webhook URL and the result passes amtool check-config', async () => {
    const url = 'https://hooks.internal/acgs?team=edge&x=a|b';
    const result = await entrypoint(url);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout.trim(),
      `--config.file=${join(tmp, 'alertmanager.yml')} --storage.path=/alertmanager --cluster.listen-address=`,
    );
    const rendered = readFileSync(join(tmp, 'alertmanager.yml'), 'utf8');
    const doc = parseYaml(rendered) as { receivers: { webhook_configs?: { url: string }[] }[] };
    assert.equal(doc.receivers[0]!.webhook_configs![0]!.url, url, 'special characters survive the rendering');
    const check = await run(AMTOOL!, ['check-config', join(tmp, 'alertmanager.yml')]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS/);
  });

  for (const [what, url, message] of [
    ['missing', undefined, /ALERT_WEBHOOK_URL is not set/],
    ['left as CHANGE_ME', 'CHANGE_ME', /still CHANGE_ME/],
    ['not http(s)', 'ftp://hooks.internal/x', /must be an http:\/\/ or https:\/\/ URL/],
    ['with a quote', "https://hooks.internal/x'y", /must not contain quotes/],
  ] as const) {
    test(`the entry point refuses a webhook URL that is ${what}, before Alertmanager starts`, async () => {
      const result = await entrypoint(url);
      assert.equal(result.code, 64);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '', 'alertmanager was not started');
    });
  }

  test('the local stack renders the same file (webhook or none) and amtool accepts both', async () => {
    for (const [name, overrides] of [
      ['with-hook.yml', { webhookUrl: 'http://127.0.0.1:9/hook', groupWait: '1s', groupInterval: '1s' }],
      ['without-hook.yml', {}],
    ] as const) {
      const file = join(tmp, name);
      writeFileSync(file, alertmanagerConfig(DOCKER, overrides));
      const check = await run(AMTOOL!, ['check-config', file]);
      assert.equal(check.code, 0, `${name}: ${check.stdout}${check.stderr}`);
    }
    assert.doesNotMatch(readFileSync(join(tmp, 'without-hook.yml'), 'utf8'), /ALERT_WEBHOOK_URL/);
  });
});

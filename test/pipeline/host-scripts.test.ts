// The host-hardening scripts are shipped, not run by tests: they must at least parse, pass shellcheck
// when it is installed, and refuse to run without root (so a test or a careless call cannot change a host).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DIR = join(import.meta.dirname, '..', '..', 'docker', 'host');
const scripts = readdirSync(DIR).filter((f) => f.endsWith('.sh'));

const hasShellcheck = (() => {
  try {
    execFileSync('shellcheck', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('docker/host scripts', () => {
  test('every script the infrastructure check points to exists', () => {
    for (const name of [
      'sysctl.sh',
      'firewall.sh',
      'fail2ban.sh',
      'docker-daemon.sh',
      'backup.sh',
      'cert-renew.sh',
    ])
      assert.ok(scripts.includes(name), `${name} is missing`);
  });

  for (const name of scripts) {
    test(`${name} parses (bash -n) and is strict`, async () => {
      await run('bash', ['-n', join(DIR, name)]);
      const text = readFileSync(join(DIR, name), 'utf8');
      assert.ok(
        text.includes('set -euo pipefail') || text.includes('source "$(dirname "$0")/lib.sh"'),
        `${name} runs with set -euo pipefail`,
      );
    });
  }

  test('shellcheck finds nothing', {
    skip: hasShellcheck ? false : 'shellcheck is not installed',
  }, async () => {
    const { stdout } = await run('shellcheck', ['-x', ...scripts], { cwd: DIR }).catch((e) => {
      assert.fail(`shellcheck:\n${e.stdout}`);
    });
    assert.equal(stdout, '');
  });

  test('a script run by a non-root user refuses before changing anything', async (t) => {
    if (process.getuid?.() !== 0) {
      const result = await run('bash', [join(DIR, 'sysctl.sh')]).then(
        () => null,
        (e) => e,
      );
      assert.ok(result, 'non-root run must fail');
      assert.match(result.stderr, /run as root/);
      return;
    }
    // As root (CI containers), check the same refusal through a user without privileges when one exists.
    try {
      execFileSync('id', ['nobody'], { stdio: 'ignore' });
    } catch {
      t.skip('no unprivileged user to run as');
      return;
    }
    const result = await run('su', [
      '-s',
      '/bin/bash',
      'nobody',
      '-c',
      `bash ${join(DIR, 'sysctl.sh')}`,
    ]).then(
      () => null,
      (e) => e,
    );
    assert.ok(result, 'an unprivileged run must fail');
    assert.match(`${result.stdout}${result.stderr}`, /run as root/);
  });
});

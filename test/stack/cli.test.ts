// The `stack` command's surface: help, usage errors with exit code 2, and its place in the main help.
// Also the nginx the local driver renders: the production templates' locations and limits, checked by
// the real `nginx -t`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { CliIo } from '../../cli/rollout.js';
import { runStackCommand } from '../../cli/stack.js';
import { nginxArgs, renderNginx } from '../../release/stack/local/nginx-config.js';
import { DOCKER, findBinary, run } from '../deploy/helpers.js';
import { REPO } from './helpers.js';

function io() {
  const out = { stdout: '', stderr: '' };
  const cli: CliIo = {
    env: {},
    stdout: { write: (t: string) => (out.stdout += t) },
    stderr: { write: (t: string) => (out.stderr += t) },
  };
  return { cli, out };
}

describe('acgs-gateway stack', () => {
  test('--help explains up, down and status, the drivers and the exit codes', async () => {
    const { cli, out } = io();
    assert.equal(await runStackCommand(['--help'], cli), 0);
    for (const text of [
      'up',
      'down',
      'status',
      '--environment',
      '--driver',
      'local',
      'compose',
      'Exit codes',
    ])
      assert.ok(out.stdout.includes(text), text);
  });

  for (const [argv, message] of [
    [[], /missing command/],
    [['launch', '--environment', 'staging'], /unknown command 'launch'/],
    [['up'], /--environment must be staging or production/],
    [['up', '--environment', 'qa'], /got 'qa'/],
    [['up', '--environment', 'staging', '--driver', 'k8s'], /--driver must be local or compose/],
    [['up', '--environment', 'staging', '--replicas', '0'], /--replicas must be an integer 1\.\.16/],
    [['up', '--environment', 'staging', '--timeout', 'soon'], /--timeout/],
    [['up', '--environment', 'staging', '--bogus'], /Unknown option '--bogus'/],
    [['status', 'extra', '--environment', 'staging'], /unexpected argument 'extra'/],
  ] as const) {
    test(`usage error exits 2: stack ${argv.join(' ')}`, async () => {
      const { cli, out } = io();
      assert.equal(await runStackCommand([...argv], cli), 2);
      assert.match(out.stderr, message);
      assert.match(out.stderr, /see --help/);
    });
  }

  test('the main help lists the stack command', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', join(REPO, 'cli', 'main.ts'), '--help'], {
      cwd: REPO,
      env: process.env,
    });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /stack up\|down\|status --environment ENV/);
  });
});

const NGINX = findBinary('nginx', ['/usr/sbin/nginx']);

describe('the local stack’s nginx configuration', {
  skip: NGINX === null ? 'nginx is not installed' : false,
}, () => {
  const prefix = mkdtempSync(join(tmpdir(), 'acgs-nginx-render-'));
  after(() => rmSync(prefix, { recursive: true, force: true }));

  test('keeps the production locations, limits and proxy settings; only addresses and paths change', async () => {
    const upstreams = ['127.0.0.1:41001', '127.0.0.1:41002', '127.0.0.1:41003', '127.0.0.1:41004'];
    const conf = renderNginx({
      templates: join(DOCKER, 'nginx'),
      prefix,
      listenPort: 41000,
      upstreams,
      root: false,
    });
    const checked = await run(NGINX!, nginxArgs(prefix, conf, true));
    assert.equal(checked.code, 0, checked.stderr);
    for (const snippet of ['acgs-locations.conf', 'acgs-proxy-headers.conf']) {
      assert.equal(
        readFileSync(join(prefix, 'snippets', snippet), 'utf8'),
        readFileSync(join(DOCKER, 'nginx', 'snippets', snippet), 'utf8').replaceAll(
          '/etc/nginx/',
          `${prefix}/`,
        ),
        `${snippet} is the production file, include paths moved under the prefix`,
      );
    }
    const main = readFileSync(conf, 'utf8');
    assert.match(main, /client_max_body_size 1g;/);
    assert.match(main, /large_client_header_buffers 8 32k;/);
    assert.doesNotMatch(main, /\/etc\/nginx|\/var\/log\/nginx|^user /m);
    const upstream = readFileSync(join(prefix, 'conf.d', '10-upstream.conf'), 'utf8');
    assert.deepEqual(
      [...upstream.matchAll(/^\s*server (\S+) max_fails=3 fail_timeout=10s;/gm)].map((m) => m[1]),
      upstreams,
      'one server line per replica, with the production settings',
    );
    assert.match(upstream, /keepalive 64;/);
    const servers = readFileSync(join(prefix, 'conf.d', '20-servers.conf'), 'utf8');
    assert.match(servers, /listen 127\.0\.0\.1:41000 default_server;/);
    assert.match(servers, new RegExp(`include ${prefix}/snippets/acgs-locations\\.conf;`));
    assert.match(servers, /location = \/nginx-health/);
    assert.doesNotMatch(servers, /ssl_|listen 80 |listen 443/);
  });
});

// production_infrastructure against temporary secrets and certificates made by the real commands
// (`secrets generate`, `tls self-signed` through openssl): good ones pass, each kind of bad one fails with
// its fix. Host capacity and kernel checks read this machine; the requirements are set so that the test
// knows the answer (1 CPU passes anywhere, 10 000 fails anywhere).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parsePipelineConfig } from '../../release/pipeline/config.js';
import {
  listeningPublished,
  portsCheck,
  publishedFromProc,
} from '../../release/pipeline/infra/ports-check.js';
import { runPipeline } from '../../release/pipeline/orchestrator.js';
import { runCli } from './support.js';

const HOST = 'api.acgs.test';
const LOW = {
  cpus: 1,
  memoryGb: 0.1,
  diskGb: 0.01,
  fdLimit: 1,
  somaxconn: 1,
  localPortRangeSpan: 1,
  fileMax: 1,
};

async function secrets(dir: string) {
  const r = await runCli(['secrets', 'generate', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

async function cert(dir: string, host = HOST, days = 30) {
  const r = await runCli(['tls', 'self-signed', '--host', host, '--out', dir, '--days', String(days)]);
  assert.equal(r.code, 0, r.stderr);
  return { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
}

async function infra(production: Record<string, unknown>) {
  const cwd = mkdtempSync(join(tmpdir(), 'acgs-infra-'));
  let out = '';
  const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (out += t) } };
  const run = await runPipeline(
    {
      environment: 'production',
      config: parsePipelineConfig({
        production: { requirements: LOW, publishedPorts: null, hosts: [HOST], ...production },
      }),
      startFrom: 'production_infrastructure',
      stopAt: 'production_infrastructure',
      cwd,
    },
    io,
  );
  return { code: run.exitCode, out, log: readFileSync(run.logFile!, 'utf8') };
}

const scratch = () => mkdtempSync(join(tmpdir(), 'acgs-infra-files-'));

describe('secrets generate and tls self-signed', () => {
  test('secrets: four random mode-600 files, never overwritten without --force', async () => {
    const dir = join(scratch(), 'secrets');
    await secrets(dir);
    const names = ['jwt_secret', 'redis_password', 'admin_token', 'prometheus_admin_token'];
    const values = names.map((n) => readFileSync(join(dir, n), 'utf8'));
    for (const n of names) assert.equal(statSync(join(dir, n)).mode & 0o777, 0o600, n);
    assert.equal(new Set(values).size, 4, 'every secret is different');
    assert.ok(
      values.every((v) => /^[A-Za-z0-9_-]{43,}$/.test(v)),
      'base64url, >= 256 bits',
    );
    const again = await runCli(['secrets', 'generate', '--dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already there \(not overwritten; --force replaces them\)/);
    assert.deepEqual(
      names.map((n) => readFileSync(join(dir, n), 'utf8')),
      values,
      'nothing changed',
    );
    const forced = await runCli(['secrets', 'generate', '--dir', dir, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(join(dir, 'jwt_secret'), 'utf8'), values[0]);
    assert.doesNotMatch(forced.stdout, new RegExp(values[0]!), 'values are never printed');
  });

  test('usage errors: no --dir, no --host, a bad host name', async () => {
    const results = await Promise.all([
      runCli(['secrets', 'generate']),
      runCli(['tls', 'self-signed', '--out', scratch()]),
      runCli(['tls', 'self-signed', '--host', 'a b;rm', '--out', scratch()]),
      runCli(['tls', 'renew']),
    ]);
    for (const r of results) assert.equal(r.code, 2, r.stdout + r.stderr);
  });
});

describe('production_infrastructure', () => {
  test('good secrets and a good certificate: every check passes, exit 0', async () => {
    const dir = scratch();
    const pair = await cert(join(dir, 'tls'));
    const r = await infra({ secretsDir: await secrets(join(dir, 'secrets')), tls: pair });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /ok {3}tls\.key_matches: matches/);
    assert.match(r.out, new RegExp(`ok {3}tls\\.covers\\(${HOST}\\)`));
    assert.match(r.out, /ok {3}tls\.expiry: (29|30)\.\d days left/);
    assert.match(r.out, /ok {3}secrets\.jwt_secret\.mode: 600/);
    assert.match(r.out, /skip ports\.published/);
    assert.match(r.out, /PASS production_infrastructure .*host ready/);
    const end = r.log
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((e) => e.event === 'step_end');
    assert.equal(end.measurements['tls.key_matches'].ok, true);
    assert.equal(end.measurements['host.cpus'].ok, true);
  });

  test('bad secrets: a placeholder, a world-readable file, a missing one; each with its fix', async () => {
    const dir = await secrets(join(scratch(), 'secrets'));
    writeFileSync(join(dir, 'jwt_secret'), 'CHANGE_ME\n');
    chmodSync(join(dir, 'redis_password'), 0o644);
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'admin_token'));
    writeFileSync(join(dir, 'grafana_admin_password'), 'example-password', { mode: 0o600 });
    const r = await infra({ secretsDir: dir, tls: await cert(join(scratch(), 'tls')) });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /FAIL secrets\.jwt_secret\.value: placeholder or empty/);
    assert.match(r.out, /FAIL secrets\.grafana_admin_password\.value: placeholder/);
    assert.match(r.out, /FAIL secrets\.redis_password\.mode: 644 \(wants 600\)/);
    assert.match(r.out, /FAIL secrets\.required: missing admin_token/);
    assert.match(
      r.out,
      new RegExp(`- secrets\\.redis_password\\.mode: chmod 600 ${join(dir, 'redis_password')}`),
    );
    assert.match(
      r.out,
      /- secrets\.jwt_secret\.value: write a real value into .*jwt_secret, or regenerate every secret: acgs-gateway secrets generate --dir .* --force/,
    );
    assert.doesNotMatch(r.out, /CHANGE_ME/, 'a secret value is never printed, even a placeholder');
    assert.match(r.out, /resume after the fix: .*--start-from production_infrastructure/);
  });

  test('no host names configured: the certificate cannot be checked against them, and that fails', async () => {
    const dir = scratch();
    const r = await infra({
      secretsDir: await secrets(join(dir, 'secrets')),
      tls: await cert(join(dir, 'tls')),
      hosts: [],
    });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL tls\.hosts: none configured/);
    assert.match(r.out, /- tls\.hosts: list them in the config: pipeline\.<environment>\.hosts/);
  });

  test('no secrets directory: one failure that says how to create it', async () => {
    const missing = join(scratch(), 'nope');
    const r = await infra({ secretsDir: missing, tls: await cert(join(scratch(), 'tls')) });
    assert.equal(r.code, 1);
    assert.match(r.out, new RegExp(`- secrets\\.dir: acgs-gateway secrets generate --dir ${missing}`));
  });

  test('bad certificates: expiring within 14 days, wrong host, a key of another certificate, garbage', async () => {
    const secretsDir = await secrets(join(scratch(), 'secrets'));
    const soon = await cert(join(scratch(), 'soon'), HOST, 5);
    let r = await infra({ secretsDir, tls: soon });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL tls\.expiry: [45]\.\d days left .*wants >= 14 days left/);
    assert.match(r.out, /- tls\.expiry: renew the certificate: sudo bash docker\/host\/cert-renew\.sh/);

    const other = await cert(join(scratch(), 'other'), 'other.acgs.test');
    r = await infra({ secretsDir, tls: other });
    assert.match(r.out, new RegExp(`FAIL tls\\.covers\\(${HOST}\\): DNS:other\\.acgs\\.test`));

    const mine = await cert(join(scratch(), 'mine'));
    r = await infra({ secretsDir, tls: { cert: mine.cert, key: other.key } });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL tls\.key_matches: a different key/);

    const garbage = join(scratch(), 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    r = await infra({ secretsDir, tls: { cert: garbage, key: mine.key } });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL tls\.certificate: unreadable/);
  });

  test('a host below the requirements: capacity and kernel failures point to the host scripts', async () => {
    const dir = scratch();
    const r = await infra({
      secretsDir: await secrets(join(dir, 'secrets')),
      tls: await cert(join(dir, 'tls')),
      requirements: { cpus: 10_000, somaxconn: 10_000_000, fdLimit: 100_000_000 },
    });
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL host\.cpus: \d+ CPUs \(wants >= 10000 CPUs\)/);
    assert.match(r.out, /- host\.cpus: give the host at least 10000 CPUs/);
    assert.match(
      r.out,
      /- kernel\.net\.core\.somaxconn: sudo bash docker\/host\/sysctl\.sh \(net\.core\.somaxconn = 10000000\)/,
    );
    assert.match(r.out, /- host\.fd_limit: raise the open-files limit: sudo bash docker\/host\/sysctl\.sh/);
    assert.match(r.out, /ok {3}host\.memory/, 'the requirements left at their test values still pass');
  });
});

describe('published ports', () => {
  test('parses /proc/net/tcp{,6}: listeners beyond loopback only', () => {
    const header =
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    const tcp =
      header +
      '   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n' + // 0.0.0.0:80
      '   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n' + // 127.0.0.1:6379
      '   2: 0A00000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3\n' + // 10.0.0.10:443
      '   3: 00000000:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4\n'; // established
    const tcp6 =
      header +
      '   0: 00000000000000000000000001000000:2382 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 5\n' + // ::1:9090
      '   1: 0000000000000000FFFF00000100007F:2383 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 6\n' + // ::ffff:127.0.0.1
      '   2: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 7\n'; // [::]:22
    assert.deepEqual(publishedFromProc(tcp, tcp6), [22, 80, 443]);
    assert.equal(portsCheck([22, 80, 443], [80, 443]).ok, false);
    assert.match(portsCheck([22, 80, 443], [80, 443]).fix!, /close 22 .*docker\/host\/firewall\.sh/);
    assert.match(portsCheck([80], [80, 443]).fix!, /nothing listens on 443/);
    assert.equal(portsCheck([443, 80], [80, 443]).ok, true);
  });

  test('a real listener on 0.0.0.0 shows up as published; a loopback one does not', async () => {
    const open = async (host: string) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
      return server;
    };
    const wide = await open('0.0.0.0');
    const local = await open('127.0.0.1');
    const widePort = (wide.address() as { port: number }).port;
    const localPort = (local.address() as { port: number }).port;
    try {
      const published = await listeningPublished();
      assert.ok(published.includes(widePort), `${widePort} in ${published}`);
      assert.ok(!published.includes(localPort));
      const check = portsCheck(published, [80, 443]);
      assert.equal(check.ok, false);
      assert.match(check.fix!, new RegExp(`close .*\\b${widePort}\\b`));
    } finally {
      wide.close();
      local.close();
    }
  });
});

// `acgs-gateway validate` as the release pipeline runs it: a child process against real gateway
// replicas (spawned processes sharing a real Redis), real Prometheus and Alertmanager, policy bundles
// built by the real opa. A healthy deployment passes; each broken one fails exactly the check that
// should fail, with a message that names the cause.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { type GatewayProcess, spawnGateway } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import {
  ALERTMANAGER,
  buildBundle,
  type Daemon,
  failed,
  message,
  PROMETHEUS,
  ROOT,
  rulesetWithoutQuoteBooleanSqli,
  runValidate,
  startAlertmanager,
  startPrometheus,
  type ValidateRun,
  verdicts,
} from './support.js';

const skip =
  PROMETHEUS === null || ALERTMANAGER === null ? 'prometheus and prometheus-alertmanager are needed' : false;
const dir = mkdtempSync(join(tmpdir(), 'acgs-validate-e2e-'));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The load generator's users carry tokens minted from this key, as VALIDATE_JWT_KEY in a real run.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'validate-e2e';
const SIGNING_ENV = {
  VALIDATE_JWT_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  VALIDATE_JWT_ALG: 'RS256',
  VALIDATE_JWT_KID: KID,
  VALIDATE_JWT_ISSUER: 'https://idp.test',
  VALIDATE_JWT_AUDIENCE: 'acgs',
};
const AUTH = {
  issuer: 'https://idp.test',
  audience: 'acgs',
  keys: [
    {
      kid: KID,
      algorithms: ['RS256'],
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
  ],
};
const RATE_LIMIT = { limits: [{ name: 'per-address', limit: 3000, window: '10s' }] };

// A shorter health deadline: a broken deployment fails in seconds instead of the default minute.
const CRITERIA = join(dir, 'criteria.yaml');
writeFileSync(CRITERIA, 'health: { deadline: 10s }\nlatency: { samplesPerService: 10 }\n');

describe('acgs-gateway validate against real deployments', { skip }, () => {
  const bundle = join(dir, 'bundle.tar.gz');
  const otherRevision = join(dir, 'bundle-release-2.tar.gz');
  const upstreams: TestUpstream[] = [];
  const gateways: GatewayProcess[] = [];
  const daemons: Daemon[] = [];
  /** Two replicas sharing Redis: the healthy deployment. gs green fails 5 % but gets no traffic (weight 0). */
  let main: GatewayProcess[] = [];
  /** Starts without its policy bundle; later gets another revision and a green at 100 %. */
  let alt: GatewayProcess;
  /** No rate limit; its gs service goes down later. */
  let noLimit: GatewayProcess;
  let gsUpstream: TestUpstream;
  let prometheus: Daemon;
  let alertmanager: Daemon;
  let baseline: ValidateRun;

  const services = (blue: string, green: string, gsGreen: string, gsBlue = blue) => ({
    ac: { blue: [blue], green: [green] },
    gs: { blue: [gsBlue], green: [gsGreen] },
  });

  /** A loaded machine can make a first start slow; one retry keeps the test about validate, not start-up. */
  const spawn = async (
    svc: Record<string, unknown>,
    extra: Record<string, unknown>,
    env: NodeJS.ProcessEnv = {},
  ) => {
    let gw: GatewayProcess;
    try {
      gw = await spawnGateway(svc as never, extra, env);
    } catch {
      gw = await spawnGateway(svc as never, extra, env);
    }
    gateways.push(gw);
    return gw;
  };

  before(async () => {
    buildBundle(join(ROOT, 'policies'), bundle, 'release-1');
    buildBundle(join(ROOT, 'policies'), otherRevision, 'release-2');
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    let n = 0;
    // Every 20th request fails: a green that fails 5 %.
    const failing = await startUpstream('green-5pct', (_req, res) => {
      const fail = ++n % 20 === 0;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
      res.end(fail ? '{"error":"boom"}' : '{"ok":true}');
    });
    gsUpstream = await startUpstream('gs');
    upstreams.push(blue, green, failing, gsUpstream);
    const prefix = `acgs-validate-${randomBytes(4).toString('hex')}:`;
    const common = { auth: AUTH, rateLimit: RATE_LIMIT, policy: { bundle } };
    main = await Promise.all(
      [0, 1].map(() =>
        spawn(
          services(blue.url, green.url, failing.url),
          { ...common, redis: { keyPrefix: prefix } },
          { REDIS_URL },
        ),
      ),
    );
    [alt, noLimit] = await Promise.all([
      // The admin principal may upload bundles and set weights once a policy decides admin calls.
      spawn(
        services(blue.url, green.url, failing.url),
        { ...common, policy: { bundle: join(dir, 'missing.tar.gz') } },
        { ADMIN_TOKENS: `admin:${ADMIN_TOKEN}` },
      ),
      spawn(services(blue.url, green.url, gsUpstream.url, gsUpstream.url), {
        auth: AUTH,
        policy: { bundle },
      }),
    ]);
    prometheus = await startPrometheus(
      dir,
      main.map((g) => g.adminUrl),
    );
    alertmanager = await startAlertmanager(dir);
    daemons.push(prometheus, alertmanager);
  });

  after(async () => {
    // A replica that died during the run explains every failure after it: show why.
    for (const g of gateways) {
      if (g.child.exitCode !== null || g.child.signalCode !== null)
        process.stderr.write(
          `gateway ${g.dataUrl} exited (${g.child.exitCode ?? g.child.signalCode}):\n${g.output().slice(-3000)}\n`,
        );
    }
    await Promise.all([...gateways.map((g) => g.stop()), ...daemons.map((d) => d.stop())]);
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const args = (gws: GatewayProcess[], ...more: string[]) => [
    '--environment',
    'staging',
    '--target',
    gws[0]!.dataUrl,
    '--replicas',
    gws.map((g) => g.dataUrl).join(','),
    '--admin-url',
    gws.map((g) => g.adminUrl).join(','),
    '--criteria',
    CRITERIA,
    ...more,
  ];

  const admin = async (
    gw: GatewayProcess,
    method: string,
    path: string,
    body: Buffer | string,
    type: string,
  ) => {
    const res = await fetch(`${gw.adminUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': type },
      body,
    });
    assert.equal(res.status, 200, `${method} ${path}: ${res.status} ${await res.text()}`);
  };

  const others = (r: ValidateRun, except: string) =>
    r
      .report!.checks.filter((c) => c.group === 'security' && ![except, 'security.score'].includes(c.name))
      .map((c) => `${c.name}=${c.verdict}`);

  test('a healthy two-replica deployment passes every gate it is given', async () => {
    const run = await runValidate(
      dir,
      args(
        main,
        '--prometheus',
        prometheus.url,
        '--alertmanager',
        alertmanager.url,
        '--skip',
        'security',
        // Long enough that 100 users' first (uncached) token verifications do not dominate the cache
        // hit rate, and the median second is a steady one.
        '--duration',
        '6s',
      ),
      SIGNING_ENV,
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const report = run.report!;
    assert.equal(report.passed, true);
    assert.equal(report.environment, 'staging');
    assert.deepEqual(
      report.replicas,
      main.map((g) => g.dataUrl),
    );
    const v = verdicts(run);
    for (const name of [
      'health.healthz',
      'health.readyz',
      'health.routes',
      'health.consistency',
      'latency.end_to_end',
      'latency.decision',
      'load.users',
      'load.throughput',
      'load.error_rate',
      'load.availability',
      'cache.jwt',
      'resources.cpu',
      'monitoring.prometheus',
      'monitoring.targets',
      'monitoring.rules',
      'monitoring.alerts',
      'monitoring.alertmanager',
    ])
      assert.equal(v[name], 'pass', `${name}: ${message(run, name)}`);
    // No memory limit is configured here: reported, not judged.
    assert.equal(v['resources.memory'], 'skip');
    assert.equal(report.checks.find((c) => c.name === 'load.users')!.measured, 100);
    assert.match(message(run, 'health.consistency'), /2 replica\(s\) agree: bundle release-1/);
    assert.match(run.junit!, /<testsuite name="load" tests="5" failures="0"/);
    assert.match(run.stdout, /PASSED: /);
  });

  test('Prometheus unreachable fails monitoring.prometheus alone, naming the address', async () => {
    const gone = `http://127.0.0.1:${await freePort()}`;
    const run = await runValidate(
      dir,
      args(main, '--only', 'monitoring', '--prometheus', gone, '--alertmanager', alertmanager.url),
    );
    assert.equal(run.code, 1);
    assert.deepEqual(failed(run), ['monitoring.prometheus']);
    assert.match(
      message(run, 'monitoring.prometheus'),
      new RegExp(`cannot reach Prometheus at ${gone}: ECONNREFUSED`),
    );
    assert.equal(verdicts(run)['monitoring.targets'], 'skip');
    assert.equal(verdicts(run)['monitoring.alertmanager'], 'pass');
  });

  test('a replica without its policy bundle fails health.readyz, naming the policy', async () => {
    const run = await runValidate(dir, args([alt], '--only', 'health'));
    assert.equal(run.code, 1);
    assert.deepEqual(failed(run), ['health.readyz']);
    assert.match(message(run, 'health.readyz'), /\/readyz → 503 \(.*polic/i);
    assert.equal(verdicts(run)['health.routes'], 'skip');
  });

  test('a replica with another bundle revision fails health.consistency, naming both revisions', async () => {
    await admin(alt, 'PUT', '/admin/policy', readFileSync(otherRevision), 'application/gzip');
    const run = await runValidate(dir, args([main[0]!, alt], '--only', 'health'));
    assert.equal(run.code, 1, run.stdout);
    assert.deepEqual(failed(run), ['health.consistency']);
    assert.match(
      message(run, 'health.consistency'),
      /revisions differ: .* runs release-1, .* runs release-2/,
    );
  });

  test('a green that fails 5 % fails load.error_rate, naming the service and colour', async () => {
    await admin(alt, 'PUT', '/admin/services/gs/weights', '{"green":100}', 'application/json');
    const run = await runValidate(dir, args([alt], '--only', 'load', '--duration', '6s'), SIGNING_ENV);
    assert.equal(run.code, 1, run.stdout);
    assert.deepEqual(failed(run), ['load.error_rate']);
    assert.match(message(run, 'load.error_rate'), /gs green: 500 × \d+/);
    const rate = run.report!.checks.find((c) => c.name === 'load.error_rate')!.measured as number;
    assert.ok(rate > 0.015 && rate < 0.04, `error rate ${rate}`);
  });

  test('the security suite against the current gateway: its honest score', async () => {
    baseline = await runValidate(dir, args([main[0]!], '--only', 'security'), SIGNING_ENV);
    const v = verdicts(baseline);
    assert.ok(
      baseline.report?.checks.some((c) => c.name === 'security.jwt'),
      baseline.stdout + baseline.stderr,
    );
    // What the gateway holds today, whatever the injection scores are.
    for (const name of [
      'security.jwt',
      'security.smuggling',
      'security.admin_exposure',
      'security.rate_limit',
      'security.false_positives',
    ])
      assert.equal(v[name], 'pass', `${name}: ${message(baseline, name)}`);
    assert.match(
      message(baseline, 'security.rate_limit'),
      /429 after \d+ requests with Retry-After \d+ \(RateLimit-Limit 3000\)/,
    );
    assert.equal(typeof baseline.report!.checks.find((c) => c.name === 'security.score')!.measured, 'number');
    // Query-string SQL injection is screened by the shipped policy.
    assert.doesNotMatch(message(baseline, 'security.sqli'), /query: ' OR '1'='1 →/);
    process.stdout.write(
      `# security score of the current gateway: ${baseline
        .report!.checks.filter((c) => c.group === 'security')
        .map((c) => `${c.name}=${c.measured}`)
        .join(' ')}\n`,
    );
  });

  test('a screening rule removed fails security.sqli, naming what got through', async () => {
    assert.ok(baseline, 'runs after the baseline');
    await admin(alt, 'PUT', '/admin/screening/rules', rulesetWithoutQuoteBooleanSqli(), 'application/json');
    const run = await runValidate(dir, args([alt], '--only', 'security'), SIGNING_ENV);
    assert.equal(verdicts(run)['security.sqli'], 'fail', run.stdout);
    const details = run.report!.checks.find((c) => c.name === 'security.sqli')!.details as {
      failures: string[];
    };
    assert.ok(
      details.failures.includes(`query: ' OR '1'='1 → 200 from the upstream (blue)`),
      details.failures.join('\n'),
    );
    const before = baseline.report!.checks.find((c) => c.name === 'security.sqli')!.measured as number;
    const now = run.report!.checks.find((c) => c.name === 'security.sqli')!.measured as number;
    assert.ok(now < before, `sqli score ${now} should be below the baseline ${before}`);
    // Every other category judges exactly as on the intact policy.
    assert.deepEqual(others(run, 'security.sqli'), others(baseline, 'security.sqli'));
  });

  test('a rate limit turned off fails security.rate_limit, saying no limit applies', async () => {
    const run = await runValidate(dir, args([noLimit], '--only', 'security'), SIGNING_ENV);
    assert.equal(verdicts(run)['security.rate_limit'], 'fail', run.stdout);
    assert.match(message(run, 'security.rate_limit'), /no 429 after \d+ requests and no RateLimit-\* fields/);
    assert.deepEqual(others(run, 'security.rate_limit'), others(baseline, 'security.rate_limit'));
  });

  test('one service down fails health.routes, naming the service', async () => {
    await gsUpstream.close();
    const run = await runValidate(dir, args([noLimit], '--only', 'health'));
    assert.equal(run.code, 1);
    assert.deepEqual(failed(run), ['health.routes']);
    assert.match(message(run, 'health.routes'), /service gs \(\/api\/gs\/\) → 50[234]/);
    assert.doesNotMatch(message(run, 'health.routes'), /service ac/);
  });

  test('Ctrl-C stops the load at once and still writes the partial report', async () => {
    const started = Date.now();
    let loadSeenAt = 0;
    const run = await runValidate(
      dir,
      args([noLimit], '--only', 'load', '--duration', '60s'),
      SIGNING_ENV,
      (out) => {
        // Interrupt a second and a half into the load.
        if (loadSeenAt === 0 && /load: 100 users/.test(out)) loadSeenAt = Date.now();
        return loadSeenAt > 0 && Date.now() - loadSeenAt > 1500;
      },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.ok(Date.now() - started < 30_000, 'stopped long before the 60 s load would have ended');
    assert.match(run.stderr, /interrupted: stopping and writing the partial report/);
    const report = run.report!;
    assert.equal(report.interrupted, true);
    assert.equal(report.passed, false);
    const throughput = report.checks.find((c) => c.name === 'load.throughput')!;
    assert.ok((throughput.details as { requests: number }).requests > 0);
    assert.match(throughput.message, /interrupted: partial run/);
    assert.match(run.stdout, /INTERRUPTED: /);
  });

  test('usage errors exit 2; production load needs --yes', async () => {
    const bad = await runValidate(dir, ['--environment', 'qa', '--target', main[0]!.dataUrl]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--environment must be staging or production/);
    const prod = await runValidate(dir, [
      '--environment',
      'production',
      '--target',
      main[0]!.dataUrl,
      '--only',
      'load',
    ]);
    assert.equal(prod.code, 2);
    assert.match(prod.stderr, /needs --yes/);
    assert.equal(prod.report, null);
  });
});

// The real monitoring path: Debian's prometheus and prometheus-alertmanager, started by the local stack
// on loopback ports with the project's configuration (scrape and evaluation every second, and the real
// alerts.yml with AcgsGatewayDown's `for:` shortened), scrape two replicas. One replica stops; the alert
// fires for that replica only and reaches a webhook receiver in this test through Alertmanager.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import type { StackState } from '../../release/contracts.js';
import { stackDown, stackUp } from '../../release/stack/index.js';
import { DOCKER, findBinary } from '../deploy/helpers.js';
import { waitFor } from '../helpers/wait.js';
import { alive, cliEnv, ensurePolicyBundle, processesMatching } from './helpers.js';

const missing = ['nginx', 'redis-server', 'prometheus', 'prometheus-alertmanager'].filter(
  (b) => findBinary(b, [`/usr/sbin/${b}`]) === null,
);
const skip = missing.length > 0 ? `not installed: ${missing.join(', ')}` : false;

interface WebhookPayload {
  status: string;
  receiver: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

interface Rule {
  alert?: string;
  for?: string;
}

/** The project's rule file with AcgsGatewayDown's `for:` shortened; everything else as it is. */
function shortenedRules(file: string): string {
  const doc = parseYaml(readFileSync(join(DOCKER, 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === 'AcgsGatewayDown');
  assert.ok(rule, 'alerts.yml defines AcgsGatewayDown');
  // What production waits for before paging; the test waits 3 s instead of a minute.
  assert.equal(rule.for, '1m');
  rule.for = '3s';
  writeFileSync(file, stringify(doc));
  return file;
}

describe('AcgsGatewayDown through real Prometheus and Alertmanager', { skip }, () => {
  let dir: string;
  let state: StackState;
  let hook: Server;
  const received: WebhookPayload[] = [];

  before(async () => {
    await ensurePolicyBundle();
    dir = mkdtempSync(join(tmpdir(), 'acgs-monitoring-'));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        try {
          received.push(JSON.parse(body) as WebhookPayload);
        } catch {}
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', () => resolve()));
    const webhookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/alerts`;
    state = await stackUp({
      environment: 'staging',
      driver: 'local',
      replicas: 2,
      stateDir: join(dir, 'stack'),
      env: cliEnv(),
      timeoutMs: 60_000,
      monitoring: {
        scrapeInterval: '1s',
        evaluationInterval: '1s',
        rulesFile: shortenedRules(join(dir, 'alerts.yml')),
        webhookUrl,
        groupWait: '1s',
        groupInterval: '1s',
      },
    });
  });
  after(async () => {
    await stackDown({ environment: 'staging', stateDir: join(dir, 'stack') }).catch(() => {});
    hook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${state.prometheus}${path}`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { data: T }).data;
  };

  test('Prometheus scrapes both replicas on their admin planes, with the stack token', async () => {
    assert.ok(state.prometheus && state.alertmanager, 'both were started');
    const targets = await waitFor(
      'both replicas scraped and up',
      async () => {
        const data = await query<{ activeTargets: { labels: Record<string, string>; health: string }[] }>(
          '/api/v1/targets',
        );
        const gateways = data.activeTargets.filter((t) => t.labels.job === 'acgs-gateway');
        return gateways.length === 2 && gateways.every((t) => t.health === 'up') ? gateways : null;
      },
      20_000,
      250,
    );
    assert.deepEqual(targets.map((t) => t.labels.instance).sort(), ['gateway-1', 'gateway-2']);
    // The gateway's own metrics arrived (not just `up`).
    const series = await query<{ result: unknown[] }>(
      `/api/v1/query?query=${encodeURIComponent('process_resident_memory_bytes{job="acgs-gateway"}')}`,
    );
    assert.equal(series.result.length, 2);
    // Prometheus knows its Alertmanager.
    const ams = await query<{ activeAlertmanagers: { url: string }[] }>('/api/v1/alertmanagers');
    assert.equal(ams.activeAlertmanagers.length, 1);
    assert.ok(ams.activeAlertmanagers[0]!.url.startsWith(state.alertmanager!));
    assert.deepEqual(received, [], 'nothing fires while both replicas are up');
  });

  test('gateway-2 stops: AcgsGatewayDown fires for it alone and the webhook receives it', async () => {
    const victim = state.components.find((c) => c.name === 'gateway-2')!;
    const stoppedAt = Date.now();
    process.kill(victim.pid!, 'SIGTERM');
    await waitFor('gateway-2 to exit', () => !alive(victim.pid!), 20_000, 50);

    const payload = await waitFor(
      'AcgsGatewayDown at the webhook',
      () =>
        received.find(
          (p) => p.status === 'firing' && p.alerts.some((a) => a.labels.alertname === 'AcgsGatewayDown'),
        ),
      45_000,
      100,
    );
    const elapsed = Date.now() - stoppedAt;
    const alerts = payload.alerts.filter((a) => a.labels.alertname === 'AcgsGatewayDown');
    assert.deepEqual(
      alerts.map((a) => [a.status, a.labels.instance, a.labels.severity, a.labels.job]),
      [['firing', 'gateway-2', 'critical', 'acgs-gateway']],
    );
    assert.equal(alerts[0]!.annotations.summary, 'Gateway replica gateway-2 is down');
    assert.equal(payload.receiver, 'webhook');
    // Not before the rule's (shortened) `for:` could have elapsed.
    assert.ok(elapsed >= 3000, `fired after ${elapsed} ms`);
    // Prometheus agrees, and gateway-1 is not reported.
    const firing = await query<{ alerts: { labels: Record<string, string>; state: string }[] }>(
      '/api/v1/alerts',
    );
    const down = firing.alerts.filter((a) => a.labels.alertname === 'AcgsGatewayDown');
    assert.deepEqual(
      down.map((a) => [a.labels.instance, a.state]),
      [['gateway-2', 'firing']],
    );
  });

  test('stack down stops Prometheus, Alertmanager and everything else', async () => {
    await stackDown({ environment: 'staging', stateDir: join(dir, 'stack') });
    for (const c of state.components)
      if (c.pid !== null) assert.equal(alive(c.pid), false, `${c.name} stopped`);
    assert.deepEqual(processesMatching(join(dir, 'stack')), []);
  });
});

describe('a machine without prometheus and alertmanager', {
  skip:
    findBinary('nginx', ['/usr/sbin/nginx']) === null || findBinary('redis-server') === null
      ? 'nginx and redis-server are needed'
      : false,
}, () => {
  let dir: string;
  before(async () => {
    await ensurePolicyBundle();
    dir = mkdtempSync(join(tmpdir(), 'acgs-nomon-'));
    // A PATH with redis-server only (nginx is found in /usr/sbin): prometheus is "not installed".
    mkdirSync(join(dir, 'bin'));
    symlinkSync(findBinary('redis-server')!, join(dir, 'bin', 'redis-server'));
  });
  after(async () => {
    await stackDown({ environment: 'staging', stateDir: join(dir, 'stack') }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('the stack comes up without them and says that it skipped them', async () => {
    const events: string[] = [];
    const state = await stackUp({
      environment: 'staging',
      driver: 'local',
      replicas: 1,
      stateDir: join(dir, 'stack'),
      env: { ...cliEnv(), PATH: join(dir, 'bin') },
      onProgress: (p) => events.push(`${p.component} ${p.status}${p.message ? ` ${p.message}` : ''}`),
    });
    assert.equal(state.prometheus, null);
    assert.equal(state.alertmanager, null);
    assert.ok(
      events.includes('prometheus stopped skipped: not installed (Debian: prometheus)'),
      events.join('\n'),
    );
    assert.ok(
      events.includes('alertmanager stopped skipped: not installed (Debian: prometheus-alertmanager)'),
    );
    assert.deepEqual(
      state.components.map((c) => c.kind),
      ['redis', 'service', 'gateway', 'nginx'],
    );
    assert.equal((await fetch(`${state.target}/api/fv/x`)).status, 200);
  });
});

// Prometheus configuration, alert rules and the Grafana dashboard: checked by the real promtool, and
// checked against the metric names the gateway actually exports.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { GatewayMetrics } from '../../gateway/metrics/gateway-metrics.js';
import { DOCKER, findBinary, REPO, run } from './helpers.js';

const PROMTOOL = findBinary('promtool');
const skip = PROMTOOL === null ? 'promtool is not installed (Debian package prometheus)' : false;
const PROM_DIR = join(DOCKER, 'prometheus');

interface RuleGroup {
  name: string;
  rules: { alert?: string; record?: string; expr: string; labels?: Record<string, string> }[];
}

function alertRules() {
  const doc = parseYaml(readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8')) as { groups: RuleGroup[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Every `acgs_*` metric name registered in the gateway's source (gateway/ and rollout/). */
function exportedMetricNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.ts')) {
        for (const m of readFileSync(full, 'utf8').matchAll(/['"](acgs_[a-z0-9_]+)['"]/g)) names.add(m[1]!);
      }
    }
  };
  walk(join(REPO, 'gateway'));
  walk(join(REPO, 'rollout'));
  return names;
}

/** Metric names an expression uses; histogram series suffixes are mapped to the histogram's name. */
function referencedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(acgs_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

// Only the tests that run promtool are skipped without it; the others read the files themselves.
describe('Prometheus configuration and alert rules', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'acgs-prom-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('promtool check config passes (with the scrape token secret present)', { skip }, async () => {
    const token = join(tmp, 'prometheus_admin_token');
    writeFileSync(token, 'test-token-0123456789\n');
    const config = readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8');
    assert.match(config, /credentials_file: \/run\/secrets\/prometheus_admin_token/);
    writeFileSync(join(tmp, 'prometheus.yml'), config.replace('/run/secrets/prometheus_admin_token', token));
    copyFileSync(join(PROM_DIR, 'alerts.yml'), join(tmp, 'alerts.yml'));
    const result = await run(PROMTOOL!, ['check', 'config', join(tmp, 'prometheus.yml')]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  test('every replica is scraped on its admin plane with a bearer token', () => {
    const doc = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        authorization?: { type?: string; credentials_file?: string };
        static_configs: { targets: string[] }[];
      }[];
    };
    const job = doc.scrape_configs.find((j) => j.job_name === 'acgs-gateway');
    assert.ok(job, 'a scrape job named acgs-gateway (the alerts select on it)');
    assert.equal(job.metrics_path, '/metrics');
    assert.equal(job.authorization?.type ?? 'Bearer', 'Bearer');
    assert.ok(job.authorization?.credentials_file);
    const targets = job.static_configs.flatMap((s) => s.targets);
    assert.deepEqual(targets, ['gateway-1:9901', 'gateway-2:9901', 'gateway-3:9901']);
  });

  test('promtool check rules passes', { skip }, async () => {
    const result = await run(PROMTOOL!, ['check', 'rules', join(PROM_DIR, 'alerts.yml')]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  test('promtool test rules passes (docker/prometheus/alerts.test.yml)', { skip }, async () => {
    const result = await run(PROMTOOL!, ['test', 'rules', 'alerts.test.yml'], { cwd: PROM_DIR });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS/);
  });

  test('the required alerts exist and each has a unit test in which it fires', () => {
    const alerts = alertRules()
      .map((r) => r.alert)
      .filter((a): a is string => a !== undefined);
    for (const required of [
      'AcgsGatewayDown',
      'AcgsHigh5xxRatio',
      'AcgsHighP99Latency',
      'AcgsCircuitBreakerOpen',
      'AcgsJwtCacheHitRateLow',
      'AcgsPolicyErrors',
      'AcgsRolloutRolledBack',
      // The release's success criteria.
      'AcgsDecisionLatencyP99High',
      'AcgsErrorRatioHigh',
      'AcgsAvailabilityBudgetBurnFast',
      'AcgsAvailabilityBudgetBurnSlow',
      'AcgsReplicaCpuHigh',
      'AcgsReplicaMemoryHigh',
    ]) {
      assert.ok(alerts.includes(required), `alerts.yml defines ${required}`);
    }
    const tests = parseYaml(readFileSync(join(PROM_DIR, 'alerts.test.yml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const firing = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
      ),
    );
    for (const alert of alerts)
      assert.ok(firing.has(alert), `alerts.test.yml has a case where ${alert} fires`);
  });

  test('the success-criteria alerts use the thresholds of the criteria', () => {
    const expr = (name: string) => alertRules().find((r) => r.alert === name)!.expr;
    assert.match(expr('AcgsDecisionLatencyP99High'), /histogram_quantile\(0\.99,[^>]*> 0\.05\b/);
    assert.match(expr('AcgsErrorRatioHigh'), /> 0\.01\b/);
    assert.match(expr('AcgsJwtCacheHitRateLow'), /< 0\.8\b/);
    assert.match(expr('AcgsReplicaCpuHigh'), /> 0\.8\b/);
    assert.match(expr('AcgsReplicaMemoryHigh'), /> 0\.85\b/);
    // Multi-window burn rates of a 99.9 % SLO: 14.4x (1h/5m) and 6x (6h/30m) page; 3x (1d/2h), 1x (3d/6h) do not.
    const fast = expr('AcgsAvailabilityBudgetBurnFast');
    for (const part of [
      'ratio_rate1h > (14.4 * 0.001)',
      'ratio_rate5m > (14.4 * 0.001)',
      'ratio_rate6h > (6 * 0.001)',
      'ratio_rate30m > (6 * 0.001)',
    ])
      assert.ok(fast.includes(part), part);
    const slow = expr('AcgsAvailabilityBudgetBurnSlow');
    for (const part of [
      'ratio_rate1d > (3 * 0.001)',
      'ratio_rate2h > (3 * 0.001)',
      'ratio_rate3d > 0.001',
      'ratio_rate6h > 0.001',
    ])
      assert.ok(slow.includes(part), part);
  });

  test('the process metrics the resource alerts use are exported by a gateway registry', async () => {
    const text = await new GatewayMetrics().registry.metrics();
    for (const rule of alertRules()) {
      for (const name of rule.expr.match(/\bprocess_[a-z_]+/g) ?? [])
        assert.match(text, new RegExp(`^${name} `, 'm'), `${rule.alert}: ${name} is exported`);
    }
  });

  test('Prometheus sends alerts to the compose Alertmanager', () => {
    const doc = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as {
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    assert.deepEqual(
      doc.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets)),
      ['alertmanager:9093'],
    );
  });

  test('the rules use only metric names the gateway exports', () => {
    const exported = exportedMetricNames();
    for (const rule of alertRules()) {
      for (const name of referencedMetrics(rule.expr)) {
        assert.ok(
          exported.has(name),
          `${rule.alert ?? rule.record}: ${name} is not registered in gateway/ or rollout/`,
        );
      }
    }
  });
});

describe('Grafana provisioning and dashboard', () => {
  const dashboardDir = join(DOCKER, 'grafana', 'dashboards');
  const datasource = parseYaml(
    readFileSync(join(DOCKER, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
  ) as { datasources: { uid: string; type: string; url: string }[] };

  interface Panel {
    title: string;
    datasource?: { uid: string };
    targets?: { expr: string; datasource?: { uid: string } }[];
  }
  const dashboards = readdirSync(dashboardDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({
      file: f,
      json: JSON.parse(readFileSync(join(dashboardDir, f), 'utf8')) as { panels: Panel[] },
    }));

  test('the datasource points at the compose Prometheus and every panel uses it', () => {
    const [prometheus] = datasource.datasources;
    assert.ok(prometheus);
    assert.equal(prometheus.type, 'prometheus');
    assert.equal(prometheus.url, 'http://prometheus:9090');
    assert.ok(dashboards.length > 0);
    for (const { file, json } of dashboards) {
      for (const panel of json.panels) {
        assert.equal(panel.datasource?.uid, prometheus.uid, `${file}: ${panel.title}`);
        for (const target of panel.targets ?? [])
          assert.equal(target.datasource?.uid ?? prometheus.uid, prometheus.uid);
      }
    }
  });

  test('the dashboard shows requests by colour, error ratio, p99, weights and breaker states', () => {
    const exprs = dashboards.flatMap(({ json }) =>
      json.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    );
    const all = exprs.join('\n');
    for (const metric of [
      'acgs_requests_total',
      'acgs_request_duration_seconds_bucket',
      'acgs_traffic_weight_percent',
      'acgs_circuit_breaker_state',
    ]) {
      assert.ok(all.includes(metric), `a panel uses ${metric}`);
    }
    assert.match(all, /histogram_quantile\(0\.99/);
    assert.match(all, /class="5xx"/);
  });

  test('every panel query is valid PromQL on exported metrics (promtool parses them as recording rules)', {
    skip,
  }, async () => {
    const exported = exportedMetricNames();
    const rules: { record: string; expr: string }[] = [];
    for (const { file, json } of dashboards) {
      json.panels.forEach((panel, p) => {
        (panel.targets ?? []).forEach((target, t) => {
          for (const name of referencedMetrics(target.expr)) {
            assert.ok(exported.has(name), `${file} "${panel.title}": ${name} is not exported by the gateway`);
          }
          // Grafana's variables, as Grafana would substitute them.
          const expr = target.expr.replaceAll('$__rate_interval', '5m').replaceAll('$service', '.*');
          rules.push({ record: `dashboard:panel_${p}_${t}`, expr });
        });
      });
    }
    const tmp = mkdtempSync(join(tmpdir(), 'acgs-dash-'));
    try {
      const file = join(tmp, 'dashboard-rules.yml');
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const result = await run(PROMTOOL!, ['check', 'rules', file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

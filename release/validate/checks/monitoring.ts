// monitoring: Prometheus up, scraping every gateway replica, the project's rules loaded and no alert
// firing that should not; Alertmanager answering with a receiver configured.
import type { CheckResult } from '../../contracts.js';
import { CheckRecorder, type RunContext } from '../context.js';
import { describeError, http, json } from '../http.js';

async function api(base: string, path: string, signal: AbortSignal): Promise<unknown> {
  const result = await http(`${base}${path}`, { timeoutMs: 5000, signal });
  if (result.status !== 200) throw new Error(`GET ${path} answered ${result.status}`);
  const body = json(result);
  if (body === null) throw new Error(`GET ${path} did not answer JSON`);
  return body;
}

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

export async function runMonitoring(ctx: RunContext): Promise<CheckResult[]> {
  const rec = new CheckRecorder('monitoring');
  const m = ctx.criteria.monitoring;
  const prom = ctx.options.prometheus;
  if (prom === null) {
    for (const name of ['prometheus', 'targets', 'rules', 'alerts'])
      rec.skip(name, 'Prometheus checks', 'no --prometheus URL given');
  } else {
    let reachable = false;
    try {
      await api(prom, '/api/v1/status/buildinfo', ctx.signal);
      reachable = true;
      rec.add('prometheus', 'pass', {
        threshold: 'answers its HTTP API',
        measured: true,
        message: `Prometheus at ${prom} answers`,
      });
    } catch (error) {
      rec.add('prometheus', 'fail', {
        threshold: 'answers its HTTP API',
        measured: false,
        message: `cannot reach Prometheus at ${prom}: ${describeError(error)}`,
      });
    }
    if (!reachable) {
      for (const name of ['targets', 'rules', 'alerts'])
        rec.skip(
          name,
          'Prometheus checks',
          'not tried: Prometheus is unreachable (see monitoring.prometheus)',
        );
    } else {
      try {
        const targets = (
          (await api(prom, '/api/v1/targets?state=active', ctx.signal)) as {
            data: { activeTargets: Target[] };
          }
        ).data.activeTargets.filter((t) => t.labels.job === m.job);
        const down = targets.filter((t) => t.health !== 'up');
        const expected = Math.max(
          1,
          ctx.options.adminUrls.length,
          ctx.options.replicas.length === 1 && ctx.options.replicas[0] === ctx.options.target
            ? 1
            : ctx.options.replicas.length,
        );
        const problems: string[] = [];
        if (targets.length < expected)
          problems.push(
            `job '${m.job}' has ${targets.length} target(s), expected at least ${expected} (one per replica)`,
          );
        for (const t of down)
          problems.push(`${t.scrapeUrl} is ${t.health}${t.lastError ? `: ${t.lastError}` : ''}`);
        rec.add('targets', problems.length === 0 ? 'pass' : 'fail', {
          threshold: `every replica scraped and up (job ${m.job})`,
          measured: `${targets.length - down.length}/${targets.length} up`,
          message: problems.length === 0 ? `${targets.length} gateway target(s) up` : problems.join('; '),
        });
        const groups = (
          (await api(prom, '/api/v1/rules', ctx.signal)) as {
            data: { groups: { name: string; rules: unknown[] }[] };
          }
        ).data.groups.filter((g) => g.name.startsWith(m.ruleGroupPrefix));
        const rules = groups.reduce((n, g) => n + g.rules.length, 0);
        rec.add('rules', rules > 0 ? 'pass' : 'fail', {
          threshold: `rule groups '${m.ruleGroupPrefix}*' loaded`,
          measured: rules,
          unit: 'rules',
          message:
            rules > 0
              ? `${groups.length} group(s), ${rules} rules loaded`
              : `no rule group named '${m.ruleGroupPrefix}*': add docker/prometheus/alerts.yml to rule_files`,
        });
        const alerts = (
          (await api(prom, '/api/v1/alerts', ctx.signal)) as {
            data: { alerts: { labels: Record<string, string>; state: string }[] };
          }
        ).data.alerts.filter(
          (a) => a.state === 'firing' && !m.allowedAlerts.includes(a.labels.alertname ?? ''),
        );
        rec.add('alerts', alerts.length === 0 ? 'pass' : 'fail', {
          threshold: 'no unexpected alert firing',
          measured: alerts.length,
          message:
            alerts.length === 0
              ? 'no alert firing'
              : `firing: ${alerts.map((a) => `${a.labels.alertname}${a.labels.instance ? ` (${a.labels.instance})` : ''}`).join(', ')}`,
        });
      } catch (error) {
        // Prometheus answered its status but not the rest in the expected shape.
        rec.add('api', 'fail', {
          threshold: 'Prometheus HTTP API',
          measured: null,
          message: `Prometheus at ${prom} answered unexpectedly: ${describeError(error)}`,
        });
      }
    }
  }
  const am = ctx.options.alertmanager;
  if (am === null) {
    rec.skip('alertmanager', 'answers, has a receiver', 'no --alertmanager URL given');
  } else {
    try {
      const status = (await api(am, '/api/v2/status', ctx.signal)) as { config?: { original?: string } };
      const receivers = [
        ...(status.config?.original ?? '').matchAll(/^\s*-\s*name:\s*['"]?([^'"\s]+)/gm),
      ].map((x) => x[1]);
      rec.add('alertmanager', receivers.length > 0 ? 'pass' : 'fail', {
        threshold: 'answers, has a receiver',
        measured: receivers.length,
        unit: 'receivers',
        message:
          receivers.length > 0
            ? `Alertmanager answers; receivers: ${receivers.join(', ')}`
            : 'Alertmanager answers but has no receiver configured',
      });
    } catch (error) {
      rec.add('alertmanager', 'fail', {
        threshold: 'answers, has a receiver',
        measured: false,
        message: `cannot reach Alertmanager at ${am}: ${describeError(error)}`,
      });
    }
  }
  return rec.results;
}

// Prometheus and Alertmanager configs for a local stack, generated from docker/prometheus/prometheus.yml
// and docker/alertmanager/alertmanager.yml: the replicas' loopback admin planes as targets (each named
// gateway-N, as in compose), the token file in the state dir, the local Alertmanager, and optional
// shorter intervals (tests). Rules, job names and receivers are the project's own.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';

export interface MonitoringOverrides {
  /** e.g. '1s' instead of the production 15s. */
  readonly scrapeInterval?: string;
  readonly evaluationInterval?: string;
  /** A rule file to load instead of docker/prometheus/alerts.yml (e.g. with shortened `for:`). */
  readonly rulesFile?: string;
  /** Alertmanager's webhook; without one alerts are kept in Alertmanager (its UI/API) only. */
  readonly webhookUrl?: string;
  /** Alertmanager grouping waits, e.g. '1s' in tests (30s / 5m in the project file). */
  readonly groupWait?: string;
  readonly groupInterval?: string;
}

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  relabel_configs?: unknown[];
  authorization?: { type?: string; credentials_file?: string };
}

export function prometheusConfig(o: {
  docker: string;
  environment: string;
  /** host:port of each replica's admin plane. */
  admins: readonly string[];
  tokenFile: string;
  rulesFile: string;
  listen: string;
  alertmanager: string | null;
  overrides?: MonitoringOverrides;
}): string {
  const doc = parseYaml(readFileSync(join(o.docker, 'prometheus', 'prometheus.yml'), 'utf8')) as {
    global: Record<string, unknown>;
    rule_files: string[];
    alerting?: unknown;
    scrape_configs: ScrapeConfig[];
  };
  if (o.overrides?.scrapeInterval) {
    doc.global.scrape_interval = o.overrides.scrapeInterval;
    doc.global.scrape_timeout = o.overrides.scrapeInterval;
  }
  if (o.overrides?.evaluationInterval) doc.global.evaluation_interval = o.overrides.evaluationInterval;
  doc.global.external_labels = { deployment: `acgs-${o.environment}-local` };
  doc.rule_files = [o.rulesFile];
  if (o.alertmanager) doc.alerting = { alertmanagers: [{ static_configs: [{ targets: [o.alertmanager] }] }] };
  else delete doc.alerting;
  for (const job of doc.scrape_configs) {
    if (job.job_name === 'acgs-gateway') {
      if (!job.authorization) throw new Error('prometheus.yml: the acgs-gateway job has no authorization');
      job.authorization.credentials_file = o.tokenFile;
      // Every replica is 127.0.0.1 here, so the instance label is set per target instead of relabelled.
      delete job.relabel_configs;
      job.static_configs = o.admins.map((target, i) => ({
        targets: [target],
        labels: { instance: `gateway-${i + 1}` },
      }));
    } else if (job.job_name === 'prometheus') {
      job.static_configs = [{ targets: [o.listen] }];
    }
  }
  return stringify(doc);
}

/** What docker/alertmanager/entrypoint.sh replaces with ALERT_WEBHOOK_URL. */
export const WEBHOOK_PLACEHOLDER = ['$', '{ALERT_WEBHOOK_URL}'].join('');

export function alertmanagerConfig(docker: string, overrides: MonitoringOverrides = {}): string {
  const doc = parseYaml(readFileSync(join(docker, 'alertmanager', 'alertmanager.yml'), 'utf8')) as {
    route: Record<string, unknown> & { routes?: Record<string, unknown>[] };
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  for (const receiver of doc.receivers) {
    if (!receiver.webhook_configs) continue;
    if (overrides.webhookUrl) {
      for (const hook of receiver.webhook_configs)
        hook.url = hook.url.replace(WEBHOOK_PLACEHOLDER, overrides.webhookUrl);
    } else {
      delete receiver.webhook_configs;
    }
  }
  for (const route of [doc.route, ...(doc.route.routes ?? [])]) {
    if (overrides.groupWait) route.group_wait = overrides.groupWait;
    if (overrides.groupInterval) route.group_interval = overrides.groupInterval;
  }
  return stringify(doc);
}

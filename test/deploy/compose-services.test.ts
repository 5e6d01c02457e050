// The whole deployment in docker/docker-compose.prod.yml beyond the gateway tier: the ten service
// containers, PostgreSQL 15, Alertmanager, the networks (only nginx published), the limits the resource
// alerts divide by, and the staging override. Read as compose reads it, checked against the other files.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DOCKER, REPO } from './helpers.js';

interface Service {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
  env_file?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  networks?: Record<string, unknown> | string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  secrets?: string[];
}

interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
}

const read = (file: string) => parseYaml(readFileSync(join(DOCKER, file), 'utf8'), { merge: true });
const compose = read('docker-compose.prod.yml') as Compose;
const GATEWAYS = ['gateway-1', 'gateway-2', 'gateway-3'];
const SERVICE_NAMES = ['ac', 'integrity', 'fv', 'gs', 'pgc'];
const SERVICE_CONTAINERS = SERVICE_NAMES.flatMap((s) => [`${s}-blue`, `${s}-green`]);
const networksOf = (s: Service): string[] =>
  Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
/** `${NAME}` as written in the compose file. */
const dollar = (name: string) => `\${${name}}`;

describe('the whole deployment: services, PostgreSQL, Alertmanager, networks, staging', () => {
  const staging = read('docker-compose.staging.yml') as Compose & { name: string };

  test('each of the ten service containers takes its image from the env file and is bounded and checked', () => {
    for (const name of SERVICE_CONTAINERS) {
      const service = compose.services[name]!;
      const variable = `ACGS_${name.replace('-', '_').toUpperCase()}_IMAGE`;
      assert.equal(
        service.image,
        `\${${variable}:?set ${variable} in the env file}`,
        `${name}: image from ${variable}`,
      );
      const [service_, color] = name.split('-');
      assert.equal(service.environment?.ACGS_SERVICE, service_);
      assert.equal(service.environment?.ACGS_COLOR, color);
      assert.equal(service.environment?.DATABASE_HOST, 'postgres');
      assert.equal(service.environment?.DATABASE_PASSWORD_FILE, '/run/secrets/postgres_password');
      assert.deepEqual(service.secrets, ['postgres_password']);
      assert.ok(
        service.deploy?.resources?.limits?.cpus && service.deploy.resources.limits.memory,
        `${name}: limits`,
      );
      assert.match(service.healthcheck!.test.join(' '), /127\.0\.0\.1:8000\/health/);
      assert.equal(service.depends_on?.postgres?.condition, 'service_healthy');
      assert.deepEqual(networksOf(service), ['services'], `${name} is on the services network only`);
    }
  });

  test('the gateway config routes every service to its blue and green containers on port 8000', () => {
    const gatewayYaml = parseYaml(readFileSync(join(DOCKER, 'gateway', 'gateway.yaml'), 'utf8')) as {
      services: Record<string, { blue: { upstreams: string[] }; green: { upstreams: string[] } }>;
    };
    assert.deepEqual(Object.keys(gatewayYaml.services).sort(), [...SERVICE_NAMES].sort());
    for (const [name, service] of Object.entries(gatewayYaml.services)) {
      for (const color of ['blue', 'green'] as const) {
        for (const upstream of service[color].upstreams) {
          const url = new URL(upstream);
          assert.equal(url.hostname, `${name}-${color}`);
          assert.equal(url.port, compose.services[url.hostname]!.environment!.PORT);
          // The gateways reach it: they share its network.
          for (const gateway of GATEWAYS)
            assert.ok(
              networksOf(compose.services[gateway]!).some((n) =>
                networksOf(compose.services[url.hostname]!).includes(n),
              ),
            );
        }
      }
    }
  });

  test('PostgreSQL 15 with production settings, a health check, a volume and a password from a secret', () => {
    const pg = compose.services.postgres!;
    assert.match(pg.image!, /^postgres:15(\.|-|$)/);
    assert.equal(pg.environment?.POSTGRES_PASSWORD_FILE, '/run/secrets/postgres_password');
    assert.equal(pg.environment?.POSTGRES_PASSWORD, undefined, 'no password in the compose file');
    assert.deepEqual(pg.secrets, ['postgres_password']);
    const settings = Object.fromEntries(
      pg.command!.filter((_, i, all) => all[i - 1] === '-c').map((kv) => kv.split('=') as [string, string]),
    );
    for (const key of [
      'max_connections',
      'shared_buffers',
      'effective_cache_size',
      'wal_level',
      'max_wal_size',
    ])
      assert.ok(settings[key], `postgres -c ${key}`);
    // 200 connections cover the ten containers' pools (a pool of at most 20 each).
    assert.ok(Number(settings.max_connections) >= SERVICE_CONTAINERS.length * 20);
    assert.match(pg.healthcheck!.test.join(' '), /pg_isready/);
    assert.ok(pg.volumes!.some((v) => v.startsWith('postgres-data:/var/lib/postgresql/data')));
    assert.ok(pg.deploy?.resources?.limits?.memory);
    assert.deepEqual(networksOf(pg), ['services']);
  });

  test('only nginx publishes ports beyond loopback; the services network has no way out', () => {
    const published = Object.entries(compose.services)
      .filter(([, s]) => (s.ports ?? []).some((p) => !p.startsWith('127.0.0.1:')))
      .map(([n]) => n);
    assert.deepEqual(published, ['nginx']);
    for (const name of [...SERVICE_CONTAINERS, 'postgres', 'alertmanager', 'redis'])
      assert.equal(compose.services[name]!.ports, undefined, `${name} publishes nothing`);
    assert.equal(compose.networks.services?.internal, true);
    assert.deepEqual(
      Object.entries(compose.services)
        .filter(([, s]) => networksOf(s).includes('edge'))
        .map(([n]) => n)
        .sort(),
      ['gateway-1', 'gateway-2', 'gateway-3', 'nginx'],
    );
  });

  test('Alertmanager renders its webhook from the environment and Prometheus waits for it', () => {
    const am = compose.services.alertmanager!;
    assert.match(am.image!, /^prom\/alertmanager:/);
    assert.deepEqual(am.entrypoint, ['/bin/sh', '/etc/alertmanager/entrypoint.sh']);
    assert.equal(am.environment?.ALERT_WEBHOOK_URL, dollar('ALERT_WEBHOOK_URL:-'));
    assert.ok(am.volumes!.includes('./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro'));
    assert.ok(am.volumes!.includes('./alertmanager/entrypoint.sh:/etc/alertmanager/entrypoint.sh:ro'));
    assert.ok(
      am.command!.includes('--web.listen-address=:9093'),
      'listens where prometheus.yml sends alerts',
    );
    assert.equal(compose.services.prometheus!.depends_on?.alertmanager?.condition, 'service_healthy');
  });

  test("the gateways' limits are the ones the CPU and memory alerts divide by", () => {
    const limits = compose.services['gateway-1']!.deploy!.resources!.limits!;
    const alerts = readFileSync(join(DOCKER, 'prometheus', 'alerts.yml'), 'utf8');
    const recorded = (name: string) =>
      Number(new RegExp(`record: ${name}\\n\\s*expr: vector\\((\\d+)\\)`).exec(alerts)?.[1]);
    assert.equal(recorded('acgs:replica_limit:cpu_cores'), Number(limits.cpus));
    const memory = /^(\d+)([mg])$/.exec(limits.memory!)!;
    assert.equal(
      recorded('acgs:replica_limit:memory_bytes'),
      Number(memory[1]) * 1024 ** (memory[2] === 'g' ? 3 : 2),
    );
  });

  test('the staging override: its own project, the staging env file, smaller limits, only known services', () => {
    assert.equal(staging.name, 'acgs-staging');
    for (const [name, service] of Object.entries(staging.services)) {
      assert.ok(compose.services[name], `${name} exists in the production file`);
      const mem = (s: Service) => s.deploy?.resources?.limits?.memory;
      if (mem(service)) {
        const bytes = (m: string) => Number.parseInt(m, 10) * (m.endsWith('g') ? 1024 : 1);
        assert.ok(
          bytes(mem(service)!) < bytes(mem(compose.services[name]!)!),
          `${name}: smaller memory limit`,
        );
      }
    }
    const stagingEnv = readFileSync(join(REPO, 'config', 'env', 'staging.env.example'), 'utf8');
    assert.match(stagingEnv, /^ACGS_ENVIRONMENT=staging$/m, 'so the gateways read config/env/staging.env');
    assert.deepEqual(compose.services['gateway-1']!.env_file, [
      `../config/env/${dollar('ACGS_ENVIRONMENT:-production')}.env`,
    ]);
  });
});

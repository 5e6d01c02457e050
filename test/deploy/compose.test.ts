// docker/docker-compose.prod.yml and docker/Dockerfile without a Docker engine: the compose file against
// the Compose Specification JSON schema, its wiring checked against the other deployment files, and the
// image's health check run for real against a gateway.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { Gateway } from '../../gateway/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { DOCKER, REPO } from './helpers.js';

const COMPOSE_FILE = join(DOCKER, 'docker-compose.prod.yml');
const STAGING_FILE = join(DOCKER, 'docker-compose.staging.yml');
const SERVICE_CONTAINERS = ['ac', 'integrity', 'fv', 'gs', 'pgc'].flatMap((s) => [`${s}-blue`, `${s}-green`]);

interface Service {
  image?: string;

  build?: { context: string; dockerfile: string };
  env_file?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; timeout?: string; retries?: number };
  secrets?: string[];
}

interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam?: { config: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

// YAML merge keys (`<<: *gateway`) are part of the compose format.
const compose = parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const GATEWAYS = ['gateway-1', 'gateway-2', 'gateway-3'];

const networksOf = (s: Service): string[] =>
  Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});

function subnet(name: string): BlockList & { cidr: string } {
  const cidr = compose.networks[name]?.ipam?.config[0]?.subnet;
  assert.ok(cidr, `network ${name} has a fixed subnet`);
  const [address, bits] = cidr.split('/');
  const list = new BlockList() as BlockList & { cidr: string };
  list.addSubnet(address!, Number(bits), 'ipv4');
  list.cidr = cidr;
  return list;
}

describe('docker-compose.prod.yml', () => {
  test('it and the staging override are valid against the Compose Specification schema', () => {
    // Vendored from the compose-spec project (see test/deploy/fixtures/README.md).
    const schema = JSON.parse(
      readFileSync(join(REPO, 'test', 'deploy', 'fixtures', 'compose-spec.schema.json'), 'utf8'),
    );
    // The file names draft-07 by its https URL, which Ajv registers under http: the dialect is the same.
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    for (const file of [COMPOSE_FILE, STAGING_FILE]) {
      const ok = validate(parseYaml(readFileSync(file, 'utf8'), { merge: true }));
      assert.ok(ok, `${file}: ${JSON.stringify(validate.errors, null, 2)}`);
    }
  });

  test('runs nginx, three replicas, the ten service containers, postgres, redis and monitoring, each with a health check', () => {
    assert.deepEqual(
      Object.keys(compose.services).sort(),
      [
        'alertmanager',
        'gateway-1',
        'gateway-2',
        'gateway-3',
        'grafana',
        'nginx',
        'postgres',
        'prometheus',
        'redis',
        ...SERVICE_CONTAINERS,
      ].sort(),
    );
    for (const [name, service] of Object.entries(compose.services)) {
      assert.ok(service.image || service.build, `${name} has an image or a build`);
      assert.ok(service.healthcheck?.test?.length, `${name} has a healthcheck`);
      assert.ok(
        service.healthcheck.interval && service.healthcheck.timeout && service.healthcheck.retries,
        `${name}: bounded healthcheck`,
      );
    }
    for (const name of GATEWAYS) {
      const gateway = compose.services[name]!;
      assert.deepEqual(gateway.build, { context: '..', dockerfile: 'docker/Dockerfile' });
      assert.ok(existsSync(resolve(DOCKER, gateway.build!.context, gateway.build!.dockerfile)));
    }
  });

  test('depends_on waits for health: nginx on every replica, replicas on redis, grafana on prometheus', () => {
    const services = compose.services;
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        assert.ok(services[target], `${name} depends on an existing service ${target}`);
        if (condition === 'service_healthy')
          assert.ok(services[target]!.healthcheck, `${target} has a healthcheck for ${name}`);
      }
    }
    for (const gateway of GATEWAYS) {
      assert.equal(services.nginx!.depends_on?.[gateway]?.condition, 'service_healthy');
      assert.equal(services[gateway]!.depends_on?.redis?.condition, 'service_healthy');
    }
    assert.equal(services.grafana!.depends_on?.prometheus?.condition, 'service_healthy');
  });

  test('the replicas trust exactly the edge network, which holds only nginx and the replicas', () => {
    const edge = subnet('edge');
    const onEdge = Object.entries(compose.services)
      .filter(([, s]) => networksOf(s).includes('edge'))
      .map(([n]) => n)
      .sort();
    assert.deepEqual(onEdge, ['gateway-1', 'gateway-2', 'gateway-3', 'nginx']);
    for (const name of onEdge) {
      const address = (compose.services[name]!.networks as Record<string, { ipv4_address?: string }>).edge
        ?.ipv4_address;
      assert.ok(address && edge.check(address, 'ipv4'), `${name} has a fixed address inside ${edge.cidr}`);
    }
    for (const name of GATEWAYS) {
      const env = compose.services[name]!.environment!;
      assert.equal(env.TRUSTED_PROXIES, edge.cidr);
      assert.equal(env.REDIS_URL, 'redis://redis:6379');
      assert.ok(networksOf(compose.services[name]!).includes('backend'), `${name} reaches redis`);
    }
    assert.ok(networksOf(compose.services.redis!).includes('backend'));
    for (const [name, service] of Object.entries(compose.services)) {
      for (const network of networksOf(service))
        assert.ok(compose.networks[network], `${name}: network ${network} is declared`);
    }
  });

  test('only nginx is published to the world; the admin plane and the data port are not published', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) {
        if (name === 'nginx') assert.match(port, /^(80:80|443:443)$/);
        else assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port} on loopback only`);
        assert.doesNotMatch(port, /:(8080|9901)$/);
      }
    }
  });

  test('every file the stack mounts or reads exists (secrets and env files as their .example)', () => {
    const where = (p: string) => resolve(DOCKER, p);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const file of service.env_file ?? []) {
        // ${ACGS_ENVIRONMENT:-production} picks the environment's file: each must be documented.
        for (const environment of ['staging', 'production']) {
          const resolved = file.replace(/\$\{ACGS_ENVIRONMENT:-production\}/, environment);
          assert.ok(
            existsSync(`${where(resolved)}.example`),
            `${name}: ${resolved}.example documents the env file`,
          );
        }
      }
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) assert.ok(existsSync(where(source)), `${name}: ${source} exists`);
        else assert.ok(source in compose.volumes, `${name}: named volume ${source} is declared`);
      }
      for (const secret of service.secrets ?? [])
        assert.ok(compose.secrets[secret], `${name}: secret ${secret} is declared`);
    }
    for (const [name, { file }] of Object.entries(compose.secrets)) {
      assert.ok(
        existsSync(where(file)) || existsSync(`${where(file)}.example`),
        `secret ${name}: ${file}(.example)`,
      );
    }
  });

  test('nginx, Prometheus and the gateway config agree on names and ports', () => {
    const upstream = readFileSync(join(DOCKER, 'nginx', 'conf.d', '10-upstream.conf'), 'utf8');
    const servers = [...upstream.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(
      servers,
      GATEWAYS.map((g) => `${g}:8080`),
    );
    const prometheus = readFileSync(join(DOCKER, 'prometheus', 'prometheus.yml'), 'utf8');
    const secret = compose.services.prometheus!.secrets?.[0];
    assert.ok(
      secret && prometheus.includes(`credentials_file: /run/secrets/${secret}`),
      'Prometheus reads the mounted token',
    );
    const gatewayYaml = parseYaml(readFileSync(join(DOCKER, 'gateway', 'gateway.yaml'), 'utf8')) as {
      server: { port: number; maxBodyBytes: number };
      admin: { port: number };
      rateLimit: { replicas: number };
    };
    assert.equal(gatewayYaml.server.port, 8080);
    assert.equal(gatewayYaml.admin.port, 9901);
    assert.equal(
      gatewayYaml.rateLimit.replicas,
      GATEWAYS.length,
      'rateLimit.replicas matches the replica count',
    );
    const nginxConf = readFileSync(join(DOCKER, 'nginx', 'nginx.conf'), 'utf8');
    assert.equal(gatewayYaml.server.maxBodyBytes, 1024 ** 3);
    assert.match(nginxConf, /client_max_body_size 1g;/, 'nginx admits the same body size as the gateway');
    for (const gateway of GATEWAYS) {
      assert.ok(
        compose.services[gateway]!.volumes!.includes('./gateway/gateway.yaml:/etc/acgs/gateway.yaml:ro'),
      );
      assert.equal(compose.services[gateway]!.environment!.GATEWAY_CONFIG, '/etc/acgs/gateway.yaml');
    }
  });
});

/** Instructions of a Dockerfile with line continuations joined; comments dropped. */
function dockerfile(): { instruction: string; args: string; stage: string }[] {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: { instruction: string; args: string; stage: string }[] = [];
  let stage = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [instruction, ...rest] = trimmed.split(/\s+/);
    const args = rest.join(' ');
    if (instruction === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? '';
    out.push({ instruction: instruction!.toUpperCase(), args, stage });
  }
  return out;
}

/** `${NAME}` as written in the Dockerfile. */
const dollar = (name: string) => `\${${name}}`;

describe('docker/Dockerfile', () => {
  const steps = dockerfile();
  const inStage = (stage: string) => steps.filter((s) => s.stage === stage);

  test('is multi-stage on node:20-bookworm-slim with OPA pinned to the version scripts/install-opa.sh installs', () => {
    const from = steps.filter((s) => s.instruction === 'FROM').map((s) => s.args);
    assert.deepEqual(from, [
      `${dollar('GO_IMAGE')} AS opa`,
      `${dollar('NODE_IMAGE')} AS build`,
      `${dollar('NODE_IMAGE')} AS deps`,
      `${dollar('NODE_IMAGE')} AS runtime`,
    ]);
    const args = Object.fromEntries(
      steps
        .filter((s) => s.instruction === 'ARG' && s.args.includes('='))
        .map((s) => s.args.split('=') as [string, string]),
    );
    assert.equal(args.NODE_IMAGE, 'node:20-bookworm-slim');
    const pinned = /OPA_VERSION="\$\{OPA_VERSION:-(v[\d.]+)\}"/.exec(
      readFileSync(join(REPO, 'scripts', 'install-opa.sh'), 'utf8'),
    )?.[1];
    assert.ok(pinned);
    assert.equal(args.OPA_VERSION, pinned);
    assert.ok(
      inStage('opa').some(
        (s) =>
          s.args.includes('CGO_ENABLED=0') &&
          s.args.includes(`go install "github.com/open-policy-agent/opa@${dollar('OPA_VERSION')}"`),
      ),
    );
  });

  test('builds with npm ci and npm run build, and the policy bundle with the project policy CLI', () => {
    const build = inStage('build').map((s) => `${s.instruction} ${s.args}`);
    assert.ok(build.includes('RUN npm ci --no-audit --no-fund'));
    assert.ok(build.includes('RUN npm run build'));
    assert.ok(
      build.some(
        (s) =>
          s.includes('node --import tsx scripts/policy-cli.mjs build') &&
          s.includes('--opa /usr/local/bin/opa'),
      ),
    );
    assert.ok(inStage('deps').some((s) => s.instruction === 'RUN' && s.args.startsWith('npm ci --omit=dev')));
  });

  test('every file copied from the build context exists in the repository', () => {
    for (const step of steps.filter((s) => s.instruction === 'COPY' && !s.args.includes('--from='))) {
      const parts = step.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1))
        assert.ok(existsSync(join(REPO, source)), `COPY ${source} (${step.stage})`);
    }
  });

  test('the runtime stage holds only what runs, as a non-root user, with the contract ports and command', () => {
    const runtime = inStage('runtime');
    const copied = runtime
      .filter((s) => s.instruction === 'COPY')
      .map((s) => s.args.split(/\s+/).filter((p) => !p.startsWith('--'))[0]);
    assert.deepEqual(copied.sort(), [
      '/app/dist',
      '/app/node_modules',
      '/app/policies/build',
      'bin',
      'config',
      'package.json',
      'policies/screening-rules.json', // the screening module's shipped ruleset
    ]);
    const user = runtime.filter((s) => s.instruction === 'USER').at(-1)?.args;
    assert.ok(user && user !== 'root' && user !== '0', `runs as ${user}`);
    assert.deepEqual(runtime.find((s) => s.instruction === 'EXPOSE')?.args.split(/\s+/), ['8080', '9901']);
    assert.equal(
      runtime.find((s) => s.instruction === 'CMD')?.args,
      '["node", "bin/acgs-gateway.js", "start"]',
    );
    assert.match(runtime.find((s) => s.instruction === 'HEALTHCHECK')?.args ?? '', /\/healthz/);
  });
});

describe('the health checks, run for real', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  before(async () => {
    upstream = await startUpstream('hc');
    gateway = await startTestGateway({ ac: { blue: [upstream.url], green: [upstream.url] } });
  });
  after(async () => {
    await gateway?.shutdown('test');
    await upstream?.close();
  });

  const exec = (argv: string[], env: NodeJS.ProcessEnv) =>
    new Promise<number | null>((done) => {
      execFile(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, timeout: 10_000 }, (err) =>
        done(err ? (typeof err.code === 'number' ? err.code : null) : 0),
      );
    });

  test("the image's HEALTHCHECK exits 0 against a live gateway and 1 against a closed port", async () => {
    const args = dockerfile().find((s) => s.instruction === 'HEALTHCHECK')!.args;
    const argv = JSON.parse(args.slice(args.indexOf('CMD') + 3).trim()) as string[];
    assert.equal(argv[0], 'node');
    const port = new URL(gateway.dataUrl).port;
    assert.equal(await exec([process.execPath, ...argv.slice(1)], { GATEWAY_PORT: port }), 0);
    assert.equal(
      await exec([process.execPath, ...argv.slice(1)], { GATEWAY_PORT: String(await freePort()) }),
      1,
    );
  });

  test("the compose replicas' readiness check exits 0 against a live gateway", async () => {
    const testCmd = compose.services['gateway-1']!.healthcheck!.test;
    assert.equal(testCmd[0], 'CMD');
    const argv = testCmd.slice(1).map((a) => a.replace('127.0.0.1:8080', new URL(gateway.dataUrl).host));
    assert.equal(await exec([process.execPath, ...argv.slice(1)], {}), 0);
  });
});

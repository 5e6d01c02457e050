import { ConfigError } from '../gateway/config/errors.js';
import { loadConfig } from '../gateway/config/load.js';
import { type Gateway, startGateway } from '../gateway/gateway.js';
import { parse } from './args.js';

export const START_HELP = `Usage: acgs-gateway start [--config FILE]

Runs the gateway. Without --config (or GATEWAY_CONFIG) it runs the embedded default
(config/gateway.yaml): in-memory stores and five demo services started in-process.

Options:
  -c, --config FILE   gateway YAML file (env GATEWAY_CONFIG)
  -h, --help          show this help

Environment: GATEWAY_PORT, ADMIN_PORT, ADMIN_HOST, ADMIN_TOKENS (name:token,...), REDIS_URL,
TRUSTED_PROXIES, LOG_LEVEL, JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE,
POLICY_BUNDLE, POLICY_VERIFICATION_KEY (see config/env/*.env.example).
Exit codes: 0 after a clean shutdown, 2 for an invalid configuration, 1 for other start failures.`;

export async function runStart(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, false);
  if (values.help) {
    process.stdout.write(`${START_HELP}\n`);
    return 0;
  }
  let gateway: Gateway;
  try {
    const config = await loadConfig({ file: values.config });
    gateway = await startGateway(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`acgs-gateway: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`acgs-gateway: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  printBanner(gateway);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      gateway.logger.info({ signal }, 'signal received');
      const finish = (code: number) => {
        resolve(code);
        // Everything is closed; a handle some library forgot to unref must not keep a stopped gateway alive.
        setTimeout(() => process.exit(code), 1000).unref();
      };
      gateway.shutdown(signal).then(
        () => finish(0),
        (err: unknown) => {
          gateway.logger.error({ err }, 'shutdown failed');
          finish(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function printBanner(gateway: Gateway): void {
  const { config } = gateway;
  const lines = [
    '',
    `acgs-gateway is up (${config.embedded ? 'embedded default' : config.source})`,
    `  data plane   ${gateway.dataUrl}   (/healthz, /readyz, /api/<service>/...)`,
    `  admin plane  ${gateway.adminUrl}  (/admin/services, /admin/audit, /metrics)`,
  ];
  for (const service of config.services) {
    lines.push(
      `  service ${service.name.padEnd(10)} ${service.prefix.padEnd(16)} blue ${service.blue.upstreams.join(',')}  green ${service.green.upstreams.join(',')}`,
    );
  }
  lines.push('', 'Try:', `  curl -s ${gateway.dataUrl}/api/ac/hello?name=world`);
  if (gateway.demoToken) {
    lines.push(
      `  export TOKEN=${gateway.demoToken}`,
      `  curl -s -H "authorization: Bearer $TOKEN" ${gateway.dataUrl}/api/gs/reports   # demo token for sub demo-user`,
    );
  }
  if (gateway.generatedAdminToken) {
    lines.push(
      `  export ADMIN_TOKEN=${gateway.generatedAdminToken}   # made for this run; set ADMIN_TOKENS to choose your own`,
      `  curl -s -H "authorization: Bearer $ADMIN_TOKEN" ${gateway.adminUrl}/admin/services`,
    );
  }
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}

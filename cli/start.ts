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
Exit codes: 0 after a clean shutdown, 2 for an invalid configuration, 1 for other start failures,
70 after a fatal unhandled error (logged with its stack; the gateway drains first).`;

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
    exitSoon(1); // what did start is closed; a supervisor restarts an exited process, not a hung one
    return 1;
  }
  printBanner(gateway);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      gateway.logger.info({ signal }, 'signal received');
      const finish = (code: number) => {
        resolve(code);
        exitSoon(code);
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
    installFatalHandlers(gateway, resolve);
  });
}

/**
 * Exits with `code` a second from now unless the process has ended by itself: everything is closed by
 * then, and a handle some library forgot to unref must not keep a stopped gateway alive.
 */
function exitSoon(code: number): void {
  setTimeout(() => process.exit(code), 1000).unref();
}

/** Exit code after an error nothing handled (EX_SOFTWARE): a supervisor restarts the replica. */
const EXIT_FATAL = 70;

/**
 * The last line of defence. A request's own errors are answered 500 by the data plane; an error that
 * escapes everything else leaves the process in an unknown state, so it is logged with its stack, the
 * gateway drains what it can (bounded by its drain timeout), and the process exits non-zero. Never
 * swallowed: a silent survivor would hide the defect and keep serving from a broken state.
 */
function installFatalHandlers(gateway: Gateway, resolve: (code: number) => void): void {
  let fatal = false;
  const onFatal = (err: unknown, origin: string) => {
    gateway.logger.fatal({ err, origin }, 'fatal: unhandled error; draining and exiting');
    if (fatal) return;
    fatal = true;
    const exit = () => {
      resolve(EXIT_FATAL);
      process.exit(EXIT_FATAL);
    };
    setTimeout(exit, gateway.config.server.drainTimeout + 2000).unref();
    gateway.shutdown('fatal error').then(exit, exit);
  };
  process.on('uncaughtException', (err) => onFatal(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => onFatal(reason, 'unhandledRejection'));
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

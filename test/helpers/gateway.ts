import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { resolveConfig } from '../../gateway/config/load.js';
import { type Gateway, startGateway } from '../../gateway/gateway.js';

export const ADMIN_TOKEN = 'test-operator-token-0123456789';
export const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface ServiceSpec {
  blue: string[];
  green: string[];
  [key: string]: unknown;
}

/** A config document for tests: ephemeral ports, a temp audit log, quiet logs. */
export function testConfigDoc(services: Record<string, ServiceSpec>, extra: Record<string, unknown> = {}) {
  const { server, admin, proxy, ...rest } = extra as Record<string, Record<string, unknown> | undefined>;
  const doc: Record<string, unknown> = {
    server: { host: '127.0.0.1', port: 0, drainTimeout: '5s', ...server },
    admin: {
      host: '127.0.0.1',
      port: 0,
      auditLog: join(mkdtempSync(join(tmpdir(), 'acgs-audit-')), 'audit.jsonl'),
      ...admin,
    },
    proxy: { timeouts: { connect: '1s', headers: '2s', body: '5s' }, ...proxy },
    logging: { level: 'silent' },
    services: Object.fromEntries(
      Object.entries(services).map(([name, { blue, green, ...more }]) => [
        name,
        { blue: { upstreams: blue }, green: { upstreams: green }, ...more },
      ]),
    ),
    ...rest,
  };
  return doc;
}

export async function startTestGateway(
  services: Record<string, ServiceSpec>,
  extra: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): Promise<Gateway> {
  const config = resolveConfig(testConfigDoc(services, extra), {
    env: { ADMIN_TOKENS: `ops:${ADMIN_TOKEN}`, ...env },
  });
  return startGateway(config, { logger: pino({ level: 'silent' }) });
}

// The gateway config the replicas of a local stack run with: the user's file, or the embedded default
// (config/gateway.yaml: five demo services, gs green failing 8 %), adjusted for a fleet on one machine:
// loopback listeners, nginx on 127.0.0.1 trusted, the shared Redis, the demo services answered by the
// stack's own process (their URLs substituted), relative bundle paths made absolute.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Environment } from '../../contracts.js';
import { StackError } from '../stack-error.js';
import type { DemoUrls } from './demo-services.js';

export type ConfigDoc = Record<string, unknown> & {
  services?: Record<string, Record<string, unknown>>;
  demo?: { enabled?: boolean };
  policy?: { bundle?: string } & Record<string, unknown>;
};

export interface BaseConfig {
  readonly doc: ConfigDoc;
  readonly source: string;
  /** The services are demo services (demo.enabled): the stack answers them in a process of its own. */
  readonly demo: boolean;
}

export async function readBaseConfig(repo: string, file: string | undefined): Promise<BaseConfig> {
  const source = file ? resolve(file) : join(repo, 'config', 'gateway.yaml');
  let doc: ConfigDoc;
  try {
    doc = (parseYaml(await readFile(source, 'utf8')) ?? {}) as ConfigDoc;
  } catch (err) {
    throw new StackError(`config: cannot read ${source}: ${(err as Error).message}`, 'config');
  }
  if (typeof doc !== 'object' || !doc.services)
    throw new StackError(`config: ${source} has no services`, 'config');
  return { doc, source, demo: doc.demo?.enabled === true };
}

/** The policy bundle the replicas will load, absolute (null when the config names a URL or none). */
export function bundlePath(base: BaseConfig): string | null {
  const bundle = base.doc.policy?.bundle;
  if (typeof bundle !== 'string' || /^https?:\/\//i.test(bundle)) return null;
  return isAbsolute(bundle) ? bundle : resolve(dirname(base.source), bundle);
}

export function replicaConfig(
  base: BaseConfig,
  {
    environment,
    replicas,
    demoUrls,
  }: { environment: Environment; replicas: number; demoUrls: DemoUrls | null },
): ConfigDoc {
  const doc = structuredClone(base.doc);
  const section = (name: string) => {
    const current = doc[name];
    const value = (typeof current === 'object' && current !== null ? current : {}) as Record<string, unknown>;
    doc[name] = value;
    return value;
  };
  // A short drain keeps `stack down` quick; nginx stops first, so no request is in flight by then.
  Object.assign(section('server'), {
    host: '127.0.0.1',
    port: 0,
    trustedProxies: ['127.0.0.1/32'],
    drainTimeout: '5s',
  });
  Object.assign(section('admin'), { host: '127.0.0.1', port: 0 });
  Object.assign(section('rateLimit'), { replicas });
  // Each replica writes its own log file; staging keeps the info lines, production only warnings.
  Object.assign(section('logging'), { level: environment === 'production' ? 'warn' : 'info' });
  if (demoUrls) {
    doc.demo = { enabled: false };
    for (const [name, service] of Object.entries(doc.services ?? {})) {
      const urls = demoUrls[name];
      if (!urls) throw new StackError(`demo: no demo upstreams were started for service ${name}`, 'demo');
      service.blue = { ...(service.blue as object), upstreams: urls.blue };
      service.green = { ...(service.green as object), upstreams: urls.green };
    }
  }
  const bundle = bundlePath(base);
  if (bundle) doc.policy = { ...doc.policy, bundle };
  return doc;
}

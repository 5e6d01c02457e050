// The demo services as one process of their own, so that every gateway replica of a local stack shares
// one set of upstreams (the gateway's embedded demo would start a private set per replica). Run as
//   node --import tsx release/stack/local/demo-services.ts --config FILE --ready-file FILE
// It answers one loopback listener per upstream of every service and colour, on ports the kernel picks,
// with the `services.<name>.demo.<colour>` behaviour (latencyMs, failRate), and writes the URLs it got to
// the ready file. SIGTERM closes it.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { COLORS, type Color } from '../../../core/types.js';
import type { ResolvedService } from '../../../gateway/config/load.js';
import { startDemoUpstreams, stopDemoUpstreams } from '../../../gateway/demo/demo-upstreams.js';

/** service → colour → upstream URLs, as the replicas' config will name them. */
export type DemoUrls = Record<string, Record<Color, string[]>>;

interface ServiceDoc {
  blue?: { upstreams?: string[] };
  green?: { upstreams?: string[] };
  demo?: Partial<Record<Color, { latencyMs?: number; failRate?: number }>>;
}

/** The services of a gateway config document, each upstream moved to a kernel-picked loopback port. */
export function demoServices(doc: { services?: Record<string, ServiceDoc> }): ResolvedService[] {
  return Object.entries(doc.services ?? {}).map(([name, s]) => {
    const pool = (color: Color) => ({
      upstreams: (s[color]?.upstreams ?? ['x']).map(() => 'http://127.0.0.1:0'),
    });
    return {
      name,
      prefix: `/api/${name}/`,
      stable: 'blue',
      blue: pool('blue'),
      green: pool('green'),
      demo: s.demo,
    } as unknown as ResolvedService;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, 'ready-file': { type: 'string' } },
  });
  if (!values.config || !values['ready-file']) throw new Error('--config and --ready-file are required');
  const doc = parseYaml(await readFile(values.config, 'utf8')) as { services?: Record<string, ServiceDoc> };
  const upstreams = await startDemoUpstreams(demoServices(doc));
  const urls: DemoUrls = {};
  for (const u of upstreams) {
    urls[u.service] ??= Object.fromEntries(COLORS.map((c) => [c, [] as string[]])) as Record<Color, string[]>;
    urls[u.service]![u.color].push(u.url);
  }
  const ready = values['ready-file'];
  await writeFile(`${ready}.tmp`, JSON.stringify(urls), { mode: 0o600 });
  await rename(`${ready}.tmp`, ready);
  process.stdout.write(
    `demo services ready: ${upstreams.map((u) => `${u.service}/${u.color} ${u.url}`).join(', ')}\n`,
  );
  const stop = () => {
    stopDemoUpstreams(upstreams).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`demo services: ${(err as Error).message}\n`);
    process.exit(1);
  });
}

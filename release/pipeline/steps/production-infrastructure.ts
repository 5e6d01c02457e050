import { resolve } from 'node:path';
import { hostChecks } from '../infra/host-checks.js';
import { listeningPublished, portsCheck } from '../infra/ports-check.js';
import { secretsChecks } from '../infra/secrets-check.js';
import { tlsChecks } from '../infra/tls-check.js';
import type { InfraCheck } from '../infra/types.js';
import type { Step, StepContext } from '../types.js';

/** Every readiness check of the host this runs on, against the environment's configuration. */
export async function infrastructureChecks(ctx: StepContext): Promise<InfraCheck[]> {
  const c = ctx.config;
  const at = (p: string) => resolve(ctx.cwd, p);
  return [
    ...(await hostChecks(c.requirements)),
    ...(await secretsChecks(at(c.secretsDir), c.requiredSecrets)),
    ...(await tlsChecks(at(c.tls.cert), at(c.tls.key), c.hosts, c.tls.minValidDays)),
    portsCheck(await listeningPublished(), c.publishedPorts),
  ];
}

export function formatCheck(check: InfraCheck): string {
  const mark = check.skipped ? 'skip' : check.ok ? 'ok  ' : 'FAIL';
  const measured = check.measured === null ? 'unknown' : `${check.measured}${check.unit ?? ''}`;
  return `${mark} ${check.name}: ${measured} (wants ${check.wanted})`;
}

export const productionInfrastructure: Step = {
  id: 'production_infrastructure',
  description: 'check the production host: capacity, kernel, secrets, TLS, published ports (read-only)',
  environment: 'production',
  // It only reads: no --yes needed, and safe to run on a live host.
  changesProduction: false,
  async preconditions() {
    return [];
  },
  async run(ctx) {
    const checks = await infrastructureChecks(ctx);
    for (const check of checks) ctx.note(formatCheck(check));
    const failed = checks.filter((c) => !c.ok && !c.skipped);
    const counted = checks.filter((c) => !c.skipped).length;
    return {
      verdict: failed.length === 0 ? 'pass' : 'fail',
      summary:
        failed.length === 0
          ? `host ready: ${counted} checks passed`
          : `host not ready: ${failed.length} of ${counted} checks failed (${failed.map((c) => c.name).join(', ')})`,
      measurements: Object.fromEntries(
        checks.map((c) => [
          c.name,
          { ok: c.ok, measured: c.measured, wanted: c.wanted, ...(c.skipped ? { skipped: true } : {}) },
        ]),
      ),
      fix: failed.map((c) => `${c.name}: ${c.fix ?? 'see the check'}`),
    };
  },
  async dryRun(ctx) {
    const c = ctx.config;
    const r = c.requirements;
    return [
      `check capacity: >= ${r.cpus} CPUs, >= ${r.memoryGb} GB memory, >= ${r.diskGb} GB free on ${r.diskPath}`,
      `check limits: open files >= ${r.fdLimit}, net.core.somaxconn >= ${r.somaxconn}, ip_local_port_range >= ${r.localPortRangeSpan} ports, fs.file-max >= ${r.fileMax}`,
      `check secrets in ${resolve(ctx.cwd, c.secretsDir)}: mode 600, no placeholders, present: ${c.requiredSecrets.join(', ') || '(any)'}`,
      `check TLS ${resolve(ctx.cwd, c.tls.cert)} / ${resolve(ctx.cwd, c.tls.key)}: key matches, covers ${c.hosts.join(', ') || '(no hosts configured)'}, valid >= ${c.tls.minValidDays} days`,
      `check published ports: exactly ${c.publishedPorts === null ? '(not checked)' : c.publishedPorts.join(', ')}`,
      'changes nothing on the host',
    ];
  },
};

// Runs the selected check groups in order and assembles the report. Order matters: load runs before
// cache and resources (which are measured over it) and before security (whose rate-limit burst would
// otherwise leave the load to meet an exhausted limit).
import type { CheckGroup, CheckResult, ValidationReport } from '../contracts.js';
import { listServices, type Snapshot, snapshot, toRoutes } from './admin.js';
import { runCache } from './checks/cache.js';
import { runHealth } from './checks/health.js';
import { decisionCheck, runLatency } from './checks/latency.js';
import { runLoadGroup } from './checks/load.js';
import { runMonitoring } from './checks/monitoring.js';
import { runResources } from './checks/resources.js';
import { runSecurity } from './checks/security.js';
import { DEFAULT_SERVICES, type RunContext, type ServiceRoute } from './context.js';
import type { Criteria } from './criteria.js';
import { describeError } from './http.js';
import type { TokenSource } from './identities.js';
import type { ValidateOptions } from './options.js';
import type { Progress } from './progress.js';
import { buildReport } from './report.js';

export interface RunInputs {
  readonly options: ValidateOptions;
  readonly criteria: Criteria;
  readonly criteriaSource: string;
  readonly adminToken: string | undefined;
  readonly signer: TokenSource | null;
  readonly tokens: readonly string[] | null;
  readonly signal: AbortSignal;
  readonly progress: Progress;
}

/** The services to test: from the first reachable admin plane, else the five ACGS services. */
async function discoverServices(inputs: RunInputs): Promise<{ services: ServiceRoute[]; source: string }> {
  for (const admin of inputs.options.adminUrls) {
    try {
      const services = toRoutes(await listServices(admin, inputs.adminToken));
      if (services.length > 0) return { services, source: admin };
    } catch {
      // Reported by health.consistency; fall through to the next admin plane or the defaults.
    }
  }
  return { services: [...DEFAULT_SERVICES], source: 'defaults' };
}

export async function runValidation(inputs: RunInputs): Promise<ValidationReport> {
  const startedAt = new Date();
  const { options, criteria, progress } = inputs;
  const { services, source } = await discoverServices(inputs);
  const ctx: RunContext = {
    options,
    criteria,
    adminToken: inputs.adminToken,
    signer: inputs.signer,
    tokens: inputs.tokens,
    services,
    signal: inputs.signal,
    progress,
    load: {
      users: options.users ?? criteria.load.users,
      durationMs: options.durationMs ?? criteria.load.duration,
      maxRps: options.maxRps ?? criteria.load.maxRps,
    },
  };
  const checks: CheckResult[] = [];
  const selected = (g: CheckGroup) => options.groups.includes(g);
  const admins = options.adminUrls;
  const snap = async () => (admins.length > 0 ? snapshot(admins, inputs.adminToken) : null);
  let before: Snapshot | null = selected('cache') || selected('resources') ? await snap() : null;
  let after: Snapshot | null = null;
  let interrupted = false;

  const run = async (group: CheckGroup, fn: () => Promise<CheckResult[]> | CheckResult[]) => {
    if (!selected(group) || inputs.signal.aborted) return;
    progress.line(`▸ ${group}`);
    let results: CheckResult[];
    try {
      results = await fn();
    } catch (error) {
      // One group going wrong (a target answering nonsense) must not cost the report of the others.
      results = [
        {
          name: `${group}.error`,
          group,
          verdict: 'fail',
          threshold: 'the check group runs',
          measured: null,
          message: `the ${group} checks could not run: ${describeError(error)}`,
          durationMs: 0,
        },
      ];
    }
    checks.push(...results);
    for (const r of results) progress.line(`  ${r.verdict.toUpperCase()} ${r.name}: ${r.message}`);
  };

  await run('health', () => runHealth(ctx));
  let decisionBefore: Snapshot | null = null;
  let latencyEnd = -1;
  await run('latency', async () => {
    const latency = await runLatency(ctx);
    decisionBefore = latency.before;
    latencyEnd = checks.length + latency.results.length;
    return latency.results;
  });
  const loads = selected('load') && !inputs.signal.aborted;
  if (loads) {
    if (selected('cache') || selected('resources')) before = await snap();
    await run('load', async () => {
      const outcome = await runLoadGroup(ctx);
      interrupted ||= outcome.interrupted;
      return outcome.results;
    });
  }
  if (latencyEnd >= 0 && !inputs.signal.aborted) {
    const decision = await decisionCheck(
      ctx,
      decisionBefore,
      loads ? 'latency samples and the load' : 'latency samples',
    );
    checks.splice(latencyEnd, 0, decision);
    progress.line(`  ${decision.verdict.toUpperCase()} ${decision.name}: ${decision.message}`);
  }
  if (selected('cache') || selected('resources')) after = await snap();
  await run('cache', () => runCache(ctx, before, after));
  await run('resources', () => runResources(ctx, before, after));
  await run('security', () => runSecurity(ctx));
  await run('monitoring', () => runMonitoring(ctx));
  interrupted ||= inputs.signal.aborted;

  return buildReport(
    options,
    checks,
    { startedAt, finishedAt: new Date() },
    {
      interrupted,
      context: {
        criteria,
        criteriaSource: inputs.criteriaSource,
        services: services.map((s) => s.name),
        servicesFrom: source,
        load: ctx.load,
        identities: inputs.tokens
          ? 'tokens file'
          : inputs.signer
            ? `minted (${inputs.signer.alg})`
            : 'cookie jars',
      },
    },
  );
}

// health: /healthz and /readyz of every replica, a request through every service's route, and the
// replicas' agreement on the policy bundle revision and the weights. Retried with backoff up to the
// criteria's deadline, because a freshly deployed stack needs a moment.
import type { CheckResult } from '../../contracts.js';
import { listServices, policyRevision } from '../admin.js';
import { CheckRecorder, type RunContext } from '../context.js';
import { describeError, errorCode, errorMessage, header, http, json, retryUntil } from '../http.js';
import { VirtualIdentity } from '../identities.js';

async function endpointProblem(url: string, signal: AbortSignal): Promise<string | null> {
  try {
    const result = await http(url, { timeoutMs: 5000, signal });
    if (result.status === 200) return null;
    const problems = (json(result) as { problems?: unknown } | null)?.problems;
    return `${result.status}${Array.isArray(problems) ? ` (${problems.join(', ')})` : ''}`;
  } catch (error) {
    return describeError(error);
  }
}

async function probeEndpoint(
  ctx: RunContext,
  rec: CheckRecorder,
  path: '/healthz' | '/readyz',
): Promise<boolean> {
  const name = path.slice(1);
  const failures: string[] = [];
  await Promise.all(
    ctx.options.replicas.map(async (replica) => {
      const problem = await retryUntil(
        ctx.criteria.health.deadline,
        () => endpointProblem(`${replica}${path}`, ctx.signal),
        ctx.signal,
      );
      if (problem !== null) failures.push(`${replica}${path} → ${problem}`);
    }),
  );
  const total = ctx.options.replicas.length;
  rec.add(name, failures.length === 0 ? 'pass' : 'fail', {
    threshold: `200 from every replica within ${ctx.criteria.health.deadline / 1000}s`,
    measured: `${total - failures.length}/${total}`,
    message:
      failures.length === 0
        ? `${path} answers 200 on ${total} replica(s)`
        : `${path} not 200: ${failures.join('; ')}${path === '/readyz' ? ' (check the policy bundle and Redis of that replica)' : ''}`,
  });
  return failures.length === 0;
}

/** A request through the service's route is proxied (x-acgs-color) and not a 5xx. */
async function routeProblem(
  ctx: RunContext,
  prefix: string,
  identity: VirtualIdentity,
): Promise<string | null> {
  try {
    const result = await http(`${ctx.options.target}${prefix}`, {
      headers: identity.headers(),
      timeoutMs: 10_000,
      signal: ctx.signal,
    });
    identity.remember(result.headers['set-cookie']);
    if (result.status < 500 && header(result, 'x-acgs-color') !== undefined) return null;
    const code = errorCode(result);
    const message = errorMessage(result);
    const hint = result.status === 401 ? ' (the route needs a token: set VALIDATE_JWT_KEY or --tokens)' : '';
    return `${result.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}${hint}`;
  } catch (error) {
    return describeError(error);
  }
}

export async function runHealth(ctx: RunContext): Promise<CheckResult[]> {
  const rec = new CheckRecorder('health');
  await probeEndpoint(ctx, rec, '/healthz');
  const ready = await probeEndpoint(ctx, rec, '/readyz');

  const routeThreshold = 'every service answers through the gateway, no 5xx';
  if (!ready) {
    rec.skip('routes', routeThreshold, 'not tried: a replica is not ready (see health.readyz)');
  } else {
    const token = ctx.tokens?.[0] ?? (ctx.signer ? await ctx.signer.mint({ sub: 'validate-health' }) : null);
    const failures: string[] = [];
    await Promise.all(
      ctx.services.map(async (service) => {
        const identity = new VirtualIdentity(token);
        const problem = await retryUntil(
          ctx.criteria.health.deadline,
          () => routeProblem(ctx, service.prefix, identity),
          ctx.signal,
        );
        if (problem !== null) failures.push(`service ${service.name} (${service.prefix}) → ${problem}`);
      }),
    );
    rec.add('routes', failures.length === 0 ? 'pass' : 'fail', {
      threshold: routeThreshold,
      measured: `${ctx.services.length - failures.length}/${ctx.services.length}`,
      message:
        failures.length === 0
          ? `${ctx.services.length} service route(s) answer: ${ctx.services.map((s) => s.name).join(', ')}`
          : `down: ${failures.join('; ')}`,
    });
  }

  const consistencyThreshold = 'same policy revision and weights on every replica';
  if (ctx.options.adminUrls.length === 0) {
    rec.skip('consistency', consistencyThreshold, 'no --admin-url given: revisions and weights not compared');
    return rec.results;
  }
  const views: { admin: string; revision: string | null; weights: string }[] = [];
  const unreachable: string[] = [];
  await Promise.all(
    ctx.options.adminUrls.map(async (admin) => {
      try {
        const [revision, services] = await Promise.all([
          policyRevision(admin, ctx.adminToken),
          listServices(admin, ctx.adminToken),
        ]);
        const weights = services
          .map((s) => `${s.name}=${s.weights.green}`)
          .sort()
          .join(',');
        views.push({ admin, revision, weights });
      } catch (error) {
        unreachable.push(`${admin}: ${(error as Error).message}`);
      }
    }),
  );
  // In the order the admin planes were given, whichever answered first.
  views.sort((a, b) => ctx.options.adminUrls.indexOf(a.admin) - ctx.options.adminUrls.indexOf(b.admin));
  // One admin plane for several replicas (behind one address) cannot show a disagreement: say so.
  const replicaCount = ctx.options.replicas.length;
  const fewer =
    views.length < replicaCount
      ? ` (only ${views.length} admin plane(s) for ${replicaCount} replicas: give --admin-url a,b to compare them all)`
      : '';
  const revisions = new Set(views.map((v) => v.revision));
  const weightSets = new Set(views.map((v) => v.weights));
  const problems: string[] = [...unreachable.map((u) => `admin plane ${u}`)];
  if (revisions.size > 1)
    problems.push(
      `policy bundle revisions differ: ${views.map((v) => `${v.admin} runs ${v.revision ?? 'none'}`).join(', ')}`,
    );
  if (weightSets.size > 1)
    problems.push(`green weights differ: ${views.map((v) => `${v.admin} has ${v.weights}`).join('; ')}`);
  rec.add('consistency', problems.length === 0 ? 'pass' : 'fail', {
    threshold: consistencyThreshold,
    measured: views.length > 0 ? `revision ${[...revisions].join(' / ') || 'none'}` : null,
    message:
      problems.length === 0
        ? `${views.length} replica(s) agree: bundle ${views[0]?.revision ?? 'none'}, green weights ${views[0]?.weights ?? ''}${fewer}`
        : problems.join('; '),
    details: views,
  });
  return rec.results;
}

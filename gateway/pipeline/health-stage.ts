import type { ServerResponse } from 'node:http';
import type { ReadinessCheck, RequestContext, Stage } from '../../core/types.js';
import { JSON_CONTENT_TYPE } from '../http/responder.js';

/**
 * Answers `/healthz` (the process is alive) and `/readyz` (every module is ready: policy loaded, Redis
 * reachable, ...; 503 with the problems otherwise, and while draining). Every other path continues.
 */
export function createHealthStage(
  readiness: () => readonly ReadinessCheck[],
  draining: () => boolean,
): Stage {
  return {
    name: 'health',
    run(ctx: RequestContext, _req, res?: ServerResponse) {
      if (ctx.path !== '/healthz' && ctx.path !== '/readyz') return;
      return answer(ctx, res!, ctx.path === '/readyz' ? readiness() : null, draining());
    },
  };
}

async function answer(
  ctx: RequestContext,
  res: ServerResponse,
  checks: readonly ReadinessCheck[] | null,
  draining: boolean,
): Promise<void> {
  let status = 200;
  const body: Record<string, unknown> = { status: 'ok' };
  if (checks !== null) {
    const problems: string[] = [];
    if (draining) problems.push('draining');
    for (const check of checks) {
      const problem = await check();
      if (problem !== null) problems.push(problem);
    }
    if (problems.length > 0) {
      status = 503;
      body.status = 'not_ready';
      body.problems = problems;
    }
  }
  if (ctx.clientGone) return;
  const text = JSON.stringify(body);
  res.writeHead(status, [
    'content-type',
    JSON_CONTENT_TYPE,
    'cache-control',
    'no-store',
    'x-request-id',
    ctx.id,
    'content-length',
    String(Buffer.byteLength(text)),
  ]);
  res.end(text);
}

import { setTimeout as sleep } from 'node:timers/promises';
import { AdminError, adminRequest } from '../../cli/rollout.js';
import type { EnvironmentConfig } from './config.js';

// Drives one service's rollout through the admin API and watches it to its end. The controller inside the
// gateway does the work (steps, analyses, rollback); this only starts, watches, and pauses on Ctrl-C.

interface ServiceView {
  name: string;
  stable: 'blue' | 'green';
  rolloutActive: boolean;
  colors: { green: { upstreams: unknown[] }; blue: { upstreams: unknown[] } };
}

export interface AnalysisView {
  at: number;
  outcome: string;
  weight: number;
  reasons: string[];
  candidate: { requests: number; errors: number; errorRate: number; p99Ms: number };
}

export interface RolloutView {
  service: string;
  state: string;
  active: boolean;
  candidate: string;
  weight: number;
  steps: number[];
  step: number;
  reason: string | null;
  nextAnalysisInMs: number | null;
  analyses: AnalysisView[];
  history: { to: string; weight: number; reason: string }[];
}

export interface Admin {
  readonly url: string;
  readonly token: string | undefined;
}

async function services(admin: Admin): Promise<ServiceView[]> {
  const body = (await adminRequest(admin.url, admin.token, 'GET', '/admin/services')) as {
    services: ServiceView[];
  };
  return body.services;
}

/** Services with a green configured that is not the stable colour yet: the ones with a new version. */
export async function candidateServices(admin: Admin): Promise<string[]> {
  return (await services(admin))
    .filter((s) => s.colors.green.upstreams.length > 0 && s.stable !== 'green')
    .map((s) => s.name);
}

/** Every service the gateway knows. */
export async function knownServices(admin: Admin): Promise<string[]> {
  return (await services(admin)).map((s) => s.name);
}

/** The start body from the environment's rollout parameters. */
export function rolloutBody(c: EnvironmentConfig['rollout'], reason: string): Record<string, unknown> {
  const body: Record<string, unknown> = { steps: c.steps, interval: c.interval, reason };
  const thresholds = Object.fromEntries(Object.entries(c.thresholds).filter(([, v]) => v !== undefined));
  if (Object.keys(thresholds).length > 0) body.thresholds = thresholds;
  if (c.failureLimit !== undefined) body.failureLimit = c.failureLimit;
  if (c.maxInconclusive !== undefined) body.maxInconclusive = c.maxInconclusive;
  return body;
}

/** How long the admin API may fail to answer before the watch gives up. */
const LOST_AFTER_MS = 10_000;

const path = (service: string) => `/admin/services/${encodeURIComponent(service)}/rollout`;

export type RolloutEnd =
  | { kind: 'promoted'; status: RolloutView; ms: number }
  | { kind: 'rolled_back' | 'aborted' | 'paused'; status: RolloutView; ms: number }
  | { kind: 'interrupted' | 'timeout'; status: RolloutView; ms: number; pausedOk: boolean }
  | { kind: 'lost'; status: RolloutView | null; ms: number; error: string };

export interface DriveOptions {
  readonly admin: Admin;
  readonly service: string;
  readonly params: EnvironmentConfig['rollout'];
  readonly signal: AbortSignal;
  readonly progress: (text: string) => void;
  readonly pollMs?: number;
}

export function describeProgress(s: RolloutView): string {
  const next =
    s.nextAnalysisInMs === null ? '' : `, next analysis in ${Math.ceil(s.nextAnalysisInMs / 1000)}s`;
  const last = s.analyses[0] ? `, last analysis ${s.analyses[0].outcome}` : '';
  return `${s.service} ${s.state} at ${s.weight}% (step ${s.step}/${s.steps.length})${next}${last}`;
}

async function pause(admin: Admin, service: string, reason: string): Promise<boolean> {
  try {
    await adminRequest(admin.url, admin.token, 'POST', `${path(service)}/pause`, { reason });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the rollout (or picks up one already running or paused for this service) and polls it until it
 * ends. Ctrl-C or the timeout pause it: the candidate keeps its current share, nothing is abandoned.
 */
export async function driveRollout(o: DriveOptions): Promise<RolloutEnd> {
  const started = Date.now();
  const { admin, service } = o;
  const pollMs = o.pollMs ?? 500;
  const deadline = started + o.params.timeout;
  let lastSeen: RolloutView | null = null;
  let failingSince: number | null = null;
  // Whether our start (or resume) is known to have been accepted. A start whose answer was lost on the
  // way is settled by the next status read: running means it was taken.
  let kicked = false;
  for (;;) {
    let status: RolloutView;
    try {
      status = (await adminRequest(admin.url, admin.token, 'GET', path(service))) as RolloutView;
      if (!kicked) {
        if (status.state === 'paused') {
          await adminRequest(admin.url, admin.token, 'POST', `${path(service)}/resume`, {
            reason: 'resumed by acgs-gateway pipeline',
          });
        } else if (!status.active) {
          await adminRequest(
            admin.url,
            admin.token,
            'POST',
            path(service),
            rolloutBody(o.params, 'acgs-gateway pipeline'),
          );
        }
        kicked = true;
        continue;
      }
      failingSince = null;
    } catch (error) {
      // The API answering "no" is an answer (bad token, 409): the step fails with it.
      if (error instanceof AdminError) throw error;
      // A blip (a replica restarting) is ridden out; an admin plane gone for good ends the watch, and the
      // rollout goes on in the gateway, which needs no watcher to promote or roll back.
      failingSince ??= Date.now();
      const gone = Date.now() - failingSince;
      o.progress(
        `${service}: admin API not answering for ${Math.round(gone / 1000)}s (${(error as Error).message})`,
      );
      if (gone >= LOST_AFTER_MS || o.signal.aborted)
        return { kind: 'lost', status: lastSeen, ms: Date.now() - started, error: (error as Error).message };
      await sleep(pollMs, undefined, { signal: o.signal }).catch(() => {});
      continue;
    }
    lastSeen = status;
    o.progress(describeProgress(status));
    const ms = Date.now() - started;
    if (!status.active || status.state === 'paused') {
      if (status.state === 'promoted') return { kind: 'promoted', status, ms };
      if (status.state === 'rolled_back' || status.state === 'aborted' || status.state === 'paused')
        return { kind: status.state, status, ms };
      // Idle right after a start cannot happen; anything else is treated as not promoted.
      return { kind: 'aborted', status, ms };
    }
    if (o.signal.aborted || Date.now() > deadline) {
      const kind = o.signal.aborted ? 'interrupted' : 'timeout';
      const reason = kind === 'interrupted' ? 'pipeline interrupted (Ctrl-C)' : 'pipeline step timed out';
      const pausedOk = await pause(admin, service, reason);
      const after = (await adminRequest(admin.url, admin.token, 'GET', path(service)).catch(
        () => status,
      )) as RolloutView;
      return { kind, status: after, ms: Date.now() - started, pausedOk };
    }
    await sleep(pollMs, undefined, { signal: o.signal }).catch(() => {});
  }
}
